"""Receiving provider notifications: verify, deduplicate, cross-check, apply — once.

1. The provider object verifies the signature, timestamp and key and decrypts (`parse_notification`).
   A `Rejected` notification changes nothing and is not recorded: its id cannot be trusted, and
   recording it would let a forger block the real notification with that id.
2. The notification id is inserted into ProviderNotification in the same transaction as the change it
   causes. The unique (provider, notification_id) makes a second delivery — even one arriving at the
   same moment on another connection — fail with IntegrityError: it is answered with success and
   does nothing.
3. What it says is cross-checked against our records: the out_trade_no / out_refund_no must be ours,
   the amount ours, and the merchant ids and app id those we configured. A mismatch is recorded as
   REJECTED and not applied.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from django.db import IntegrityError, transaction

from openvend.payments.choices import PROVIDER_OF, NotificationOutcome, Provider
from openvend.payments.credentials import credentials_for, sub_merchant_for
from openvend.payments.errors import PaymentError
from openvend.payments.models import PayAfterAuthorisation, Payment, ProviderNotification, Refund
from openvend.payments.providers.base import (
    AuthorisationResult,
    AuthorisationState,
    ChargeResult,
    ChargeState,
    EventType,
    HttpReply,
    Notification,
    PaymentProvider,
    RefundResult,
    RefundState,
    Rejected,
    RejectReason,
)
from openvend.payments.registry import notification_provider
from openvend.payments.services.authorisations import apply_authorisation
from openvend.payments.services.results import apply_charge_result, apply_refund_result
from openvend.payments.services.states import record_event

logger = logging.getLogger(__name__)

# How many notifications ended which way, per provider (rejected ones have no row to count).
stats: Counter[str] = Counter()
_stats_lock = threading.Lock()

CHARGE_EVENTS = {
    EventType.PAYMENT_PAID: ChargeState.PAID,
    EventType.PAYMENT_FAILED: ChargeState.FAILED,
    EventType.PAYMENT_CLOSED: ChargeState.CLOSED,
}
REFUND_EVENTS = {
    EventType.REFUND_SUCCEEDED: RefundState.SUCCEEDED,
    EventType.REFUND_FAILED: RefundState.FAILED,
}
AUTHORISATION_EVENTS = {
    EventType.AUTHORISATION_OPENED: AuthorisationState.ACTIVE,
    EventType.AUTHORISATION_CLOSED: AuthorisationState.REVOKED,
}


def _count(provider_name: str, outcome: str) -> None:
    with _stats_lock:
        stats[f"{provider_name}.{outcome}"] += 1


def _failure_reply(provider: PaymentProvider | None) -> HttpReply:
    if provider is None:
        return HttpReply(
            status=500, body=b'{"code":"FAIL","message":"not configured"}', content_type="application/json"
        )
    return provider.notification_reply(False)


def receive_notification(provider_name: str, headers: dict[str, str], body: bytes) -> HttpReply:
    """Handle one notification POST from `provider_name` and say what to answer."""
    try:
        provider = notification_provider(provider_name)
    except PaymentError:
        logger.error(
            "notification from a provider we are not configured for", extra={"provider": provider_name}
        )
        _count(provider_name, "unconfigured")
        return _failure_reply(None)
    try:
        notification = provider.parse_notification(headers, body)
    except Rejected as exc:
        # The reason and our own short description only: never the body, headers or keys.
        logger.warning("notification rejected", extra={"provider": provider_name, "reason": exc.reason.value})
        _count(provider_name, f"rejected.{exc.reason.value}")
        return provider.notification_reply(False)
    outcome = handle_notification(notification)
    _count(provider_name, outcome)
    return provider.notification_reply(outcome != NotificationOutcome.REJECTED)


def handle_notification(notification: Notification) -> str:
    """Deduplicate, cross-check and apply a verified notification. Returns the outcome, or "duplicate"."""
    try:
        with transaction.atomic():
            record = _claim(notification)
            if record is None:
                return "duplicate"
            try:
                outcome, payment, detail = _apply(notification)
            except Rejected as exc:
                outcome, payment, detail = (
                    NotificationOutcome.REJECTED,
                    None,
                    {"reason": exc.reason.value, "detail": exc.detail},
                )
                logger.warning(
                    "notification does not match our records",
                    extra={"provider": notification.provider, "notification": notification.notification_id},
                )
            ProviderNotification.objects.filter(pk=record.pk).update(
                outcome=outcome, payment=payment, detail={**record.detail, **detail}
            )
            return outcome
    except IntegrityError:
        return "duplicate"  # the same id committed by a concurrent delivery while we were waiting


def _claim(notification: Notification) -> ProviderNotification | None:
    """Insert the notification's id; None when it is already there (a duplicate delivery)."""
    try:
        with transaction.atomic():
            claimed: ProviderNotification = ProviderNotification.objects.create(
                provider=notification.provider,
                notification_id=notification.notification_id[:128],
                event_type=notification.event_type.value,
                outcome=NotificationOutcome.NO_CHANGE,
                detail=_summary(notification),
            )
            return claimed
    except IntegrityError:
        return None


