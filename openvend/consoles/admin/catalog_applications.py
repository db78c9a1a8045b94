"""Console pages for new-product applications (申请新品): merchants apply and follow their
applications; platform reviewers approve or reject them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.decorators import action, display

from openvend.catalog import application_services as applications
from openvend.catalog.application_services import APPLICATION_FIELDS, REVIEW_FIELDS
from openvend.catalog.choices import ApplicationStatus
from openvend.catalog.models import ProductApplication
from openvend.consoles.admin import catalog_pages
from openvend.consoles.admin.base import ConsoleModelAdmin, is_platform, register
from openvend.consoles.admin.catalog_pages import yuan
from openvend.consoles.sites import merchant_console, platform_console
from openvend.core.errors import OpenVendError

APPLICATION_COLOURS = {
    ApplicationStatus.PENDING: "info",
    ApplicationStatus.APPROVED: "success",
    ApplicationStatus.REJECTED: "danger",
}


@register(ProductApplication, platform_console, merchant_console)
class ProductApplicationAdmin(ConsoleModelAdmin):
    """Merchants apply for new platform products (申请新品); platform reviewers decide."""

    list_display = ["created_at", "sku", "name", "status_badge", "suggested_price", "reviewed_at", "product"]
    list_filter = ["status"]
    search_fields = ["sku", "name", "barcode"]
    readonly_fields = list(REVIEW_FIELDS)
    fields = [*APPLICATION_FIELDS, *REVIEW_FIELDS]
    actions = ["approve_selected"]
    actions_detail = ["approve", "reject"]

    @display(description=_("status"), label=APPLICATION_COLOURS)
    def status_badge(self, obj: ProductApplication) -> Any:
        return obj.status, obj.get_status_display()

    @display(description=_("suggested price"))
    def suggested_price(self, obj: ProductApplication) -> str:
        return yuan(obj.suggested_price_fen)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:  # the application form: only what the merchant fills in
            return [f for f in self.fields if f not in self.readonly_fields]
        return self.fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not is_platform(self.admin_site) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # decided by the review actions, never edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return is_platform(self.admin_site) and bool(
            request.user.has_perm("catalog.review_productapplication")
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = {
            name: form.cleaned_data[name]
            for name in applications.APPLICATION_FIELDS
            if name in form.cleaned_data
        }
        created = applications.application_create(actor=request.user, merchant=request.user.merchant, **data)  # type: ignore[union-attr]
        obj.pk = obj.id = created.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None

    def _decide(self, request: HttpRequest, application: ProductApplication, note: str = "") -> bool:
        try:
            applications.application_approve(actor=request.user, application=application, note=note)
        except (OpenVendError, PermissionDenied, ValidationError) as exc:
            text = getattr(exc, "message", None) or " ".join(getattr(exc, "messages", [str(exc)]))
            self.message_user(request, f"{application}: {text}", messages.ERROR)
            return False
        return True

    @action(description=_("Approve selected"), permissions=["review"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = sum(1 for application in queryset if self._decide(request, application))
        if done:
            self.message_user(
                request,
                ngettext("%(count)d application approved.", "%(count)d applications approved.", done)
                % {"count": done},
            )

    def _change_url(self, object_id: Any) -> str:
        return reverse(f"{self.admin_site.name}:catalog_productapplication_change", args=[object_id])

    @action(description=_("Approve"), url_path="approve", permissions=["review"])
    def approve(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        application = get_object_or_404(self.get_queryset(request), pk=object_id)
        if request.method == "POST" and self._decide(request, application, request.POST.get("note", "")):
            self.message_user(
                request, _("Approved: the product is in the platform library and the merchant's.")
            )
        elif request.method != "POST":
            return catalog_pages.decision_page(self, request, application, approve=True)
        return HttpResponseRedirect(self._change_url(object_id))

    @action(description=_("Reject"), url_path="reject", permissions=["review"])
    def reject(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        application = get_object_or_404(self.get_queryset(request), pk=object_id)
        if request.method != "POST":
            return catalog_pages.decision_page(self, request, application, approve=False)
        try:
            applications.application_reject(
                actor=request.user, application=application, note=request.POST.get("note", "")
            )
        except (OpenVendError, PermissionDenied) as exc:
            self.message_user(request, str(getattr(exc, "message", exc)), messages.ERROR)
            return catalog_pages.decision_page(self, request, application, approve=False)
        self.message_user(request, _("Application rejected."))
        return HttpResponseRedirect(self._change_url(object_id))
