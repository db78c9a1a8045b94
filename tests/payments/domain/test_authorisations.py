"""Pay-after authorisations: started with the provider's next step, activated by notification or
query, one active per shopper, merchant and method; the wallet's is active at once."""

from __future__ import annotations

import pytest

from openvend.payments.choices import AuthorisationState, PaymentMethod
from openvend.payments.models import PayAfterAuthorisation
from openvend.payments.providers.base import AuthorisationResult
from openvend.payments.providers.base import AuthorisationState as ProviderState
from openvend.payments.selectors import active_authorisation, authorisations_of
from openvend.payments.services.authorisations import (
    apply_authorisation,
    refresh_authorisation,
    revoke_authorisation,
    start_authorisation,
)
from openvend.payments.services.charging import create_payment
from openvend.payments.services.errors import PaymentErrorCode, PaymentRuleError
from tests.payments.domain.conftest import Shop
from tests.payments.domain.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db


def _start(shop: Shop, method: str = PaymentMethod.ALIPAY_AGREEMENT) -> tuple[PayAfterAuthorisation, dict]:
    return start_authorisation(
        merchant=shop.merchant,
        consumer=shop.consumer,
        method=method,
        payer_id="2088102",
        return_url="https://x/back",
    )


def test_start_returns_the_providers_page_and_waits(shop: Shop, alipay: ScriptedProvider) -> None:
    authorisation, next_action = _start(shop)
    assert authorisation.state == AuthorisationState.PENDING
    assert next_action == {"url": f"https://pay.example/confirm/{authorisation.out_request_no}"}
    [request] = alipay.called("authorise")
    assert (request.out_request_no, request.payer_id, request.return_url) == (
        authorisation.out_request_no,
        "2088102",
        "https://x/back",
    )
    again, _ = _start(shop)
    assert again.pk == authorisation.pk  # a second tap asks again with the same number
    assert PayAfterAuthorisation.objects.count() == 1


def test_refresh_activates_and_agreement_pay_may_use_it(shop: Shop, alipay: ScriptedProvider) -> None:
    authorisation, _ = _start(shop)
    refresh_authorisation(authorisation)
    assert (authorisation.state, authorisation.authorisation_ref) == (AuthorisationState.ACTIVE, "AG-1")
    assert active_authorisation(shop.merchant, shop.consumer, PaymentMethod.ALIPAY_AGREEMENT) == authorisation
    payment = create_payment(
        merchant=shop.merchant,
        order_ref="ORD5",
        amount_fen=300,
        method=PaymentMethod.ALIPAY_AGREEMENT,
        description="Water",
        consumer=shop.consumer,
        authorisation=authorisation,
    )
    assert payment.payer_id == "2088102"
    revoke_authorisation(authorisation, "shopper asked")
    assert authorisation.state == AuthorisationState.REVOKED
    assert alipay.called("revoke_authorisation") == ["2088102"]
    with pytest.raises(PaymentRuleError) as refused:
        create_payment(
            merchant=shop.merchant,
            order_ref="ORD6",
            amount_fen=300,
            method=PaymentMethod.ALIPAY_AGREEMENT,
            description="Water",
            consumer=shop.consumer,
            authorisation=authorisation,
        )
    assert refused.value.code == PaymentErrorCode.AUTHORISATION_REQUIRED


def test_one_active_authorisation_per_shopper_merchant_and_method(
    shop: Shop, alipay: ScriptedProvider
) -> None:
    first, _ = _start(shop)
    apply_authorisation(first, AuthorisationResult(ProviderState.ACTIVE, authorisation_ref="AG-1"))
    second = PayAfterAuthorisation.objects.create(
        merchant=shop.merchant,
        consumer=shop.consumer,
        method=PaymentMethod.ALIPAY_AGREEMENT,
        payer_id="2088102",
        out_request_no="AU-second",
    )
    assert (
        apply_authorisation(second, AuthorisationResult(ProviderState.ACTIVE, authorisation_ref="AG-2"))
        is True
    )
    first.refresh_from_db()
    assert (first.state, second.state) == (AuthorisationState.REVOKED, AuthorisationState.ACTIVE)
    assert apply_authorisation(second, AuthorisationResult(ProviderState.PENDING)) is False  # never undone
    assert PayAfterAuthorisation.objects.get(pk=second.pk).state == AuthorisationState.ACTIVE
    assert list(authorisations_of(shop.consumer)) == [second, first]


def test_wallet_authorisation_is_active_at_once(shop: Shop) -> None:
    authorisation, next_action = _start(shop, PaymentMethod.WALLET)
    assert (authorisation.state, next_action) == (AuthorisationState.ACTIVE, {})


def test_in_person_methods_have_no_authorisation(shop: Shop) -> None:
    with pytest.raises(PaymentRuleError) as refused:
        _start(shop, PaymentMethod.WECHAT_JSAPI)
    assert refused.value.code == PaymentErrorCode.INVALID_METHOD
    assert PayAfterAuthorisation.objects.count() == 0
