"""Simulated shoppers at simulated cabinets, through the ordinary services and the real device link.

A shopper signs up (a consumer with an active pay-after authorisation agreed at the provider's
sandbox, or a topped-up wallet), scans (`session_start`), and once the cabinet has received the
open-door command takes 1–3 units: the cabinet reports one `weight_change` per load cell with the
planogram's unit weights, then closes its door. The order is settled and charged by the platform as
for any shopper; `wait_settled` follows it to the end. The semi-automatic and open-shelf flows also
fill the cart and pay at checkout (the wallet, so payment is immediate).

`ShopperCabinet` is a simulated device that takes the shopper's planned goods the moment its door
opens and records when each command arrived and when each door closed (for the checkout benchmark);
a plain `SimulatedDevice` works too: the shopper then takes the goods after the door opened.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from openvend.simulator import commands
from openvend.simulator.device import SimulatedDevice

# Every load cell starts this much heavier, so a long run never empties one.
DEEP_STOCK_G = 100_000.0


class ShopperCabinet(SimulatedDevice):
    """A cabinet whose door opens as soon as the command arrives, with the planned goods taken at once
    and the door shut `dwell_s` later. Keeps, per command id, when the command arrived and the
    machine time of its door_closed event (seconds since the epoch)."""

    def __init__(self, *args: Any, dwell_s: float = 0.2, **kwargs: Any) -> None:
        kwargs.setdefault("relock_s", 0.05)
        super().__init__(*args, door_open_s=dwell_s, **kwargs)
        for sensor in self.cabinet.baseline_g:
            self.cabinet.baseline_g[sensor] += DEEP_STOCK_G
        self._plans: deque[dict[str, float]] = deque()
        self.received_at: dict[str, float] = {}
        self.closed_at: dict[str, float] = {}
        self._changed = threading.Condition(self._lock)

    def plan(self, takes: dict[str, float]) -> None:
        """Grams to take per load cell on the next door opening."""
        with self._lock:
            self._plans.append(dict(takes))

    def _command(self, payload: bytes) -> None:
        arrived = time.time()
        read = commands.read(payload)
        super()._command(payload)
        if read is None or self.cabinet.session != read[0] or read[0] in self.received_at:
            return
        self.received_at[read[0]] = arrived
        takes = self._plans.popleft() if self._plans else {}
        if takes:
            self._events(self.cabinet.change_weights({sensor: -grams for sensor, grams in takes.items()}))
        self._changed.notify_all()

    def _close_door(self) -> None:
        with self._lock:
            session = self.cabinet.session
            closed = self._machine_ms() / 1000
            super()._close_door()
            if session is not None:
                self.closed_at[session] = closed
            self._changed.notify_all()

    def forget_plans(self) -> None:
        """The scan was refused or the door never opened: nothing planned is taken later."""
        with self._lock:
            self._plans.clear()

    def wait_command(self, command_id: str, timeout: float) -> float | None:
        with self._changed:
            self._changed.wait_for(lambda: command_id in self.received_at, timeout)
            return self.received_at.get(command_id)

    def wait_closed(self, command_id: str, timeout: float) -> float | None:
        with self._changed:
            self._changed.wait_for(lambda: command_id in self.closed_at, timeout)
            return self.closed_at.get(command_id)

    def wait_idle(self, timeout: float) -> bool:
        """Until the bolt has fallen on the last session (the cabinet refuses a new one before) and the
        cloud has acknowledged every event (the platform has stored the door closing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.cabinet.session is None and not len(self.outbox):
                    return True
            time.sleep(0.005)
        return False


@dataclass(frozen=True)
class Shelf:
    """One load cell holding one product, as the active planogram has it."""

    sensor: str
    product: Any
    unit_weight_g: float


@dataclass
class Visit:
    """One shopper's visit and what it should cost: `expected_fen` from `price_for` at the scan."""

    session_id: int
    command_id: str
    device_code: str
    flow: str
    taken: dict[str, int]  # sku → units
    expected_fen: int
    scanned_at: float  # seconds since the epoch, just before the scan
    scan_done_at: float | None = None  # the scan returned, its session and command committed
    command_at: float | None = None  # the cabinet received the open-door command
    closed_at: float | None = None  # door_closed machine time
    extra: dict[str, Any] = field(default_factory=dict)


def shelves_of(device: Any) -> list[Shelf]:
    """The load cells of the active planogram (the one settlement reads) that hold exactly one product,
    so what leaves them is unambiguous; in sensor order."""
    from openvend.inventory.choices import PlanogramStatus
    from openvend.inventory.models import Planogram

    plan = (
        Planogram.objects.filter(device_id=device.pk, status=PlanogramStatus.ACTIVE)
        .order_by("-version")
        .first()
    )
    if plan is None:
        return []
    slots = list(plan.slots.select_related("product"))
    uses = Counter(sensor for slot in slots for sensor in slot.sensors)
    single = [slot for slot in slots if len(slot.sensors) == 1 and uses[slot.sensors[0]] == 1]
    return sorted(
        (Shelf(slot.sensors[0], slot.product, float(slot.product.unit_weight_g)) for slot in single),
        key=lambda shelf: shelf.sensor,
    )


def pick(rng: random.Random, shelves: list[Shelf], *, most: int = 3) -> dict[str, tuple[Shelf, int]]:
    """1–`most` units from one or more shelves: sensor → (shelf, units)."""
    chosen: dict[str, tuple[Shelf, int]] = {}
    for _ in range(rng.randint(1, most)):
        shelf = rng.choice(shelves)
        units = chosen.get(shelf.sensor, (shelf, 0))[1] + 1
        chosen[shelf.sensor] = (shelf, units)
    return chosen


def expected_total(device: Any, picked: dict[str, tuple[Shelf, int]]) -> int:
    from django.utils import timezone

    from openvend.catalog.selectors import price_for

    now = timezone.now()
    return sum(price_for(device, shelf.product, now).price_fen * units for shelf, units in picked.values())


# Signing up ------------------------------------------------------------------------------------


def agree_payscore(confirm_url: str, openid: str) -> None:
    """What the shopper does on WeChat's payscore page: agree (the sandbox's form)."""
    params = httpx.URL(confirm_url).params
    form = {
        "apply_permissions_token": params["apply_permissions_token"],
        "openid": openid,
        "decision": "allow",
        "return_url": params.get("return_url", ""),
    }
    response = httpx.post(confirm_url.split("?")[0], data=form, timeout=10)
    if response.status_code >= 400:
        raise RuntimeError(f"the payscore page refused the agreement: {response.status_code}")


def shopper_sign_up(*, merchant: Any, openid: str, nickname: str = "", return_url: str = "") -> Any:
    """A consumer with an active WeChat payscore authorisation, agreed at the sandbox. The provider is
    asked where it stands, so this does not wait for the sandbox's notification to arrive."""
    from openvend.consumers.models import Consumer
    from openvend.payments.choices import AuthorisationState, PaymentMethod
    from openvend.payments.services.authorisations import refresh_authorisation, start_authorisation

    consumer = Consumer.objects.create(nickname=nickname or openid[-12:])
    authorisation, next_action = start_authorisation(
        merchant=merchant,
        consumer=consumer,
        method=PaymentMethod.WECHAT_PAYSCORE,
        payer_id=openid,
        return_url=return_url or "https://h5.example.com/authorised",
    )
    if authorisation.state != AuthorisationState.ACTIVE:
        agree_payscore(next_action["confirm_url"], openid)
        refresh_authorisation(authorisation)
    if authorisation.state != AuthorisationState.ACTIVE:
        raise RuntimeError(f"payscore authorisation of {openid} is {authorisation.state}")
    return consumer


def wallet_shopper(*, merchant: Any, balance_fen: int, nickname: str = "") -> Any:
    """A consumer with a topped-up wallet at `merchant` (the wallet pays at once, no authorisation)."""
    from openvend.consumers.models import Consumer
    from openvend.payments.services.wallet import wallet_recharge

    consumer = Consumer.objects.create(nickname=nickname or "wallet")
    wallet_recharge(
        merchant_id=merchant.pk,
        consumer_id=consumer.pk,
        amount_fen=balance_fen,
        idempotency_key=f"sim-top-up-{consumer.pk}",
    )
    return consumer


# Visiting --------------------------------------------------------------------------------------


def _wait_door_open(cabinet: SimulatedDevice, command_id: str, timeout: float) -> float | None:
    if isinstance(cabinet, ShopperCabinet):
        return cabinet.wait_command(command_id, timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snapshot = cabinet.snapshot()
        if snapshot["session"] == command_id and snapshot["door"] == "open":
            return time.time()
        time.sleep(0.01)
    return None


def door_visit(
    *,
    cabinet: SimulatedDevice,
    device: Any,
    consumer: Any,
    method: str,
    picked: dict[str, tuple[Shelf, int]],
    flow: str | None = None,
    timeout: float = 10.0,
) -> Visit:
    """Scan, wait for the cabinet to open, take `picked` (a ShopperCabinet takes them itself), and —
    semi-automatic — put the same goods in the cart and pay. Returns once the door has closed (for a
    plain device: once the goods are taken; its own timer shuts the door)."""
    from openvend.devices.choices import ShoppingFlow
    from openvend.shopping.services import session_start

    flow = flow or ShoppingFlow.FULL_AUTO
    takes = {sensor: shelf.unit_weight_g * units for sensor, (shelf, units) in picked.items()}
    if isinstance(cabinet, ShopperCabinet):
        cabinet.plan(takes)
    expected = expected_total(device, picked)
    scanned = time.time()
    try:
        session = session_start(consumer=consumer, method=method, device=device, flow=flow)
    except Exception:
        if isinstance(cabinet, ShopperCabinet):
            cabinet.forget_plans()
        raise
    command_id = str(session.command_id)
    visit = Visit(
        session_id=session.pk,
        command_id=command_id,
        device_code=device.code,
        flow=flow,
        taken={shelf.product.sku: units for shelf, units in picked.values()},
        expected_fen=expected,
        scanned_at=scanned,
        scan_done_at=time.time(),
    )
    visit.command_at = _wait_door_open(cabinet, command_id, timeout)
    if visit.command_at is None:
        if isinstance(cabinet, ShopperCabinet):
            cabinet.forget_plans()
        return visit
    if not isinstance(cabinet, ShopperCabinet):
        cabinet.change_weights({sensor: -grams for sensor, grams in takes.items()})
    if flow == ShoppingFlow.SEMI_AUTO:
        visit.extra["checkout"] = _pay_cart(session, picked)
    if isinstance(cabinet, ShopperCabinet):
        visit.closed_at = cabinet.wait_closed(command_id, timeout)
    return visit


def shelf_visit(*, device: Any, consumer: Any, picked: dict[str, tuple[Shelf, int]]) -> Visit:
    """An open shelf: no door; the shopper adds the goods to the cart and pays with the wallet."""
    from openvend.devices.choices import ShoppingFlow
    from openvend.payments.choices import PaymentMethod
    from openvend.shopping.services import session_start

    expected = expected_total(device, picked)
    scanned = time.time()
    session = session_start(
        consumer=consumer, method=PaymentMethod.WALLET, device=device, flow=ShoppingFlow.OPEN_SHELF
    )
    visit = Visit(
        session_id=session.pk,
        command_id="",
        device_code=device.code,
        flow=ShoppingFlow.OPEN_SHELF,
        taken={shelf.product.sku: units for shelf, units in picked.values()},
        expected_fen=expected,
        scanned_at=scanned,
    )
    visit.extra["checkout"] = _pay_cart(session, picked)
    return visit


def _pay_cart(session: Any, picked: dict[str, tuple[Shelf, int]]) -> str:
    from openvend.orders.cart_services import cart_checkout, cart_set

    for shelf, units in picked.values():
        cart_set(session=session, product=shelf.product, quantity=units)
    order, _next_action = cart_checkout(session=session, return_url="https://h5.example.com/paid")
    return str(order.number)


def wait_settled(visit: Visit, timeout: float = 15.0) -> dict[str, Any]:
    """Follow the visit's session to a final state; what it came to (state, order total, paid)."""
    from openvend.orders.models import Order
    from openvend.shopping.choices import SessionState as S
    from openvend.shopping.models import ShoppingSession

    # Review is not final, but the visit rests there until staff act.
    resting = {S.COMPLETED, S.REVIEW, S.FAILED, S.CANCELLED}
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = ShoppingSession.objects.filter(pk=visit.session_id).values_list("state", flat=True).get()
        if state in resting:
            break
        time.sleep(0.02)
    order = Order.objects.filter(session_id=visit.session_id).select_related("payment").first()
    return {
        "state": state,
        "order_state": order.state if order is not None else "",
        "total_fen": order.total_fen if order is not None else None,
        "paid_fen": order.paid_fen if order is not None else None,
        "expected_fen": visit.expected_fen,
    }
