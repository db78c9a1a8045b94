"""What the order, appeal, shopping-session and blacklist pages share: read-only lists whose rows
change only through the order services, another merchant's row as a plain 404, and one page for
the confirmations and small forms of the staff buttons."""

from __future__ import annotations

from typing import Any, NoReturn

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline

from openvend.consoles.admin.base import ConsoleModelAdmin

ACTION_PAGE = "consoles/orders/action_page.html"


class NotFoundAdmin(ConsoleModelAdmin):
    """Another merchant's row is a plain 404, like a missing one (the admin would redirect)."""

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> NoReturn:
        raise Http404

    def _change_url(self, obj: Any) -> str:
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])

    def _back(self, obj: Any) -> HttpResponse:
        return HttpResponseRedirect(self._change_url(obj))

    def _page(self, request: HttpRequest, title: Any, obj: Any, **extra: Any) -> TemplateResponse:
        """A confirmation (or a small form) for one button; the POST is what acts."""
        status = extra.pop("status", 200)
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "original": obj,
            "back_url": extra.pop("back_url", None) or self._change_url(obj),
            "submit_label": extra.pop("submit_label", _("Confirm")),
            **extra,
        }
        return TemplateResponse(request, ACTION_PAGE, context, status=status)


class ReadOnlyAdmin(NotFoundAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    # Rows of an order or session have no permissions of their own: whoever sees the parent sees them.
    view_permission = "orders.view_order"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm(self.view_permission))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
