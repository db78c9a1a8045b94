"""Reads for the catalog.

Prices and sellable lists: `price_for()` is the one place that decides what a unit costs on a
device at a moment; orders, the mobile pages and the consoles all ask it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from openvend.catalog.choices import PriceScope, PriceStatus, ProductStatus
from openvend.catalog.errors import CatalogErrorCode
from openvend.catalog.models import CatalogSettings, PriceRule, Product, SellableItem
from openvend.core.errors import OpenVendError

if TYPE_CHECKING:
    from openvend.devices.models import Device
    from openvend.inventory.models import Track


# ---------------------------------------------------------------------------------------------
# Prices
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceQuote:
    """What one unit costs. `price_fen` is what this shopper pays; `list_price_fen` what a
    non-member pays (they differ only for members). `rule_id` names the deciding rule, if any."""

    price_fen: int
    list_price_fen: int
    source: str  # "track" | "device" | "site" | "merchant" | "default"
    rule_id: int | None


# Most specific first: the first level with an applicable rule decides the price.
_LEVELS = (PriceScope.DEVICE, PriceScope.SITE, PriceScope.MERCHANT)


def applicable_rules(device: Device, product: Product, at: datetime) -> QuerySet[PriceRule]:
    """Rules that could price `product` on `device` at `at`: in force (ACTIVE) with a period that
    contains `at` (effective_from ≤ at < effective_to; an empty end is open-ended), aimed at the
    merchant, the device's site, or the device itself."""
    return _rules_in_force(device, at).filter(product_id=product.pk)


def _rules_in_force(device: Device, at: datetime) -> QuerySet[PriceRule]:
    """`applicable_rules` for every product."""
    targets = Q(scope=PriceScope.MERCHANT) | Q(scope=PriceScope.DEVICE, device_id=device.pk)
    if device.site_id is not None:
        targets |= Q(scope=PriceScope.SITE, site_id=device.site_id)
    return PriceRule.objects.filter(
        targets,
        Q(effective_to__isnull=True) | Q(effective_to__gt=at),
        merchant_id=device.merchant_id,
        status=PriceStatus.ACTIVE,
        effective_from__lte=at,
    )


def _winner(rules: list[PriceRule]) -> PriceRule | None:
    """The most specific level wins; within a level the latest `effective_from`, then the newest id."""
    for level in _LEVELS:
        candidates = [rule for rule in rules if rule.scope == level]
        if candidates:
            return max(candidates, key=lambda rule: (rule.effective_from, rule.pk))
    return None


def price_for(
    device: Device, product: Product, at: datetime, *, member: bool = False, track: Track | None = None
) -> PriceQuote:
    """The price of one unit of `product` on `device` at instant `at`, in integer fen.

    Resolution, first match wins:

    1. `track` given and the track carries its own `price_fen` → the track price ("track").
       A vending track's price is the machine's fixed price: members pay it too.
    2. A device scene price (device-scope rule for this device)       → "device".
    3. A site scene price (site-scope rule for the device's site)     → "site".
    4. A merchant-wide rule                                           → "merchant".
    5. The product's `default_price_fen`                              → "default".

    Only ACTIVE rules count (pending, rejected and withdrawn ones never price anything), and
    only when their period contains `at`: effective_from ≤ at < effective_to, open-ended when
    effective_to is empty. When several rules of the same level overlap, the one with the
    latest effective_from wins (the newer decision); on a tie the highest id (created last).

    Member prices (`member=True`): the winning rule's `member_price_fen` when it has one, else
    its ordinary price. Member prices never come from a less specific rule: a device price
    without a member price means members pay the device price too, so a member is never
    charged more than the list price. With no rule at all members pay the default price.

    The product must belong to the device's merchant, and a given track must be on the device.
    """
    _check_own_product(device, product)
    if track is not None:
        if track.device_id != device.pk:
            raise OpenVendError(
                CatalogErrorCode.PRICE_FOREIGN_REFERENCE,
                _("Track %(number)s is not on device %(device)s.")
                % {"number": track.number, "device": device.code},
                fields={"track": [_("Not found.")]},
            )
        if track.product_id != product.pk:
            raise OpenVendError(
                CatalogErrorCode.TRACK_PRODUCT_MISMATCH,
                _("Track %(number)s sells another product.") % {"number": track.number},
                fields={"track": [_("Sells another product.")]},
            )
        if track.price_fen is not None:
            price = int(track.price_fen)
            return PriceQuote(price_fen=price, list_price_fen=price, source="track", rule_id=None)

    return _quote(product, list(applicable_rules(device, product, at)), member)


