"""What the payment configuration pages share: write-only secrets shown as "configured" with a
fingerprint, another merchant's row as a plain 404, writes left to the services, and one page
template for confirmations and small forms."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from openvend.consoles.admin.base import ConsoleModelAdmin

FORM_PAGE = "consoles/payment_config/form_page.html"


def secret_state(stored: str, fingerprint: str = "") -> Any:
    if not stored:
        return _("not set")
    if fingerprint:
        return format_html('{} <span class="font-mono text-xs">{}</span>', _("configured ✓"), fingerprint)
    return _("configured ✓")


class PaymentConsoleAdmin(ConsoleModelAdmin):
    """Shared by these pages: another merchant's row is a plain 404 (the admin's default would
    redirect with "does not exist"), and writes are the services' (they audit and re-check)."""

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> NoReturn:
        raise Http404

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")  # a gateway address typed without a scheme
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None

    @staticmethod
    def _adopt(obj: Any, saved: Any) -> None:
        """The admin goes on with its own instance (change message, redirect): give it the saved row."""
        for field in saved._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def _change_url(self, obj: Any) -> str:
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])

    def _page(self, request: HttpRequest, title: Any, back_url: str, **extra: Any) -> TemplateResponse:
        status = extra.pop("status", 200)
        request.current_app = self.admin_site.name  # admin URLs in the page resolve on this console
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "back_url": back_url,
            "submit_label": extra.pop("submit_label", _("Save")),
            **extra,
        }
        return TemplateResponse(request, FORM_PAGE, context, status=status)
