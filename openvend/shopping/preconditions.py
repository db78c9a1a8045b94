"""What must hold before a shopper may open a device. Each check is its own function returning
None or a Failure with a message for the shopper and a way forward (a button in the H5);
`check_preconditions` runs them all so the shopper learns every problem at once.

Business hours are the site's (`Site.opens_at` / `closes_at`, local time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.shopping.choices import WayForward


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    way_forward: str


@dataclass(frozen=True)
class Attempt:
    """Who wants to shop where, and how they will pay."""

    device: Any
    consumer: Any
    method: str
    now: datetime
    state: Any  # the device's DeviceState, None when it never reported


def device_in_service(attempt: Attempt) -> Failure | None:
    from openvend.devices.choices import DeviceStatus

    site = attempt.device.site
    if attempt.device.status == DeviceStatus.ACTIVE and site is not None and site.is_active:
        return None
    return Failure("device_out_of_service", _("This device is not in service."), WayForward.CONTACT_STAFF)


def device_online(attempt: Attempt) -> Failure | None:
    if attempt.state is not None and attempt.state.online:
        return None
    return Failure(
        "device_offline",
        _("This device is offline at the moment. Please try again later."),
        WayForward.TRY_LATER,
    )


def device_not_locked(attempt: Attempt) -> Failure | None:
    if not attempt.device.locked_by_foreign_object:
        return None
    return Failure(
        "device_locked",
        _("This device is locked until staff have checked it. Please contact customer service."),
        WayForward.CONTACT_STAFF,
    )


def device_not_expired(attempt: Attempt) -> Failure | None:
    expires = attempt.device.service_expires_at
    if expires is None or expires > attempt.now:
        return None
    return Failure(
        "device_expired",
        _("This device's service period has ended. Please contact customer service."),
        WayForward.CONTACT_STAFF,
    )


def within_business_hours(attempt: Attempt) -> Failure | None:
    site = attempt.device.site
    opens, closes = (site.opens_at, site.closes_at) if site is not None else (None, None)
    if opens is None or closes is None or site.is_open_at(timezone.localtime(attempt.now).time()):
        return None
    times = {"opens": opens.strftime("%H:%M"), "closes": closes.strftime("%H:%M")}
    return Failure(
        "outside_business_hours",
        _("This cabinet is open from %(opens)s to %(closes)s. Please come back at %(opens)s.") % times,
        WayForward.TRY_LATER,
    )


def shopper_not_frozen(attempt: Attempt) -> Failure | None:
    from openvend.consumers.models import ConsumerStatus

    if attempt.consumer.status != ConsumerStatus.FROZEN:
        return None
    return Failure(
        "shopper_frozen",
        _("Your account is frozen. Please contact customer service."),
        WayForward.CONTACT_STAFF,
    )


def shopper_not_blacklisted(attempt: Attempt) -> Failure | None:
    from openvend.shopping.selectors import blacklist_entry_of

    if blacklist_entry_of(attempt.device.merchant_id, attempt.consumer, attempt.now) is None:
        return None
    return Failure(
        "shopper_blacklisted",
        _("You may not shop at this merchant's devices. Please contact customer service."),
        WayForward.CONTACT_STAFF,
    )


def no_unpaid_order(attempt: Attempt) -> Failure | None:
    from openvend.payments.selectors import unpaid_payments_of

    if not unpaid_payments_of(attempt.consumer, attempt.device.merchant_id).exists():
        return None
    return Failure(
        "unpaid_order",
        _("You have an unpaid order. Please pay it before shopping again."),
        WayForward.PAY_DEBT,
    )


def method_offered(attempt: Attempt) -> Failure | None:
    from openvend.payments.models import SitePaymentMethod

    offered = SitePaymentMethod.objects.filter(
        site_id=attempt.device.site_id, method=attempt.method, enabled=True
    ).exists()
    if offered:
        return None
    return Failure(
        "method_not_offered",
        _("This payment method is not available at this device. Please choose another."),
        WayForward.CHOOSE_METHOD,
    )


def pay_after_authorised(attempt: Attempt) -> Failure | None:
    """A pay-after method charges once the door closes, without the shopper: it needs their standing
    permission first. Other methods are paid by the shopper in person and need none."""
    from openvend.payments.choices import PAY_AFTER_METHODS
    from openvend.payments.selectors import active_authorisation

    if attempt.method not in PAY_AFTER_METHODS:
        return None
    if active_authorisation(attempt.device.merchant_id, attempt.consumer, attempt.method) is not None:
        return None
    return Failure(
        "not_authorised",
        _("Please authorise pay-after payment before opening the door."),
        WayForward.AUTHORISE,
    )


PRECONDITIONS: tuple[Callable[[Attempt], Failure | None], ...] = (
    device_in_service,
    device_online,
    device_not_locked,
    device_not_expired,
    within_business_hours,
    shopper_not_frozen,
    shopper_not_blacklisted,
    no_unpaid_order,
    method_offered,
    pay_after_authorised,
)


_READ_STATE: Any = object()


def check_preconditions(
    *, device: Any, consumer: Any, method: str, now: datetime | None = None, state: Any = _READ_STATE
) -> list[Failure]:
    """Every precondition that fails, in a stable order; empty when the shopper may go ahead.
    `state`: the device's DeviceState (or None) when the caller has just read it; read here otherwise."""
    from openvend.devices.models import DeviceState

    if state is _READ_STATE:
        state = DeviceState.objects.filter(device_id=device.pk).first()
    attempt = Attempt(device=device, consumer=consumer, method=method, now=now or timezone.now(), state=state)
    return [failure for check in PRECONDITIONS if (failure := check(attempt)) is not None]
