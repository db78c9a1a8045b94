"""Phone pages under /m/: free replenishment (自由补货) and pick lists for replenishers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from openvend.catalog.models import Product
from openvend.core.errors import OpenVendError
from openvend.devices.models import Device
from openvend.inventory import replenishment_selectors as selectors
from openvend.inventory import restock_services as restock
from openvend.inventory.models import ReplenishmentOrder, RestockLine, RestockSession
from openvend.inventory.restock_rules import may_act_on_restock, may_restock

LOGIN = "mobile:login"
TIMELINE_LENGTH = 6


def _require(user: Any, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


@login_required(login_url=LOGIN)
def restock_home(request: HttpRequest) -> HttpResponse:
    """My open orders and my pick list (what to load into the van)."""
    user: Any = request.user
    _require(user, "inventory.view_replenishmentorder")
    orders = selectors.open_orders(ReplenishmentOrder.objects.restrict(user, "view"), assignee=user)
    picks = selectors.pick_list(orders)
    sessions = (
        RestockSession.objects.restrict(user, "view")
        .filter(replenisher=user, state__in=selectors.LIVE_RESTOCK_STATES)
        .select_related("device")
    )
    # Without scanning (a worn QR, a dark corner): the devices this replenisher may open to restock.
    devices: Any = []
    if user.has_perm("inventory.add_restocksession"):
        scoped = Device.objects.restrict(user, "view").select_related("site", "kind")
        devices = scoped.order_by("site__name", "code")[:100]
    return render(
        request,
        "mobile/restock/home.html",
        {"orders": list(orders), "picks": picks, "sessions": sessions, "devices": devices},
    )


def _device_for(request: HttpRequest, device_id: int) -> Device:
    user: Any = request.user
    _require(user, "inventory.view_restocksession")
    return get_object_or_404(
        Device.objects.restrict(user, "view").select_related("kind", "site", "state"), pk=device_id
    )


def _context(request: HttpRequest, device: Device) -> dict[str, Any]:
    user: Any = request.user
    session = selectors.live_restock_session(device)
    mine = session is not None and session.replenisher_id == user.pk
    # A supervisor may act on someone else's session (the same rule as the API's).
    may_act = session is not None and may_act_on_restock(user, session)
    orders = selectors.open_orders(ReplenishmentOrder.objects.restrict(user, "view"), assignee=user).filter(
        device=device
    )
    return {
        "device": device,
        "session": session,
        "mine": mine,
        "may_act": may_act,
        "lines": list(session.lines.select_related("product")) if session and may_act else [],
        "may_start": session is None and may_restock(user, device),
        "orders": list(orders),
        "has_camera": device.kind.has_camera,
        "command": session.command if session else None,
        "timeline": _timeline(session) if session and may_act else [],
    }


def _timeline(session: RestockSession) -> list[Any]:
    """The visit so far, in short: its last few events, oldest first."""
    return list(session.events.order_by("-id")[:TIMELINE_LENGTH])[::-1]


@login_required(login_url=LOGIN)
def restock_device(request: HttpRequest, device_id: int) -> HttpResponse:
    """Start free replenishment (the door opens), follow the door, count, photograph, complete."""
    device = _device_for(request, device_id)
    if request.method == "POST":
        _act(request, device, request.POST.get("action", ""))
        return HttpResponseRedirect(reverse("mobile:restock-device", args=[device.pk]))
    template = "mobile/restock/_session.html" if request.htmx else "mobile/restock/device.html"  # type: ignore[attr-defined]
    return render(request, template, _context(request, device))


def _my_session(request: HttpRequest, device: Device) -> RestockSession:
    """The device's live session, if the user may act on it (its replenisher or a supervisor)."""
    session = selectors.live_restock_session(device)
    if session is None or not may_act_on_restock(request.user, session):
        raise PermissionDenied
    return session


def _act(request: HttpRequest, device: Device, what: str) -> None:
    user: Any = request.user
    try:
        if what == "start":
            order_id = request.POST.get("order") or None
            order = (
                get_object_or_404(ReplenishmentOrder.objects.restrict(user, "view"), pk=order_id)
                if order_id
                else None
            )
            restock.restock_start(actor=user, device=device, order=order)
            messages.success(request, _("The door is opening. Restock, then close the door."))
        elif what == "close":
            restock.restock_door_closed(actor=user, session=_my_session(request, device))
        elif what == "complete":
            result = restock.restock_complete(actor=user, session=_my_session(request, device))
            messages.success(
                request,
                _("Restock completed: %(count)d product(s) posted.") % {"count": len(result.movements)},
            )
        elif what == "cancel":
            restock.restock_cancel(actor=user, session=_my_session(request, device))
            messages.info(request, _("Restock cancelled; nothing was posted."))
    except OpenVendError as exc:
        messages.error(request, exc.message)


@login_required(login_url=LOGIN)
@require_POST
def restock_count(request: HttpRequest, device_id: int) -> HttpResponse:
    """HTMX: save one product's count and answer with its row."""
    device = _device_for(request, device_id)
    session = _my_session(request, device)
    product = get_object_or_404(
        Product.objects.filter(merchant_id=device.merchant_id), pk=request.POST.get("product")
    )
    raw = request.POST.get("counted", "").strip()
    lane_raw = request.POST.get("lane", "0").strip()
    error = ""
    line = session.lines.filter(product=product, lane=int(lane_raw) if lane_raw.isdigit() else -1).first()
    try:
        counted = int(raw) if raw else None
        line = restock.restock_count(
            actor=request.user, session=session, product=product, lane=int(lane_raw or 0), counted=counted
        )
    except ValueError:
        error = _("A count is a whole number ≥ 0.")
    except OpenVendError as exc:
        error = exc.message
    if line is None:  # nothing saved yet: show the row as it was
        line = RestockLine(session=session, product=product, lane=int(lane_raw) if lane_raw.isdigit() else 0)
    status = 400 if error else 200
    return render(
        request,
        "mobile/restock/_line.html",
        {"line": line, "device": device, "error": error, "raw": raw},
        status=status,
    )


@login_required(login_url=LOGIN)
@require_POST
def restock_photo(request: HttpRequest, device_id: int) -> HttpResponse:
    device = _device_for(request, device_id)
    session = _my_session(request, device)
    photo = request.FILES.get("photo")
    if photo is None:
        messages.error(request, _("Choose a photo first."))
    else:
        try:
            restock.restock_photo_upload(actor=request.user, session=session, photo=photo)
            messages.success(request, _("Photo saved."))
        except OpenVendError as exc:
            messages.error(request, exc.message)
    return HttpResponseRedirect(reverse("mobile:restock-device", args=[device.pk]))


urlpatterns: list[URLPattern] = [
    path("restock/", restock_home, name="restock-home"),
    path("restock/device/<int:device_id>/", restock_device, name="restock-device"),
    path("restock/device/<int:device_id>/count/", restock_count, name="restock-count"),
    path("restock/device/<int:device_id>/photo/", restock_photo, name="restock-photo"),
]
