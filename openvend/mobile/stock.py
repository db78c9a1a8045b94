"""Phone pages under /m/: stock-taking by scan (扫码盘点).

A replenisher picks a device in their scope, starts (or continues) its count, scans each unit with
a USB/Bluetooth scanner (which types the code and presses Enter) or the phone camera, adjusts lines
with +/− or a typed figure, and submits the count for approval. Scans and line edits go over HTMX
and answer with the refreshed lines."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from openvend.core.errors import OpenVendError
from openvend.devices.models import Device
from openvend.inventory import selectors, stocktake_services
from openvend.inventory.choices import StockTakeState
from openvend.inventory.models import StockTake, StockTakeLine
from openvend.inventory.movement_services import allowed_lanes


def _require(user: Any, permission: str) -> None:
    if user.merchant_id is None or not user.has_perm(permission):
        raise PermissionDenied


def _take_for(request: HttpRequest, take_id: int) -> StockTake:
    take: StockTake = get_object_or_404(
        StockTake.objects.restrict(request.user, "change").select_related("device"), pk=take_id
    )
    return take


def _lines_context(take: StockTake, error: str = "", notice: str = "") -> dict[str, Any]:
    lines = list(take.lines.select_related("product").order_by("lane", "product__sku"))
    return {
        "take": take,
        "lines": lines,
        "counted_total": sum(line.counted for line in lines),
        "error": error,
        "notice": notice,
        "editable": take.state == StockTakeState.COUNTING,
    }


def _answer(request: HttpRequest, take: StockTake, error: str = "", notice: str = "") -> HttpResponse:
    """HTMX gets the refreshed lines; a plain form post goes back to the page."""
    if request.headers.get("HX-Request"):
        return render(request, "mobile/stock/_lines.html", _lines_context(take, error, notice))
    if error:
        messages.error(request, error)
    return redirect("mobile:stocktake", device_id=take.device_id)


@login_required(login_url="mobile:login")
def devices(request: HttpRequest) -> HttpResponse:
    """The devices in my scope, with the state of any count in progress."""
    _require(request.user, "inventory.view_stocktake")
    found = (
        Device.objects.restrict(request.user, "view").select_related("site").order_by("site__name", "code")
    )
    open_takes = {
        take.device_id: take
        for take in StockTake.objects.restrict(request.user, "view").filter(
            state__in=selectors.OPEN_STOCKTAKE_STATES
        )
    }
    rows = [(device, open_takes.get(device.pk)) for device in found[:200]]
    return render(request, "mobile/stock/devices.html", {"rows": rows})


@login_required(login_url="mobile:login")
def take_page(request: HttpRequest, device_id: int) -> HttpResponse:
    """Start or continue the count of one device."""
    _require(request.user, "inventory.view_stocktake")
    device = get_object_or_404(Device.objects.restrict(request.user, "view"), pk=device_id)
    if request.method == "POST":
        try:
            stocktake_services.stocktake_start(actor=request.user, device=device)
        except (OpenVendError, PermissionDenied) as exc:
            messages.error(request, getattr(exc, "message", None) or _("You may not start a count here."))
        return redirect("mobile:stocktake", device_id=device.pk)
    take = selectors.open_stocktake(device)
    visible = (
        take is not None and StockTake.objects.restrict(request.user, "view").filter(pk=take.pk).exists()
    )
    context: dict[str, Any] = {
        "device": device,
        "lanes": list(allowed_lanes(device)),
        "may_start": request.user.has_perm("inventory.add_stocktake"),
        "may_count": request.user.has_perm("inventory.change_stocktake"),
    }
    if take is not None and visible:
        context.update(_lines_context(take))
    return render(request, "mobile/stock/take.html", context)


@login_required(login_url="mobile:login")
@require_POST
def scan(request: HttpRequest, take_id: int) -> HttpResponse:
    """One scan adds one unit of the product with that barcode."""
    take = _take_for(request, take_id)
    code = request.POST.get("barcode", "").strip()
    lane_text = request.POST.get("lane", "").strip()
    try:
        line = stocktake_services.stocktake_count(
            actor=request.user,
            take=take,
            barcode_or_product=code,
            lane=int(lane_text) if lane_text.isdigit() else None,
            increment=1,
        )
    except OpenVendError as exc:
        return _answer(request, take, error=exc.message)
    notice = _("%(product)s: %(counted)s counted") % {"product": line.product.name, "counted": line.counted}
    return _answer(request, take, notice=notice)


@login_required(login_url="mobile:login")
@require_POST
def line_count(request: HttpRequest, take_id: int, line_id: int) -> HttpResponse:
    """+1, −1, or a typed figure for one line."""
    take = _take_for(request, take_id)
    line = get_object_or_404(StockTakeLine.objects.select_related("product"), pk=line_id, stock_take=take)
    step = request.POST.get("step", "")
    typed = request.POST.get("counted", "").strip()
    try:
        if step in {"1", "-1"}:
            change: dict[str, int] = {"increment": int(step)}
        elif typed.lstrip("-").isdigit():
            change = {"counted": int(typed)}
        else:
            raise OpenVendError("inventory.bad_state", _("Type a whole number."))
        stocktake_services.stocktake_count(
            actor=request.user, take=take, barcode_or_product=line.product, lane=line.lane, **change
        )
    except OpenVendError as exc:
        return _answer(request, take, error=exc.message)
    return _answer(request, take)


@login_required(login_url="mobile:login")
@require_POST
def submit(request: HttpRequest, take_id: int) -> HttpResponse:
    take = _take_for(request, take_id)
    try:
        stocktake_services.stocktake_submit(actor=request.user, take=take)
    except OpenVendError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Count submitted for approval."))
    return redirect("mobile:stocktake", device_id=take.device_id)


urlpatterns: list[URLPattern] = [
    path("stock/", devices, name="stock"),
    path("stock/<int:device_id>/take/", take_page, name="stocktake"),
    path("stock/takes/<int:take_id>/scan/", scan, name="stocktake-scan"),
    path("stock/takes/<int:take_id>/lines/<int:line_id>/", line_count, name="stocktake-line"),
    path("stock/takes/<int:take_id>/submit/", submit, name="stocktake-submit"),
]