def _summary(notification: Notification) -> dict[str, Any]:
    fields = (
        "out_trade_no",
        "out_refund_no",
        "out_request_no",
        "provider_trade_no",
        "amount_fen",
        "failure_code",
    )
    return {
        name: getattr(notification, name) for name in fields if getattr(notification, name) not in ("", None)
    }


def _mismatch(what: str) -> Rejected:
    return Rejected(RejectReason.MISMATCH, what)


def _check_ids(notification: Notification, merchant_id: int) -> None:
    """The merchant ids and app id in the notification must be the ones we configured."""
    credentials = credentials_for(notification.provider)
    sub = sub_merchant_for(merchant_id)
    if notification.mch_id and notification.mch_id != credentials.mch_id:
        raise _mismatch("mch_id")
    ours_sub = sub.sub_mchid if notification.provider == Provider.WECHAT else sub.smid
    if notification.sub_mchid and notification.sub_mchid != ours_sub:
        raise _mismatch("sub_mchid")
    if notification.app_id and notification.app_id not in {credentials.app_id, sub.sub_appid} - {""}:
        raise _mismatch("app_id")


def _payment_of(notification: Notification) -> Payment:
    payment: Payment | None = (
        Payment.objects.filter(out_trade_no=notification.out_trade_no, provider=notification.provider)
        .select_related("authorisation")
        .first()
        if notification.out_trade_no
        else None
    )
    if payment is None:
        raise _mismatch("out_trade_no")
    return payment


def _apply(notification: Notification) -> tuple[str, Payment | None, dict[str, Any]]:
    kind = "notification"
    detail = {"event_type": notification.event_type.value, "notification_id": notification.notification_id}
    event = notification.event_type
    if event in CHARGE_EVENTS or event == EventType.PAY_AFTER_CONFIRMED:
        payment = _payment_of(notification)
        if notification.amount_fen is not None and notification.amount_fen != payment.amount_fen:
            raise _mismatch("amount_fen")
        _check_ids(notification, payment.merchant_id)
        if event == EventType.PAY_AFTER_CONFIRMED:
            record_event(payment, "pay_after_confirmed", detail)
            return NotificationOutcome.APPLIED, payment, {}
        result = ChargeResult(
            CHARGE_EVENTS[event],
            provider_trade_no=notification.provider_trade_no,
            amount_fen=notification.amount_fen,
            failure_code=notification.failure_code,
        )
        changed = apply_charge_result(payment, result, kind=kind, detail=detail)
        return (NotificationOutcome.APPLIED if changed else NotificationOutcome.NO_CHANGE), payment, {}
    if event in REFUND_EVENTS:
        refund = (
            Refund.objects.select_related("payment")
            .filter(out_refund_no=notification.out_refund_no, payment__provider=notification.provider)
            .first()
            if notification.out_refund_no
            else None
        )
        if refund is None:
            raise _mismatch("out_refund_no")
        if notification.out_trade_no and notification.out_trade_no != refund.payment.out_trade_no:
            raise _mismatch("out_trade_no")
        # WeChat names this refund's amount; Alipay's refund_fee is the total refunded so far.
        expected = {refund.amount_fen, refund.payment.refunded_fen + refund.amount_fen}
        if notification.amount_fen is not None and notification.amount_fen not in expected:
            raise _mismatch("amount_fen")
        _check_ids(notification, refund.merchant_id)
        # The refund's own id at the provider comes with the response or a query; notifications
        # carry the trade's transaction id, which is not it.
        refund_result = RefundResult(REFUND_EVENTS[event], failure_code=notification.failure_code)
        changed = apply_refund_result(refund, refund_result, kind=kind, detail=detail)
        return (NotificationOutcome.APPLIED if changed else NotificationOutcome.NO_CHANGE), refund.payment, {}
    if event in AUTHORISATION_EVENTS:
        authorisation = _authorisation_of(notification)
        _check_ids(notification, authorisation.merchant_id)
        changed = apply_authorisation(
            authorisation,
            AuthorisationResult(
                AUTHORISATION_EVENTS[event],
                authorisation_ref=notification.authorisation_ref,
                payer_id=notification.payer_id,
            ),
        )
        outcome = NotificationOutcome.APPLIED if changed else NotificationOutcome.NO_CHANGE
        return outcome, None, {"authorisation": authorisation.pk}
    raise Rejected(RejectReason.MALFORMED, "event type")


def _authorisation_of(notification: Notification) -> PayAfterAuthorisation:
    """By our request number when the notification carries it, else by the provider's reference, else
    the payer's latest authorisation with this provider."""
    mine = PayAfterAuthorisation.objects.filter(method__in=_methods_of(notification.provider))
    found: PayAfterAuthorisation | None = None
    if notification.out_request_no:
        found = mine.filter(out_request_no=notification.out_request_no).first()
    elif notification.authorisation_ref:
        found = mine.filter(authorisation_ref=notification.authorisation_ref).order_by("-id").first()
    if found is None and not notification.out_request_no and notification.payer_id:
        found = mine.filter(payer_id=notification.payer_id).order_by("-id").first()
    if found is None:
        raise _mismatch("out_request_no")
    if notification.payer_id and found.payer_id and notification.payer_id != found.payer_id:
        raise _mismatch("payer_id")
    return found


def _methods_of(provider_name: str) -> list[str]:
    return [method for method, provider in PROVIDER_OF.items() if provider == provider_name]
