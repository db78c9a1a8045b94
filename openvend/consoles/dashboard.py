"""Home pages of the two consoles: the counts an operator checks first thing in the morning."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

from openvend.accounts.models import User
from openvend.audit.models import AuditLogEntry
from openvend.audit.selectors import activity_by_day
from openvend.core.models import permission_name
from openvend.devices.selectors import fleet_counts
from openvend.inventory.health import HEALTH_KEYS, stock_health, waiting_work
from openvend.merchants.choices import MerchantStatus
from openvend.merchants.models import DeviceGroup, Merchant, OrgUnit, Site


def _recent_audit(request: HttpRequest) -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.restrict(request.user, "view")[:8])


def _activity_chart(request: HttpRequest) -> dict[str, Any]:
    series = activity_by_day(request.user, days=14)
    return {
        "days": [row["day"][5:] for row in series],
        "series": [
            {"name": _("Logins"), "data": [row["logins"] for row in series]},
            {"name": _("Failed logins"), "data": [row["failed"] for row in series]},
            {"name": _("Changes"), "data": [row["changes"] for row in series]},
        ],
    }


def _stock_chart(health: dict[str, int]) -> list[dict[str, Any]]:
    labels = {
        "full": _("At or above par"),
        "below_par": _("Below par"),
        "empty": _("Empty"),
        "oversold": _("Oversold (check stock)"),
    }
    return [{"name": labels[key], "value": health[key], "key": key} for key in HEALTH_KEYS]


def merchant_dashboard(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    user: Any = request.user
    counted: list[tuple[str, Any]] = [
        (_("Sites"), Site),
        (_("Org units"), OrgUnit),
        (_("Device groups"), DeviceGroup),
        (_("Staff"), User),
    ]
    kpis = []
    if user.has_perm("devices.view_device"):
        fleet = fleet_counts(user)
        kpis += [
            {"title": _("Devices online"), "value": fleet["online"]},
            {"title": _("Devices offline"), "value": fleet["offline"]},
            {"title": _("Devices with alarms"), "value": fleet["abnormal"]},
        ]
    health = None
    if user.has_perm("inventory.view_stocklevel"):
        health = stock_health(user)
        waiting = waiting_work(user)
        kpis += [
            {"title": _("Positions empty"), "value": health["empty"]},
            {"title": _("Positions below par"), "value": health["below_par"]},
        ]
        if user.has_perm("inventory.approve_stocktake"):
            kpis.append({"title": _("Stock-takes to approve"), "value": waiting["stocktakes_to_approve"]})
        if user.has_perm("inventory.view_replenishmentorder"):
            kpis.append({"title": _("Open replenishment orders"), "value": waiting["open_orders"]})
    # Only what the user may see: a zero for a list they cannot open would mislead.
    kpis += [
        {"title": title, "value": model.objects.restrict(user).count()}
        for title, model in counted
        if user.has_perm(permission_name(model, "view"))
    ]
    context.update(
        {
            "kpis": kpis,
            "recent_audit": _recent_audit(request),
            "activity_chart": _activity_chart(request),
            "merchant": user.merchant,
            "stock_chart": _stock_chart(health) if health is not None else None,
        }
    )
    return context


def platform_dashboard(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    user: Any = request.user
    merchants = Merchant.objects.restrict(user)
    by_status = [
        (str(label), merchants.filter(status=status).count()) for status, label in MerchantStatus.choices
    ]
    context.update(
        {
            "kpis": [{"title": label, "value": count} for label, count in by_status],
            "status_chart": [{"name": label, "value": count} for label, count in by_status],
            "recent_audit": _recent_audit(request),
            "activity_chart": _activity_chart(request),
        }
    )
    return context
