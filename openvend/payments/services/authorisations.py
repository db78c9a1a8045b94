"""Pay-after authorisations: payscore permission, Alipay agreement, Zhima credit, the wallet.

Starting one records it first (committed, so the provider's notification can find it by our
out_request_no), then asks the provider, whose next_action sends the shopper to its confirm / sign
page. The outcome arrives as a notification or is fetched by `refresh_authorisation`; both go
through `apply_authorisation`. The wallet needs no provider page: its authorisation is active at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openvend.payments.choices import PAY_AFTER_METHODS, AuthorisationState, PaymentMethod
from openvend.payments.credentials import sub_merchant_for
from openvend.payments.models import PayAfterAuthorisation
from openvend.payments.providers.base import AuthorisationRequest, AuthorisationResult, ProviderError
from openvend.payments.providers.base import AuthorisationState as ProviderAuthorisationState
from openvend.payments.registry import provider_for
from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError

AUTHORISABLE_METHODS = frozenset({*PAY_AFTER_METHODS, PaymentMethod.WALLET})
TO_STATE: dict[ProviderAuthorisationState, str] = {
    ProviderAuthorisationState.PENDING: AuthorisationState.PENDING,
    ProviderAuthorisationState.ACTIVE: AuthorisationState.ACTIVE,
    ProviderAuthorisationState.REVOKED: AuthorisationState.REVOKED,
}


def _new_request_no() -> str:
    # Payscore authorization_code and Alipay external_agreement_no: at most 32 of [A-Za-z0-9].
    return f"AU{uuid.uuid4().hex[:30]}"


def start_authorisation(
    *, merchant: Any, consumer: Any, method: str, payer_id: str, return_url: str
) -> tuple[PayAfterAuthorisation, dict[str, Any]]:
    """Ask the shopper for pay-after authorisation. An active one is returned as it is; a pending one
    for the same payer is asked again with the same request number (a second tap changes nothing)."""
    if method not in AUTHORISABLE_METHODS:
        raise PaymentRuleError(
            PaymentErrorCode.INVALID_METHOD, _("This payment method has no pay-after authorisation.")
        )
    mine = PayAfterAuthorisation.objects.filter(merchant=merchant, consumer=consumer, method=method)
    active = mine.filter(state=AuthorisationState.ACTIVE).first()
    if active is not None:
        return active, {}
    authorisation = mine.filter(state=AuthorisationState.PENDING, payer_id=payer_id).order_by("-id").first()
    if authorisation is None:
        authorisation = PayAfterAuthorisation.objects.create(
            merchant=merchant,
            consumer=consumer,
            method=method,
            payer_id=payer_id,
            out_request_no=_new_request_no(),
        )
    request = AuthorisationRequest(
        out_request_no=authorisation.out_request_no, payer_id=payer_id, return_url=return_url
    )
    try:
        result = provider_for(method).authorise(sub_merchant_for(merchant.pk), request)
    except ProviderError as exc:
        raise PaymentRuleError(
            PaymentErrorCode.PROVIDER_UNAVAILABLE, _("The payment provider could not be reached. Try again.")
        ) from exc
    apply_authorisation(authorisation, result)
    return authorisation, dict(result.next_action)


def apply_authorisation(authorisation: PayAfterAuthorisation, result: AuthorisationResult) -> bool:
    """Bring the authorisation in line with what the provider said. True when its state changed.

    A shopper has at most one active authorisation per merchant and method: activating a new one
    retires an older one still marked active."""
    target = TO_STATE.get(result.state)
    if target is None:
        return False
    with transaction.atomic():
        locked = PayAfterAuthorisation.objects.select_for_update().get(pk=authorisation.pk)
        changed = locked.state != target
        if target == AuthorisationState.PENDING and locked.state != AuthorisationState.PENDING:
            changed = False  # a late "pending" never undoes an answer already given
            target = locked.state
        now = timezone.now()
        if target == AuthorisationState.ACTIVE and changed:
            PayAfterAuthorisation.objects.filter(
                merchant_id=locked.merchant_id,
                consumer_id=locked.consumer_id,
                method=locked.method,
                state=AuthorisationState.ACTIVE,
            ).exclude(pk=locked.pk).update(state=AuthorisationState.REVOKED, revoked_at=now, updated_at=now)
            locked.activated_at = now
        if target == AuthorisationState.REVOKED and changed:
            locked.revoked_at = now
        locked.state = target
        if result.authorisation_ref:
            locked.authorisation_ref = result.authorisation_ref[:128]
        if result.payer_id and not locked.payer_id:
            locked.payer_id = result.payer_id[:128]
        locked.save()
    for name in ("state", "authorisation_ref", "payer_id", "activated_at", "revoked_at", "updated_at"):
        setattr(authorisation, name, getattr(locked, name))
    return changed


def refresh_authorisation(authorisation: PayAfterAuthorisation) -> PayAfterAuthorisation:
    """Ask the provider where the authorisation stands (a lost notification, a revocation made in the
    provider's app)."""
    result = provider_for(authorisation.method).query_authorisation(
        sub_merchant_for(authorisation.merchant_id),
        authorisation.payer_id,
        authorisation.authorisation_ref,
        authorisation.out_request_no,
    )
    if result.state == ProviderAuthorisationState.NOT_FOUND:
        return authorisation
    apply_authorisation(authorisation, result)
    return authorisation


def revoke_authorisation(authorisation: PayAfterAuthorisation, reason: str) -> PayAfterAuthorisation:
    """End the authorisation at the provider (when it was ever active there) and here."""
    if authorisation.state == AuthorisationState.REVOKED:
        return authorisation
    if authorisation.state == AuthorisationState.ACTIVE:
        try:
            result = provider_for(authorisation.method).revoke_authorisation(
                sub_merchant_for(authorisation.merchant_id),
                authorisation.payer_id,
                authorisation.authorisation_ref,
                reason,
            )
        except ProviderError as exc:
            raise PaymentRuleError(
                PaymentErrorCode.PROVIDER_UNAVAILABLE,
                _("The payment provider could not be reached. Try again."),
            ) from exc
        if result.state == ProviderAuthorisationState.ACTIVE:
            raise PaymentRuleError(
                PaymentErrorCode.PROVIDER_UNAVAILABLE,
                _("The payment provider did not end the authorisation."),
            )
    apply_authorisation(authorisation, AuthorisationResult(ProviderAuthorisationState.REVOKED))
    return authorisation
