"""The catalogue of permissions a role can hold: menus (what a user sees in navigation)
and actions (what a user may do), grouped the way the role editor shows them.

Action permissions use Django's `app_label.action_model` form so that Django admin,
DRF and `RestrictedQuerySet.restrict()` all read the same strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

CRUD = ("view", "add", "change", "delete")


def crud(app_model: str, actions: tuple[str, ...] = CRUD) -> tuple[str, ...]:
    app, model = app_model.split(".")
    return tuple(f"{app}.{action}_{model}" for action in actions)


@dataclass(frozen=True)
class Menu:
    code: str
    label: str | Promise
    actions: tuple[str, ...]

    @property
    def all_codes(self) -> tuple[str, ...]:
        return (self.code, *self.actions)


# Both consoles manage their own staff, roles and audit log the same way.
_PEOPLE_MENUS: tuple[Menu, ...] = (
    Menu(
        "menu.staff",
        _("Staff"),
        (*crud("accounts.user"), "accounts.freeze_user", "accounts.reset_password_user"),
    ),
    Menu("menu.roles", _("Roles"), crud("accounts.role")),
    Menu("menu.audit", _("Audit log"), ("audit.view_auditlogentry",)),
)

MERCHANT_MENUS: tuple[Menu, ...] = (
    Menu("menu.dashboard", _("Dashboard"), ()),
    Menu(
        "menu.devices",
        _("Devices"),
        (
            *crud("devices.device", ("view", "add", "change")),
            "devices.command_device",
            "devices.open_door_device",
            "devices.view_devicekind",
            "devices.view_command",
        ),
    ),
    Menu(
        "menu.alarms",
        _("Alarms"),
        (*crud("devices.alarm", ("view", "change")), *crud("devices.alarmsettings", ("view", "change"))),
    ),
    Menu(
        "menu.products",
        _("Products"),
        (
            *crud("catalog.product"),
            *crud("catalog.category"),
            *crud("catalog.manufacturer"),
            *crud("catalog.productapplication", ("view", "add")),
            *crud("catalog.producttemplate"),
            *crud("catalog.sellableitem"),
        ),
    ),
    Menu(
        "menu.prices",
        _("Prices"),
        # Whether price changes wait for review is the platform's call, not the merchant's.
        (*crud("catalog.pricerule"), "catalog.view_catalogsettings"),
    ),
    Menu(
        "menu.planograms",
        _("Planograms and tracks"),
        (*crud("inventory.planogram"), *crud("inventory.track")),
    ),
    Menu(
        "menu.stock",
        _("Stock"),
        (
            *crud("inventory.stocklevel", ("view",)),
            *crud("inventory.stockmovement", ("view", "add")),
            *crud("inventory.stocktake", ("view", "add", "change")),
            "inventory.approve_stocktake",
        ),
    ),
    Menu(
        "menu.replenishment",
        _("Replenishment"),
        (
            *crud("inventory.replenishmentorder"),
            *crud("inventory.restocksession", ("view", "add", "change")),
            "inventory.supervise_restocksession",
        ),
    ),
    Menu(
        "menu.orders",
        _("Orders"),
        (
            *crud("orders.order", ("view",)),
            "orders.resolve_order",
            "orders.refund_order",
            *crud("orders.correction", ("view",)),
        ),
    ),
    Menu("menu.appeals", _("Customer appeals"), (*crud("orders.appeal", ("view",)), "orders.handle_appeal")),
    Menu(
        "menu.shopping",
        _("Shopping sessions"),
        (*crud("shopping.shoppingsession", ("view",)), *crud("shopping.shoppingevent", ("view",))),
    ),
    Menu(
        "menu.blacklist",
        _("Blacklist"),
        (*crud("shopping.blacklistentry", ("view", "add", "change")), *crud("shopping.blacklistrule")),
    ),
    Menu("menu.order_settings", _("Order settings"), crud("orders.orderpolicy", ("view", "add", "change"))),
    Menu(
        "menu.payments",
        _("Payments"),
        (
            *crud("payments.payment", ("view",)),
            "payments.refund_payment",
            "payments.sync_payment",
            *crud("payments.refund", ("view",)),
            *crud("payments.payafterauthorisation", ("view",)),
            *crud("payments.walletaccount", ("view",)),
        ),
    ),
    Menu(
        "menu.payment_settings",
        _("Payment settings"),
        (
            *crud("payments.merchantpaymentconfig", ("view", "change")),
            *crud("payments.sitepaymentmethod"),
            *crud("payments.onboarding", ("view", "add", "change")),
        ),
    ),
    Menu("menu.merchant_profile", _("Merchant profile"), crud("merchants.merchant", ("view", "change"))),
    Menu("menu.organisation", _("Organisation"), crud("merchants.orgunit")),
    Menu("menu.sites", _("Sites and device groups"), crud("merchants.site") + crud("merchants.devicegroup")),
    *_PEOPLE_MENUS,
)

PLATFORM_MENUS: tuple[Menu, ...] = (
    Menu("menu.dashboard", _("Dashboard"), ()),
    Menu(
        "menu.devices",
        _("Devices"),
        (
            *crud("devices.devicekind"),
            *crud("devices.deviceregistration"),
            *crud("devices.device", ("view",)),
            *crud("devices.deviceservicegrant", ("view", "add")),
            "devices.view_command",
        ),
    ),
    Menu("menu.alarms", _("Alarms"), crud("devices.alarm", ("view",))),
    Menu(
        "menu.products",
        _("Products"),
        (
            *crud("catalog.product"),
            *crud("catalog.category"),
            *crud("catalog.manufacturer"),
            *crud("catalog.productapplication", ("view",)),
            "catalog.review_productapplication",
        ),
    ),
    Menu(
        "menu.prices",
        _("Prices"),
        (
            *crud("catalog.pricerule", ("view",)),
            "catalog.review_pricerule",
            *crud("catalog.catalogsettings", ("view", "change")),
        ),
    ),
    Menu(
        "menu.stock",
        _("Stock"),
        (
            *crud("inventory.stocklevel", ("view",)),
            *crud("inventory.stockmovement", ("view",)),
            *crud("inventory.planogram", ("view",)),
            *crud("inventory.track", ("view",)),
            *crud("inventory.stocktake", ("view",)),
            *crud("inventory.replenishmentorder", ("view",)),
            *crud("inventory.restocksession", ("view",)),
        ),
    ),
    Menu(
        "menu.orders",
        _("Orders"),
        (
            *crud("orders.order", ("view",)),
            *crud("orders.correction", ("view",)),
            *crud("orders.appeal", ("view",)),
            *crud("shopping.shoppingsession", ("view",)),
            *crud("shopping.shoppingevent", ("view",)),
        ),
    ),
    Menu(
        "menu.payments",
        _("Payments"),
        (
            *crud("payments.payment", ("view",)),
            "payments.sync_payment",
            *crud("payments.refund", ("view",)),
            *crud("payments.providernotification", ("view",)),
        ),
    ),
    Menu(
        "menu.payment_accounts",
        _("Payment accounts and onboarding"),
        (
            *crud("payments.provideraccount"),
            *crud("payments.merchantpaymentconfig", ("view",)),
            *crud("payments.onboarding", ("view",)),
            "payments.review_onboarding",
        ),
    ),
    Menu(
        "menu.merchants",
        _("Merchants"),
        (*crud("merchants.merchant"), "merchants.review_merchant", "merchants.freeze_merchant"),
    ),
    Menu("menu.organisation", _("Organisation"), crud("merchants.orgunit", ("view",))),
    Menu(
        "menu.sites",
        _("Sites and device groups"),
        crud("merchants.site", ("view",)) + crud("merchants.devicegroup", ("view",)),
    ),
    *_PEOPLE_MENUS,
)


def codes_of(menus: tuple[Menu, ...]) -> frozenset[str]:
    return frozenset(code for menu in menus for code in menu.all_codes)


MERCHANT_PERMISSIONS = codes_of(MERCHANT_MENUS)
PLATFORM_PERMISSIONS = codes_of(PLATFORM_MENUS)


ACTION_LABELS = {
    "view": _("View"),
    "add": _("Add"),
    "change": _("Edit"),
    "delete": _("Delete"),
    "review": _("Review"),
    "freeze": _("Freeze / unfreeze"),
    "reset_password": _("Reset password"),
    "approve": _("Approve"),
    "supervise": _("Supervise"),
    "refund": _("Refund"),
    "sync": _("Query provider"),
    "resolve": _("Handle abnormal orders"),
    "handle": _("Handle"),
}


def permission_label(code: str) -> str:
    """What the role editor shows for a permission code: 'Menu: Sites', 'Edit · site'."""
    from django.apps import apps

    menu = next((m for m in (*MERCHANT_MENUS, *PLATFORM_MENUS) if m.code == code), None)
    if menu is not None:
        return f"{_('Menu')}: {menu.label}"
    app_label, codename = code.split(".", 1)
    action, _sep, model_name = codename.rpartition("_")
    model = apps.get_model(app_label, model_name)
    return f"{ACTION_LABELS.get(action, action)} · {model._meta.verbose_name}"
