"""Look and navigation of the two consoles. Imported by settings: no model imports here.

Each sidebar item names the menu permission that shows it; the list behind it still
checks the action permission and the data scope.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

PERMS = "openvend.consoles.navigation"


def _item(title: Any, icon: str, site: str, app_model: str, menu: str) -> dict[str, Any]:
    app, model = app_model.split(".")
    return {
        "title": title,
        "icon": icon,
        "link": reverse_lazy(f"{site}:{app}_{model}_changelist"),
        "permission": f"{PERMS}.{menu}",
    }


def _dashboard(site: str) -> dict[str, Any]:
    return {"title": _("Dashboard"), "icon": "dashboard", "link": reverse_lazy(f"{site}:index")}


COMMON = {
    "SHOW_HISTORY": False,
    "SHOW_VIEW_ON_SITE": False,
    "SHOW_LANGUAGES": True,
    "SITE_SYMBOL": "storefront",
    "COLORS": {
        "primary": {
            "50": "oklch(97.7% .014 308.299)",
            "100": "oklch(94.6% .033 307.174)",
            "200": "oklch(90.2% .063 306.703)",
            "300": "oklch(82.7% .119 306.383)",
            "400": "oklch(71.4% .203 305.504)",
            "500": "oklch(62.7% .265 303.9)",
            "600": "oklch(55.8% .288 302.321)",
            "700": "oklch(49.6% .265 301.924)",
            "800": "oklch(43.8% .218 303.724)",
            "900": "oklch(38.1% .176 304.987)",
            "950": "oklch(29.1% .149 302.717)",
        },
    },
}


def _estate_group(site: str) -> dict[str, Any]:
    return {
        "title": _("Organisation and sites"),
        "items": [
            _item(_("Org units"), "account_tree", site, "merchants.orgunit", "menu_organisation"),
            _item(_("Sites"), "location_on", site, "merchants.site", "menu_sites"),
            _item(_("Device groups"), "workspaces", site, "merchants.devicegroup", "menu_sites"),
        ],
    }


def _fleet_group(site: str) -> dict[str, Any]:
    alarms = _item(_("Alarms"), "notifications_active", site, "devices.alarm", "menu_alarms")
    alarms["badge"] = f"{PERMS}.open_alarm_count"
    items = [
        _item(_("Devices"), "kitchen", site, "devices.device", "menu_devices"),
        alarms,
        _item(_("Commands"), "terminal", site, "devices.command", "menu_devices"),
    ]
    if site == "platform":
        items += [
            _item(_("Device registrations"), "qr_code_2", site, "devices.deviceregistration", "menu_devices"),
            _item(_("Device kinds"), "category", site, "devices.devicekind", "menu_devices"),
        ]
    return {"title": _("Fleet"), "items": items}


# Each area lists its own sidebar items; the groups below combine them.
def _catalog_items(site: str) -> list[dict[str, Any]]:
    from django.utils.text import format_lazy

    products = _item(_("Products"), "inventory_2", site, "catalog.product", "menu_products")
    if site == "console":
        platform_link = reverse_lazy("console:catalog_product_platform_library")
    else:  # the platform console's product list, narrowed to the platform's own library
        changelist = reverse_lazy("platform:catalog_product_changelist")
        platform_link = format_lazy("{}?library=platform", changelist)
    return [
        products,
        {**products, "title": _("Platform library"), "icon": "hub", "link": platform_link},
        _item(_("Categories"), "category", site, "catalog.category", "menu_products"),
        _item(_("Manufacturers"), "factory", site, "catalog.manufacturer", "menu_products"),
        _item(_("New-product applications"), "post_add", site, "catalog.productapplication", "menu_products"),
    ]


def _price_items(site: str) -> list[dict[str, Any]]:
    items = [_item(_("Price rules"), "sell", site, "catalog.pricerule", "menu_prices")]
    if site == "platform":
        return [
            *items,
            _item(_("Price review policy"), "rule", site, "catalog.catalogsettings", "menu_prices"),
        ]
    return [
        *items,
        _item(_("Product templates"), "library_books", site, "catalog.producttemplate", "menu_products"),
        _item(_("Sellable lists"), "checklist", site, "catalog.sellableitem", "menu_products"),
    ]


def _planogram_items(site: str) -> list[dict[str, Any]]:
    # The platform console shows them read-only under its stock menu.
    menu = "menu_planograms" if site == "console" else "menu_stock"
    return [
        _item(_("Planograms"), "view_module", site, "inventory.planogram", menu),
        _item(_("Vending tracks"), "view_column", site, "inventory.track", menu),
    ]


def _stock_items(site: str) -> list[dict[str, Any]]:
    items = [
        _item(_("Stock levels"), "inventory_2", site, "inventory.stocklevel", "menu_stock"),
        _item(_("Stock movements"), "receipt_long", site, "inventory.stockmovement", "menu_stock"),
    ]
    if site != "platform":  # the platform reads stock but does not count it
        items.append(_item(_("Stock-takes"), "fact_check", site, "inventory.stocktake", "menu_stock"))
    return items


def _replenishment_items(site: str) -> list[dict[str, Any]]:
    menu = "menu_stock" if site == "platform" else "menu_replenishment"  # the platform only looks
    return [
        _item(_("Replenishment orders"), "local_shipping", site, "inventory.replenishmentorder", menu),
        _item(_("Restock sessions"), "inventory", site, "inventory.restocksession", menu),
    ]


def _goods_group(site: str) -> dict[str, Any]:
    return {"title": _("Products and prices"), "items": [*_catalog_items(site), *_price_items(site)]}


def _stock_group(site: str) -> dict[str, Any]:
    items = [*_planogram_items(site), *_stock_items(site), *_replenishment_items(site)]
    return {"title": _("Stock and replenishment"), "items": items}


def _payments_group(site: str) -> dict[str, Any]:
    items = [
        _item(_("Payments"), "payments", site, "payments.payment", "menu_payments"),
        _item(_("Refunds"), "currency_exchange", site, "payments.refund", "menu_payments"),
    ]
    if site == "platform":
        return {
            "title": _("Payments"),
            "items": [
                *items,
                _item(
                    _("Provider notifications"),
                    "mark_email_read",
                    site,
                    "payments.providernotification",
                    "menu_payments",
                ),
                _item(
                    _("Provider accounts"),
                    "account_balance",
                    site,
                    "payments.provideraccount",
                    "menu_payment_accounts",
                ),
                _item(
                    _("Merchant payment settings"),
                    "tune",
                    site,
                    "payments.merchantpaymentconfig",
                    "menu_payment_accounts",
                ),
                _item(_("Onboarding"), "how_to_reg", site, "payments.onboarding", "menu_payment_accounts"),
            ],
        }
    return {
        "title": _("Payments"),
        "items": [
            *items,
            _item(_("Wallets"), "account_balance_wallet", site, "payments.walletaccount", "menu_payments"),
            _item(
                _("Payment settings"), "tune", site, "payments.merchantpaymentconfig", "menu_payment_settings"
            ),
            _item(
                _("Site payment methods"),
                "storefront",
                site,
                "payments.sitepaymentmethod",
                "menu_payment_settings",
            ),
            _item(_("Onboarding"), "how_to_reg", site, "payments.onboarding", "menu_payment_settings"),
        ],
    }


def _orders_group(site: str) -> dict[str, Any]:
    from django.utils.text import format_lazy

    orders = _item(_("Orders"), "receipt", site, "orders.order", "menu_orders")
    abnormal = {
        **orders,
        "title": _("Abnormal orders"),
        "icon": "report",
        "link": format_lazy("{}?abnormal=yes", orders["link"]),
        "badge": f"{PERMS}.abnormal_order_count",
        "badge_variant": "warning",  # a queue of work, not an alarm
    }
    items = [
        orders,
        abnormal,
        _item(_("Customer appeals"), "support_agent", site, "orders.appeal", "menu_appeals"),
        _item(_("Correction orders"), "edit_note", site, "orders.correction", "menu_orders"),
        _item(_("Shopping sessions"), "shopping_cart", site, "shopping.shoppingsession", "menu_shopping"),
    ]
    if site == "console":  # the blacklist and the order settings are each merchant's own
        items += [
            _item(_("Blacklist"), "block", site, "shopping.blacklistentry", "menu_blacklist"),
            _item(_("Blacklist rules"), "rule", site, "shopping.blacklistrule", "menu_blacklist"),
            _item(_("Order settings"), "tune", site, "orders.orderpolicy", "menu_order_settings"),
        ]
    return {"title": _("Orders"), "items": items}


def _people_group(site: str, staff_title: Any) -> dict[str, Any]:
    return {
        "title": _("Staff and permissions"),
        "items": [
            _item(staff_title, "group", site, "accounts.user", "menu_staff"),
            _item(_("Roles"), "admin_panel_settings", site, "accounts.role", "menu_roles"),
            _item(_("Audit log"), "history", site, "audit.auditlogentry", "menu_audit"),
        ],
    }


def _sidebar(*groups: dict[str, Any]) -> dict[str, Any]:
    return {"show_search": False, "show_all_applications": False, "navigation": list(groups)}


MERCHANT_CONSOLE = {
    **COMMON,
    "SITE_TITLE": _("OpenVend merchant console"),
    "SITE_HEADER": _("OpenVend"),
    "SITE_SUBHEADER": _("Merchant console"),
    "SITE_URL": "/console/",
    "DASHBOARD_CALLBACK": "openvend.consoles.dashboard.merchant_dashboard",
    "SIDEBAR": _sidebar(
        {
            "title": _("Overview"),
            "items": [
                {**_dashboard("console"), "permission": f"{PERMS}.menu_dashboard"},
                _item(
                    _("Merchant profile"), "badge", "console", "merchants.merchant", "menu_merchant_profile"
                ),
            ],
        },
        _fleet_group("console"),
        _goods_group("console"),
        _stock_group("console"),
        _orders_group("console"),
        _payments_group("console"),
        _estate_group("console"),
        _people_group("console", _("Staff")),
    ),
}

PLATFORM_CONSOLE = {
    **COMMON,
    "SITE_TITLE": _("OpenVend platform console"),
    "SITE_HEADER": _("OpenVend"),
    "SITE_SUBHEADER": _("Platform console"),
    "SITE_URL": "/platform/",
    "SITE_SYMBOL": "hub",
    "DASHBOARD_CALLBACK": "openvend.consoles.dashboard.platform_dashboard",
    "SIDEBAR": _sidebar(
        {
            "title": _("Overview"),
            "items": [
                {**_dashboard("platform"), "permission": f"{PERMS}.menu_dashboard"},
                _item(_("Merchants"), "store", "platform", "merchants.merchant", "menu_merchants"),
            ],
        },
        _fleet_group("platform"),
        _goods_group("platform"),
        _stock_group("platform"),
        _orders_group("platform"),
        _payments_group("platform"),
        _estate_group("platform"),
        _people_group("platform", _("Users")),
    ),
}
