from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.forms import AdminUserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminPasswordWidget

from openvend.accounts import services
from openvend.accounts.models import Role, User
from openvend.accounts.permissions import MERCHANT_MENUS, PLATFORM_MENUS, permission_label
from openvend.accounts.selectors import assignable_roles
from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["username", "first_name", "phone", "org_unit", "roles", "language"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("usable_password", None)
        for name in ("password1", "password2"):
            self.fields[name].widget = UnfoldAdminPasswordWidget(attrs={"autocomplete": "new-password"})


@register(User, platform_console, merchant_console)
class UserAdmin(ConsoleModelAdmin):
    list_display = ["username", "first_name", "org_unit", "role_list", "status_badge", "last_login"]
    list_filter = ["is_active", "roles"]
    search_fields = ["username", "first_name", "phone"]
    filter_horizontal = ["roles"]
    actions = ["freeze", "unfreeze", "reset_password"]
    fields = ["username", "first_name", "phone", "email", "org_unit", "roles", "language", "is_active"]
    readonly_fields = ["is_active"]

    @display(description=_("roles"))
    def role_list(self, obj: User) -> str:
        return ", ".join(role.display_name for role in obj.roles.all())

    @display(description=_("status"), label={"active": "success", "frozen": "danger"})
    def status_badge(self, obj: User) -> Any:
        return ("frozen", _("Frozen")) if obj.is_frozen else ("active", _("Active"))

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("org_unit").prefetch_related("roles")

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "roles":
            # Only roles the editor may hand out, so the console cannot be used to escalate.
            kwargs["queryset"] = assignable_roles(request.user)  # type: ignore[arg-type]
            return super(ConsoleModelAdmin, self).formfield_for_manytomany(db_field, request, **kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = UserCreateForm
            kwargs["fields"] = [*UserCreateForm.Meta.fields, "password1", "password2"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            fields = [*UserCreateForm.Meta.fields, "password1", "password2"]
            return ["merchant", *fields] if is_platform(self.admin_site) else fields
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def _each(self, request: HttpRequest, queryset: QuerySet, fn: Any, done_message: Any) -> None:
        for user in queryset:
            try:
                result = fn(user)
            except OpenVendError as exc:
                self.message_user(request, f"{user}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, done_message(user, result))

    @action(description=_("Freeze"), permissions=["freeze"])
    def freeze(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            lambda u: services.user_freeze(actor=request.user, user=u),
            lambda u, _r: _("%(user)s is frozen.") % {"user": u},
        )

    @action(description=_("Unfreeze"), permissions=["freeze"])
    def unfreeze(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            lambda u: services.user_unfreeze(actor=request.user, user=u),
            lambda u, _r: _("%(user)s is active again.") % {"user": u},
        )

    @action(description=_("Reset password"), permissions=["reset_password"])
    def reset_password(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            lambda u: services.user_reset_password(actor=request.user, user=u),
            lambda u, pw: _("New password for %(user)s: %(password)s") % {"user": u, "password": pw},
        )

    def has_freeze_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.freeze_user")

    def has_reset_password_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.reset_password_user")


class RoleForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(
        label=_("permissions"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Role
        fields = ["code", "name", "data_scope", "permissions", "org_units", "sites", "device_groups"]

    def __init__(self, *args: Any, for_platform: bool = False, actor: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        menus = PLATFORM_MENUS if for_platform else MERCHANT_MENUS
        # Offer only what the editor holds: nobody grants more than they have.
        held = actor.get_all_permissions() if actor is not None and not actor.is_superuser else None
        permissions = self.fields["permissions"]
        assert isinstance(permissions, forms.MultipleChoiceField)
        permissions.choices = [
            (str(menu.label), [(c, permission_label(c)) for c in menu.all_codes if held is None or c in held])
            for menu in menus
        ]


@register(Role, platform_console, merchant_console)
class RoleAdmin(ConsoleModelAdmin):
    form = RoleForm
    list_display = ["display_name", "code", "data_scope", "is_preset", "permission_count"]
    list_filter = ["data_scope", "is_preset"]
    search_fields = ["name", "code"]
    filter_horizontal = ["org_units", "sites", "device_groups"]

    @display(description=_("permissions"))
    def permission_count(self, obj: Role) -> int:
        return len(obj.permissions)

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        # Platform roles have no merchant; merchant roles get the caller's.
        return ["merchant"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        for_platform = is_platform(self.admin_site) and (obj is None or obj.merchant_id is None)

        class ScopedRoleForm(form_class):  # type: ignore[misc, valid-type]
            def __init__(self, *a: Any, **kw: Any) -> None:
                super().__init__(*a, for_platform=for_platform, actor=request.user, **kw)

        return ScopedRoleForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.merchant_id = getattr(request.user, "merchant_id", None)
        # The form only offers codes valid for this kind of role.
        obj.permissions = sorted(form.cleaned_data.get("permissions", []))
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_preset)
