"""A device is either restocked or shopped at, never both at once."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext as _

from openvend.core.errors import ConflictError
from openvend.inventory import restock_services as restock
from openvend.inventory.errors import InventoryErrorCode
from openvend.inventory.models import RestockSession
from openvend.shopping.choices import SessionState as S
from openvend.shopping.errors import DeviceBusy
from openvend.shopping.models import ShoppingSession
from openvend.shopping.services import session_start, transition
from tests.shopping.conftest import WALLET, Shop

pytestmark = pytest.mark.django_db


def test_a_live_restock_makes_the_device_busy_for_shoppers(shop: Shop) -> None:
    visit = restock.restock_start(actor=shop.world.user("replenisher"), device=shop.device)
    with pytest.raises(DeviceBusy):
        session_start(consumer=shop.shopper(), device=shop.device, method=WALLET)
    assert not ShoppingSession.objects.exists()
    restock.restock_door_closed(actor=shop.world.user("replenisher"), session=visit)
    # Door shut, the replenisher counting: the device sells again.
    assert session_start(consumer=shop.shopper(), device=shop.device, method=WALLET).state == S.OPENING


def test_a_shopper_makes_the_device_busy_for_restocking(shop: Shop) -> None:
    session = session_start(consumer=shop.shopper(), device=shop.device, method=WALLET)
    with translation.override("en"), pytest.raises(ConflictError) as caught:
        restock.restock_start(actor=shop.world.user("replenisher"), device=shop.device)
    with translation.override("en"):
        expected = _("Device busy: a shopper is using this device. Try again when they have finished.")
    assert (caught.value.code, caught.value.message) == (InventoryErrorCode.DEVICE_BUSY, expected)
    assert not RestockSession.objects.exists()
    for state in (S.OPEN, S.CLOSED, S.RECOGNISING, S.SETTLING):
        transition(session, state, "test")
    assert restock.restock_start(actor=shop.world.user("replenisher"), device=shop.device).state == "opening"
