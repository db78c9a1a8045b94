"""Phone-sized pages for staff on the move. Later capabilities add their pages under /m/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from openvend.consoles.sites import MerchantLoginForm
from openvend.merchants.models import Site


class MobileLoginView(LoginView):
    template_name = "mobile/login.html"
    authentication_form = MerchantLoginForm
    redirect_authenticated_user = True
    next_page = "mobile:home"


@login_required(login_url="mobile:login")
def home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    sites = Site.objects.restrict(user, "view").select_related("org_unit")[:50]
    roles = [role.display_name for role in user.roles.all()]
    return render(request, "mobile/home.html", {"sites": sites, "roles": roles})


def scan(request: HttpRequest, token: str) -> HttpResponse:
    """Where a device's QR code leads. A forged or altered code is refused; the shopping flow
    itself (authorise, open, pay) is served from here."""
    from openvend.core.errors import OpenVendError
    from openvend.devices.models import Device
    from openvend.devices.services import device_qr_verify

    try:
        code, flow = device_qr_verify(token)
    except OpenVendError as exc:
        return render(request, "mobile/scan.html", {"error": exc.message}, status=400)
    device = Device.objects.select_related("site", "state", "merchant").filter(code=code).first()
    if device is None:
        return render(request, "mobile/scan.html", {"error": _("This device is not in service.")}, status=404)
    if not request.user.is_authenticated:  # a shopper: on to the merchant's shopping page
        return redirect("mobile:consumer:scan", device.merchant.code, token)
    return render(
        request,
        "mobile/scan.html",
        {"device": device, "flow": flow, "may_restock": _may_restock(request, device)},
    )


def _may_restock(request: HttpRequest, device: Any) -> bool:
    """Staff signed in here who may restock this device get the restock flow from the same QR."""
    from openvend.inventory.restock_rules import may_restock

    user: Any = request.user
    return bool(user.is_authenticated and may_restock(user, device))


@login_required(login_url="mobile:login")
def activate_device(request: HttpRequest) -> HttpResponse:
    """Staff activate a cabinet on site: scan its QR (which opens this page with ?code=) or type
    the code, choose the site, and get the broker credentials to enter into the cabinet once."""
    from django.core.exceptions import PermissionDenied

    from openvend.core.errors import OpenVendError
    from openvend.devices.services import device_activate

    user: Any = request.user
    if user.merchant is None or not user.has_perm("devices.add_device"):
        raise PermissionDenied
    sites = list(Site.objects.restrict(user, "view").order_by("name"))
    context: dict[str, Any] = {"sites": sites, "code": request.GET.get("code", "").strip()}
    if request.method == "POST":
        context["code"] = request.POST.get("code", "").strip()
        site = next((s for s in sites if str(s.pk) == request.POST.get("site")), None)
        try:
            device, secret = device_activate(
                actor=user,
                merchant=user.merchant,
                code=context["code"],
                name=request.POST.get("name", ""),
                site=site,
            )
        except OpenVendError as exc:
            context["error"] = exc.message
            return render(request, "mobile/activate.html", context, status=400)
        context.update(device=device, secret=secret)
    return render(request, "mobile/activate.html", context)
