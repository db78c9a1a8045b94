"""Console pages of the product library beyond lists and forms: the Excel import (preview, then
confirm), the platform library merchants adopt from, and the review decision form."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from openvend.catalog import library_selectors as selectors
from openvend.catalog import library_services as library
from openvend.catalog.imports import products_import
from openvend.catalog.models import Product, ProductApplication
from openvend.core.errors import OpenVendError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
SESSION_KEY = "catalog_import"


def yuan(fen: int | None) -> str:
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _context(model_admin: Any, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "changelist_url": reverse(f"{model_admin.admin_site.name}:catalog_product_changelist"),
        **extra,
    }


# ---------------------------------------------------------------------------------------------
# Excel import: upload → dry-run preview → confirm
# ---------------------------------------------------------------------------------------------


def _store_upload(request: HttpRequest, name: str, file_format: str, data: bytes) -> str:
    # The preview's file waits in the session for the confirm step, so it is not uploaded twice
    # and nobody else can confirm it.
    token = uuid.uuid4().hex
    request.session[SESSION_KEY] = {
        "token": token,
        "name": name,
        "format": file_format,
        "data": base64.b64encode(data).decode("ascii"),
    }
    return token


def _preview(request: HttpRequest, merchant: Any) -> dict[str, Any]:
    upload = request.FILES.get("file")
    if upload is None:
        return {"failure": _("Choose an Excel file (.xlsx) to upload.")}
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        return {"failure": _("The file is larger than 5 MB; split it.")}
    name = upload.name or "products.xlsx"
    file_format = "csv" if name.lower().endswith(".csv") else "xlsx"
    data = upload.read()
    result = products_import(
        actor=request.user, merchant=merchant, file_bytes=data, file_format=file_format, dry_run=True
    )
    token = _store_upload(request, name, file_format, data) if not result.has_errors else ""
    return {"result": result, "token": token, "file_name": name}


def _confirm(request: HttpRequest, merchant: Any) -> dict[str, Any] | None:
    stored = request.session.get(SESSION_KEY) or {}
    if not stored or stored.get("token") != request.POST.get("token"):
        return {"failure": _("This preview has expired; upload the file again.")}
    result = products_import(
        actor=request.user,
        merchant=merchant,
        file_bytes=base64.b64decode(stored["data"]),
        file_format=stored["format"],
        dry_run=False,
    )
    if not result.saved:
        return {"result": result, "token": "", "file_name": stored["name"]}
    request.session.pop(SESSION_KEY, None)
    totals = result.totals
    messages.success(
        request,
        _("Imported %(name)s: %(new)d new, %(update)d updated, %(unchanged)d unchanged.")
        % {"name": stored["name"], **totals},
    )
    return None


def import_page(model_admin: Any, request: HttpRequest) -> HttpResponse:
    merchant = getattr(request.user, "merchant", None)
    outcome: dict[str, Any] = {}
    if request.method == "POST":
        try:
            if request.POST.get("step") == "confirm":
                confirmed = _confirm(request, merchant)
                if confirmed is None:
                    return HttpResponseRedirect(
                        reverse(f"{model_admin.admin_site.name}:catalog_product_changelist")
                    )
                outcome = confirmed
            else:
                outcome = _preview(request, merchant)
        except OpenVendError as exc:
            outcome = {"failure": exc.message}
    template = "consoles/catalog/import_result.html" if request.htmx else "consoles/catalog/import.html"  # type: ignore[attr-defined]
    context = _context(model_admin, request, _("Import products from Excel"), **outcome)
    return TemplateResponse(request, template, context)


# ---------------------------------------------------------------------------------------------
# Platform library (merchant console)
# ---------------------------------------------------------------------------------------------


def _adopt(model_admin: Any, request: HttpRequest) -> None:
    user: Any = request.user
    if not user.has_perm("catalog.add_product"):
        raise PermissionDenied
    try:
        source = selectors.platform_product(user, request.POST.get("product"))
    except (Product.DoesNotExist, ValueError):
        messages.error(request, _("That product is not in the platform library."))
        return
    try:
        copy = library.product_adopt(actor=user, merchant=user.merchant, source=source)
    except (OpenVendError, ValidationError) as exc:
        messages.error(request, getattr(exc, "message", None) or " ".join(getattr(exc, "messages", [])))
        return
    messages.success(
        request, _("%(name)s is now in your library (SKU %(sku)s).") % {"name": copy.name, "sku": copy.sku}
    )


def platform_library_page(model_admin: Any, request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        _adopt(model_admin, request)
        return HttpResponseRedirect(request.get_full_path())
    query = request.GET.get("q", "").strip()
    products = selectors.platform_library(request.user)
    if query:
        products = products.filter(
            Q(sku__icontains=query) | Q(name__icontains=query) | Q(barcode__icontains=query)
        )
    page = Paginator(products, 50).get_page(request.GET.get("p"))
    context = _context(
        model_admin,
        request,
        _("Platform library"),
        page=page,
        query=query,
        can_adopt=request.user.has_perm("catalog.add_product"),
    )
    return TemplateResponse(request, "consoles/catalog/platform_library.html", context)


# ---------------------------------------------------------------------------------------------
# Review decision (platform console)
# ---------------------------------------------------------------------------------------------


def decision_page(
    model_admin: Any, request: HttpRequest, application: ProductApplication, *, approve: bool
) -> HttpResponse:
    title = _("Approve application") if approve else _("Reject application")
    context = _context(
        model_admin,
        request,
        title,
        application=application,
        approve=approve,
        back_url=reverse(
            f"{model_admin.admin_site.name}:catalog_productapplication_change", args=[application.pk]
        ),
    )
    return TemplateResponse(request, "consoles/catalog/decision.html", context)
