"""The demo's goods: a platform library, each demo merchant's adopted copy, a template on every
cabinet, a scene price, an active planogram per cabinet and opening stock — all through the
ordinary services, so the demo shows exactly what a merchant would have set up.

Safe to run again: what exists is kept; stock is posted once per position (idempotency keys)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from openvend.catalog import library_services, pricing_services, selling_services
from openvend.catalog.choices import PriceScope
from openvend.catalog.library_selectors import adoption_of
from openvend.catalog.models import PriceRule, Product, ProductTemplate, SellableItem
from openvend.demo.products import PRODUCTS
from openvend.devices.models import Device
from openvend.inventory import ledger, planogram_services
from openvend.inventory.choices import MovementKind
from openvend.inventory.planogram_selectors import planogram_in_force
from openvend.merchants.models import Merchant

TEMPLATE = "标准智能柜"
# Shelf by shelf, one product per load cell: light snacks on top, drinks at the bottom.
LAYOUT = (
    ("SN-SNICKERS-51", "SN-NUTS-26", "SN-LAYS-70", "SN-OREO-97"),
    ("SN-KITKAT-41", "SN-JERKY-50", "SN-WAFER-60", "FR-ONIGIRI"),
    ("DA-MILK-250", "DA-YOG-200", "DR-REDBULL-250", "DR-COFFEE-268"),
    ("DR-COLA-330", "DR-SPRITE-330", "DR-WATER-550", "DR-TEA-500"),
)
# One merchant's cabinets keep two chocolate bars of 45 g and 47 g on one load cell, so the
# console has a planogram-check warning to show (and a reason to move one of them).
CROWDED = {"northwind": ("s2-1", "SN-DOVE-43")}


def _platform_library() -> None:
    for item in PRODUCTS:
        if Product.objects.filter(merchant__isnull=True, sku=item.sku).exists():
            continue
        category = library_services.category_by_name(actor=None, merchant_id=None, name=item.category)
        maker = library_services.manufacturer_by_name(actor=None, merchant_id=None, name=item.manufacturer)
        library_services.product_create(
            actor=None,
            merchant=None,
            sku=item.sku,
            name=item.name,
            barcode=item.barcode,
            category=category,
            manufacturer=maker,
            specification=item.specification,
            unit_weight_g=item.unit_weight_g,
            unit_weight_sd_g=item.unit_weight_sd_g,
            shelf_life_days=item.shelf_life_days,
            default_price_fen=item.price_fen,
        )


def _merchant_library(merchant: Merchant) -> None:
    for source in Product.objects.filter(merchant__isnull=True).order_by("sku"):
        if adoption_of(merchant.pk, source) is None:
            library_services.product_adopt(actor=None, merchant=merchant, source=source)
    if not ProductTemplate.objects.filter(merchant=merchant, name=TEMPLATE).exists():
        selling_services.template_create(
            actor=None,
            merchant=merchant,
            name=TEMPLATE,
            note="全部常规商品",
            products=Product.objects.filter(merchant=merchant).order_by("sku"),
        )
    water = Product.objects.get(merchant=merchant, sku="DR-WATER-550")
    if not PriceRule.objects.filter(merchant=merchant, product=water).exists():
        # A merchant-wide promotion with a member price: what price_for answers in the console.
        pricing_services.price_rule_create(
            actor=None,
            product=water,
            scope=PriceScope.MERCHANT,
            price_fen=180,
            member_price_fen=150,
            effective_from=timezone.now() - timedelta(days=1),
            note="饮用水促销",
        )


@transaction.atomic
def seed_catalog(merchants: Iterable[Merchant]) -> None:
    _platform_library()
    for merchant in merchants:
        _merchant_library(merchant)


def _layout_for(device: Device) -> list[tuple[int, list[str], str]]:
    slots = [
        (shelf + 1, [f"s{shelf + 1}-{n + 1}"], sku)
        for shelf, row in enumerate(LAYOUT)
        for n, sku in enumerate(row)
    ]
    crowded = CROWDED.get(device.merchant.code)
    if crowded is not None:
        sensor, sku = crowded
        slots.append((int(sensor[1]), [sensor], sku))
    return slots


def _planogram(device: Device) -> None:
    if planogram_in_force(device) is not None:
        return
    draft = planogram_services.planogram_draft_create(actor=None, device=device, note="开柜默认陈列")
    for shelf, sensors, sku in _layout_for(device):
        product = Product.objects.get(merchant_id=device.merchant_id, sku=sku)
        drink = sku.startswith(("DR-", "DA-"))
        planogram_services.planogram_slot_add(
            actor=None,
            planogram=draft,
            shelf=shelf,
            sensors=sensors,
            product=product,
            capacity=6 if drink else 10,
            par_level=5 if drink else 8,
        )
    planogram_services.planogram_activate(actor=None, planogram=draft)


def _opening_stock(device: Device) -> None:
    planogram = planogram_in_force(device)
    if planogram is None:
        return
    for index, slot in enumerate(planogram.slots.select_related("product").order_by("id")):
        # A little below par on some positions, so replenishment suggestions have work to show.
        quantity = slot.par_level - index % 4
        ledger.post_movement(
            device=device,
            product=slot.product,
            quantity=quantity,
            kind=MovementKind.REPLENISHMENT,
            reason="开柜首次铺货",
            idempotency_key=f"demo:opening:{device.pk}:{slot.product_id}",
        )


@transaction.atomic
def stock_demo_devices(devices: Iterable[Device]) -> None:
    """Template, planogram and opening stock for each demo cabinet that does not have them yet."""
    for device in devices:
        # Only a device with no sellable list yet: a restart must not undo what a merchant changed.
        if not SellableItem.objects.filter(device=device).exists():
            template = ProductTemplate.objects.get(merchant_id=device.merchant_id, name=TEMPLATE)
            selling_services.template_apply(actor=None, template=template, devices=[device], mode="merge")
        _planogram(device)
        _opening_stock(device)


def demo_cabinets(merchants: Iterable[Any]) -> list[Device]:
    return list(Device.objects.filter(merchant__in=list(merchants)).select_related("merchant", "kind"))
