"""Preset roles. Each merchant gets its own editable copy of these when the platform approves it."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from openvend.accounts.choices import DataScope
from openvend.accounts.permissions import MERCHANT_PERMISSIONS, PLATFORM_PERMISSIONS, crud


@dataclass(frozen=True)
class PresetRole:
    code: str
    label: str | Promise
    permissions: frozenset[str]
    data_scope: str


def _with_menus(*actions: str, menus: tuple[str, ...]) -> frozenset[str]:
    return frozenset((*actions, "menu.dashboard", *menus))


# What each kind of staff does with devices (seed 000: ops handle alarms and remote commands,
# replenishers and customer service open doors to restock or to help a shopper).
DEVICES_VIEW = (
    "devices.view_device",
    "devices.view_devicekind",
    "devices.view_alarm",
    "devices.view_command",
)
DEVICES_OPEN = (*DEVICES_VIEW, "devices.open_door_device")
DEVICES_OPERATE = (
    *DEVICES_OPEN,
    "devices.change_device",
    "devices.command_device",
    "devices.change_alarm",
    "devices.view_alarmsettings",
)


PAYMENTS_VIEW = (
    "payments.view_payment",
    "payments.view_refund",
    "payments.view_payafterauthorisation",
    "payments.view_walletaccount",
)
# Customer service and finance settle shoppers' disputes (seed 000 客户申诉, 订单退款).
PAYMENTS_HANDLE = (*PAYMENTS_VIEW, "payments.refund_payment", "payments.sync_payment")
PAYMENT_SETTINGS_VIEW = (
    "payments.view_merchantpaymentconfig",
    "payments.view_sitepaymentmethod",
    "payments.view_onboarding",
)


# Orders, their correction orders and the shopping sessions behind them (seed 000 订单管理, 异常订单).
ORDERS_VIEW = ("orders.view_order", "orders.view_correction")
SESSIONS_VIEW = ("shopping.view_shoppingsession", "shopping.view_shoppingevent")
# Customer service answers appeals (客户申诉) and refunds; finance refunds.
APPEALS_HANDLE = ("orders.view_appeal", "orders.handle_appeal")
BLACKLIST_KEEP = crud("shopping.blacklistentry", ("view", "add", "change"))


PRODUCTS_VIEW = (
    "catalog.view_product",
    "catalog.view_category",
    "catalog.view_manufacturer",
    "catalog.view_producttemplate",
    "catalog.view_sellableitem",
)
STOCK_VIEW = ("inventory.view_stocklevel", "inventory.view_stockmovement", "inventory.view_stocktake")
# Replenishers restock and count (seed 000 §8: 自由补货, 扫码盘点); an approver posts the adjustment.
RESTOCK = (
    *STOCK_VIEW,
    "inventory.view_planogram",
    "inventory.view_track",
    "inventory.view_replenishmentorder",
    "inventory.change_replenishmentorder",
    *crud("inventory.restocksession", ("view", "add", "change")),
    *crud("inventory.stocktake", ("view", "add", "change")),
)


MERCHANT_PRESETS: tuple[PresetRole, ...] = (
    PresetRole("merchant_admin", _("Merchant administrator"), MERCHANT_PERMISSIONS, DataScope.ALL),
    PresetRole(
        "operations",
        _("Operations"),
        _with_menus(
            *crud("merchants.orgunit", ("view",)),
            *crud("merchants.site", ("view", "add", "change")),
            *crud("merchants.devicegroup"),
            *DEVICES_OPERATE,
            "devices.add_device",
            *PRODUCTS_VIEW,
            *crud("catalog.sellableitem"),
            "catalog.view_pricerule",
            *crud("inventory.planogram"),
            *crud("inventory.track"),
            *RESTOCK,
            "inventory.add_stockmovement",
            "inventory.approve_stocktake",
            "inventory.supervise_restocksession",
            *crud("inventory.replenishmentorder"),
            *ORDERS_VIEW,
            *SESSIONS_VIEW,
            menus=(
                "menu.organisation",
                "menu.sites",
                "menu.devices",
                "menu.alarms",
                "menu.products",
                "menu.prices",
                "menu.planograms",
                "menu.stock",
                "menu.replenishment",
                "menu.orders",
                "menu.shopping",
            ),
        ),
        DataScope.ORG_UNITS,
    ),
    PresetRole(
        "replenisher",
        _("Replenisher"),
        _with_menus(
            *crud("merchants.site", ("view",)),
            *crud("merchants.devicegroup", ("view",)),
            *DEVICES_OPEN,
            *PRODUCTS_VIEW,
            *RESTOCK,
            menus=("menu.sites", "menu.devices", "menu.products", "menu.stock", "menu.replenishment"),
        ),
        DataScope.ORG_UNITS,
    ),
    PresetRole(
        "customer_service",
        _("Customer service"),
        _with_menus(
            *crud("merchants.site", ("view",)),
            *crud("accounts.user", ("view",)),
            *DEVICES_OPEN,
            *PRODUCTS_VIEW,
            "catalog.view_pricerule",
            *STOCK_VIEW,
            *PAYMENTS_HANDLE,
            *ORDERS_VIEW,
            "orders.refund_order",
            *APPEALS_HANDLE,
            *SESSIONS_VIEW,
            menus=(
                "menu.sites",
                "menu.staff",
                "menu.devices",
                "menu.alarms",
                "menu.products",
                "menu.stock",
                "menu.payments",
                "menu.orders",
                "menu.appeals",
                "menu.shopping",
            ),
        ),
        DataScope.ALL,
    ),
    PresetRole(
        "store_manager",
        _("Store manager"),
        _with_menus(
            *crud("merchants.orgunit", ("view",)),
            *crud("merchants.site", ("view", "change")),
            *crud("merchants.devicegroup", ("view",)),
            *crud("accounts.user", ("view", "add", "change")),
            "accounts.freeze_user",
            "accounts.reset_password_user",
            "audit.view_auditlogentry",
            *DEVICES_OPERATE,
            *PRODUCTS_VIEW,
            *crud("catalog.pricerule"),
            *RESTOCK,
            "inventory.approve_stocktake",
            "inventory.supervise_restocksession",
            # Cloning a machine's tracks creates the ones a target lacks.
            "inventory.add_track",
            "inventory.change_track",
            *PAYMENTS_VIEW,
            "payments.sync_payment",
            # They see their shops' orders and settle the abnormal ones, and keep the blacklist.
            *ORDERS_VIEW,
            "orders.resolve_order",
            "orders.view_appeal",
            *SESSIONS_VIEW,
            *BLACKLIST_KEEP,
            menus=(
                "menu.organisation",
                "menu.sites",
                "menu.staff",
                "menu.audit",
                "menu.devices",
                "menu.alarms",
                "menu.products",
                "menu.prices",
                "menu.planograms",
                "menu.stock",
                "menu.replenishment",
                "menu.payments",
                "menu.orders",
                "menu.appeals",
                "menu.shopping",
                "menu.blacklist",
            ),
        ),
        DataScope.ORG_UNITS,
    ),
    PresetRole(
        "finance",
        _("Finance"),
        _with_menus(
            *crud("merchants.merchant", ("view",)),
            *crud("merchants.site", ("view",)),
            "audit.view_auditlogentry",
            *DEVICES_VIEW,
            *PRODUCTS_VIEW,
            "catalog.view_pricerule",
            *STOCK_VIEW,
            *PAYMENTS_HANDLE,
            *PAYMENT_SETTINGS_VIEW,
            *ORDERS_VIEW,
            "orders.refund_order",
            "orders.view_appeal",
            menus=(
                "menu.merchant_profile",
                "menu.sites",
                "menu.audit",
                "menu.devices",
                "menu.products",
                "menu.prices",
                "menu.stock",
                "menu.payments",
                "menu.payment_settings",
                "menu.orders",
                "menu.appeals",
            ),
        ),
        DataScope.ALL,
    ),
)

PLATFORM_PRESETS: tuple[PresetRole, ...] = (
    PresetRole("platform_admin", _("Platform administrator"), PLATFORM_PERMISSIONS, DataScope.ALL),
    PresetRole(
        "platform_reviewer",
        _("Merchant reviewer"),
        _with_menus(
            *crud("merchants.merchant", ("view",)),
            "merchants.review_merchant",
            # New products and store price changes wait for the same reviewers as new merchants.
            "catalog.view_product",
            "catalog.view_productapplication",
            "catalog.review_productapplication",
            "catalog.view_pricerule",
            "catalog.review_pricerule",
            # Sub-merchant applications (进件) are recorded by the same people.
            "payments.view_onboarding",
            "payments.view_merchantpaymentconfig",
            "payments.review_onboarding",
            menus=("menu.merchants", "menu.products", "menu.prices", "menu.payment_accounts"),
        ),
        DataScope.ALL,
    ),
)

PRESETS_BY_CODE = {preset.code: preset for preset in (*MERCHANT_PRESETS, *PLATFORM_PRESETS)}
