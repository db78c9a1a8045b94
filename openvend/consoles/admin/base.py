"""What every console list and form shares: scoped querysets, scoped choices, the merchant
filled in for merchant staff, audited saves, and the re-check that a save stays in scope."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.admin import AdminSite, RelatedOnlyFieldListFilter
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from openvend.audit.choices import AuditAction
from openvend.audit.services import audit_record, audited_delete, ensure_still_visible, snapshot


def is_platform(site: AdminSite) -> bool:
    return bool(getattr(site, "is_platform", False))


class ConsoleModelAdmin(ModelAdmin):
    """Base admin: every queryset goes through `restrict()`, so another tenant's id is 'not found'."""

    merchant_field: str | None = "merchant"
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        qs = self.model._default_manager.restrict(request.user, "view")
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if self.merchant_field and (not is_platform(self.admin_site) or obj is not None):
            exclude.append(self.merchant_field)
        return exclude

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))
        if is_platform(self.admin_site) and self.merchant_field and self.merchant_field not in columns:
            columns.insert(1, self.merchant_field)
        return columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if is_platform(self.admin_site) and self.merchant_field:
            filters.insert(0, self.merchant_field)
        return [self._scoped_filter(entry) for entry in filters]

    def _scoped_filter(self, entry: Any) -> Any:
        """A plain relation filter would list every merchant's rows (their site names, products…):
        offer only the related rows of what this user's list holds."""
        if not isinstance(entry, str):
            return entry
        try:
            field = get_fields_from_path(self.model, entry)[-1]
        except (FieldDoesNotExist, NotRelationField):
            return entry
        return (entry, RelatedOnlyFieldListFilter) if field.is_relation else entry

    def _scoped(self, db_field: models.Field, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        manager: Any = cast(Any, db_field.related_model)._default_manager
        if hasattr(manager, "restrict"):
            kwargs["queryset"] = manager.restrict(request.user, "view")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scoped(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scoped(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The admin's change view runs in one transaction: the audit row and the re-check in
        # save_related commit or roll back together with this save.
        if not change and self.merchant_field and not is_platform(self.admin_site):
            setattr(obj, f"{self.merchant_field}_id", getattr(request.user, "merchant_id", None))
        obj._audit_before = snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        ensure_still_visible(actor=request.user, instance=obj, action="change" if change else "add")
        after = snapshot(obj)
        before = getattr(obj, "_audit_before", None)
        if not change:
            audit_record(actor=request.user, action=AuditAction.CREATE, instance=obj, after=after)
        elif before != after:
            audit_record(
                actor=request.user, action=AuditAction.UPDATE, instance=obj, before=before, after=after
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audited_delete(actor=request.user, instance=obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for obj in queryset:
            audited_delete(actor=request.user, instance=obj)


def register(model: type[models.Model], *sites: AdminSite) -> Any:
    """Register one admin class on several consoles."""

    def wrap(admin_class: type[ModelAdmin]) -> type[ModelAdmin]:
        for site in sites:
            site.register(model, admin_class)
        return admin_class

    return wrap
