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
            menus=("menu.organisation", "menu.sites", "menu.devices", "menu.alarms"),
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
            menus=("menu.sites", "menu.devices"),
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
            menus=("menu.sites", "menu.staff", "menu.devices", "menu.alarms"),
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
            menus=(
                "menu.organisation",
                "menu.sites",
                "menu.staff",
                "menu.audit",
                "menu.devices",
                "menu.alarms",
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
            menus=("menu.merchant_profile", "menu.sites", "menu.audit", "menu.devices"),
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
            *crud("merchants.merchant", ("view",)), "merchants.review_merchant", menus=("menu.merchants",)
        ),
        DataScope.ALL,
    ),
)

PRESETS_BY_CODE = {preset.code: preset for preset in (*MERCHANT_PRESETS, *PLATFORM_PRESETS)}
