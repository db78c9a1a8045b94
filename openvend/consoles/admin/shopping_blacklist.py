"""Console page: the merchant's blacklist of shoppers, added by hand (a shopper who has shopped here)
or by a rule, and lifted with a button. Entries change only through the blacklist services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action

from openvend.consoles.admin.base import register
from openvend.consoles.admin.orders_base import NotFoundAdmin
from openvend.consoles.sites import merchant_console
from openvend.consumers.models import Consumer
from openvend.core.errors import OpenVendError
from openvend.shopping.blacklist_services import blacklist_add, blacklist_lift
from openvend.shopping.models import BlacklistEntry


class BlacklistAddForm(forms.Form):
    """Staff add a shopper by hand: one who has shopped at this merchant."""

    consumer = forms.ModelChoiceField(label=_("consumer"), queryset=Consumer.objects.none())
    reason = forms.CharField(label=_("reason"), max_length=200)
    until = forms.DateTimeField(
        label=_("until"), required=False, help_text=_("Empty: until staff lift it. E.g. 2030-12-31 18:00.")
    )

    def __init__(self, *args: Any, merchant_id: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["consumer"].queryset = Consumer.objects.filter(orders__merchant_id=merchant_id).distinct()


@register(BlacklistEntry, merchant_console)
class BlacklistEntryAdmin(NotFoundAdmin):
    list_display = ["consumer", "reason", "source", "active", "until", "created_by", "created_at"]
    list_filter = ["active", "source", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["consumer__nickname", "consumer__phone", "reason"]
    list_select_related = ["consumer", "created_by"]
    readonly_fields = ["consumer", "reason", "source", "active", "until", "rule", "created_by", "created_at"]
    fields = readonly_fields
    actions_detail = ["lift"]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """The add page is the service's form: its refusals (already blacklisted, an end in the past)
        show on the form, nothing saved."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        user: Any = request.user
        form = BlacklistAddForm(request.POST or None, merchant_id=user.merchant_id)
        if request.method == "POST" and form.is_valid():
            try:
                blacklist_add(actor=user, merchant=user.merchant, **form.cleaned_data)
            except OpenVendError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, _("The shopper is blacklisted."), messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse(f"{self.admin_site.name}:shopping_blacklistentry_changelist")
                )
        changelist = reverse(f"{self.admin_site.name}:shopping_blacklistentry_changelist")
        return self._page(
            request, _("Blacklist a shopper"), None, form=form, back_url=changelist, submit_label=_("Save")
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an entry is lifted with its button, never edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_lift_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return bool(request.user.has_perm("shopping.change_blacklistentry"))

    @action(description=_("Lift"), url_path="lift", permissions=["lift"])
    def lift(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        entry = get_object_or_404(self.get_queryset(request), pk=object_id)
        if request.method == "POST":
            try:
                blacklist_lift(actor=request.user, entry=entry)
            except OpenVendError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, _("The shopper may shop again."), messages.SUCCESS)
            return self._back(entry)
        return self._page(
            request,
            _("Lift this blacklist entry?"),
            entry,
            facts=[(_("consumer"), entry.consumer), (_("reason"), entry.reason), (_("until"), entry.until)],
            submit_label=_("Lift"),
        )