def prices_for(device: Device, products: Sequence[Product], at: datetime) -> dict[int, PriceQuote]:
    """`price_for` (no track, list prices) of several products on one device at one instant, by
    product id, with one query for all their rules (a visit's lines are priced together)."""
    for product in products:
        _check_own_product(device, product)
    rules: dict[int, list[PriceRule]] = {product.pk: [] for product in products}
    for rule in _rules_in_force(device, at).filter(product_id__in=list(rules)):
        rules[rule.product_id].append(rule)
    return {product.pk: _quote(product, rules[product.pk], member=False) for product in products}


def _check_own_product(device: Device, product: Product) -> None:
    if product.merchant_id is None or product.merchant_id != device.merchant_id:
        raise OpenVendError(
            CatalogErrorCode.PRICE_FOREIGN_REFERENCE,
            _("Product %(product)s is not in this device's merchant library.") % {"product": product.sku},
            fields={"product": [_("Not found.")]},
        )


def _quote(product: Product, rules: list[PriceRule], member: bool) -> PriceQuote:
    winner = _winner(rules)
    if winner is None:
        price = int(product.default_price_fen)
        return PriceQuote(price_fen=price, list_price_fen=price, source="default", rule_id=None)
    list_price = int(winner.price_fen)
    member_price = int(winner.member_price_fen) if winner.member_price_fen is not None else list_price
    return PriceQuote(
        price_fen=member_price if member else list_price,
        list_price_fen=list_price,
        source=str(winner.scope),
        rule_id=winner.pk,
    )


def catalog_settings_for(merchant_id: int) -> CatalogSettings:
    """The merchant's catalog policy; an unsaved default row when it was never set."""
    found = CatalogSettings.objects.filter(merchant_id=merchant_id).first()
    return found or CatalogSettings(merchant_id=merchant_id)


def price_rules_pending_review() -> QuerySet[PriceRule]:
    """Price changes waiting for a platform reviewer, oldest first."""
    return (
        PriceRule.objects.filter(status=PriceStatus.PENDING)
        .select_related("product", "site", "device")
        .order_by("created_at", "pk")
    )


# ---------------------------------------------------------------------------------------------
# Sellable lists
# ---------------------------------------------------------------------------------------------


def is_sellable(device: Device, product: Product) -> bool:
    """May `device` sell `product` now? It must be on the device's sellable list and enabled
    there, and the product itself must be on sale (an off-sale product stops everywhere)."""
    return SellableItem.objects.filter(
        device_id=device.pk,
        product_id=product.pk,
        enabled=True,
        product__status=ProductStatus.ON_SALE,
        merchant_id=device.merchant_id,
    ).exists()


def sellable_products(device: Device) -> QuerySet[Product]:
    """The products `device` may sell now (see `is_sellable`), by SKU."""
    return Product.objects.filter(
        sellable_items__device_id=device.pk,
        sellable_items__enabled=True,
        merchant_id=device.merchant_id,
        status=ProductStatus.ON_SALE,
    ).order_by("sku")


def sellable_items_of(device: Device) -> QuerySet[SellableItem]:
    """The device's whole list, enabled or not, for the consoles."""
    items: Any = SellableItem.objects.filter(device_id=device.pk)
    return items.select_related("product", "template").order_by("product__sku")
