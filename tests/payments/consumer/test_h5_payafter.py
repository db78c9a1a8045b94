"""“My payment”: authorising pay-after through the sandboxes' real confirm / sign pages, seeing the
state, and revoking."""

from __future__ import annotations

from typing import Any

import pytest

from openvend.consumers.models import Consumer
from openvend.payments.choices import AuthorisationState
from openvend.payments.models import PayAfterAuthorisation
from openvend.payments.services import wallet
from tests.payments.consumer import browser
from tests.payments.consumer.h5 import (
    ALIPAY_USER,
    OPENID,
    base,
    set_up_merchant,
    sign_in_alipay,
    sign_in_wechat,
)

pytestmark = pytest.mark.django_db


def _state_on_page(client: Any, world: Any, method: str) -> str:
    page = client.get(f"{base(world)}/pay-after/").content.decode()
    marker = f'data-testid="method-{method}" data-state="'
    assert marker in page, page
    return page.split(marker, 1)[1].split('"', 1)[0]


def test_authorise_and_revoke_wechat_payscore(
    client: Any, world_a: Any, wechat_credentials: dict, wechat_sandbox: Any
) -> None:
    set_up_merchant(world_a, "wechat_payscore")
    sign_in_wechat(client, world_a)
    assert _state_on_page(client, world_a, "wechat_payscore") == "none"

    start = client.post(f"{base(world_a)}/pay-after/wechat_payscore/authorise/")
    assert start.status_code == 302
    assert start.url.startswith(f"{wechat_credentials['base_url']}/payscore/permissions/confirm?")
    page, form = browser.open_page(start.url)
    assert "开启微信支付分" in page.text
    assert form.fields["openid"] == OPENID  # the page knows who is confirming
    back = browser.submit(form, decision="allow")
    assert back.status_code == 302
    returned = client.get(browser.local_path(back.headers["location"]))
    assert returned.status_code == 200
    assert 'data-state="active"' in returned.content.decode()
    authorisation = PayAfterAuthorisation.objects.get()
    assert (authorisation.state, authorisation.method, authorisation.payer_id) == (
        "active",
        "wechat_payscore",
        OPENID,
    )
    assert _state_on_page(client, world_a, "wechat_payscore") == "active"

    assert client.get(f"{base(world_a)}/pay-after/wechat_payscore/revoke/").status_code == 200
    ended = client.post(f"{base(world_a)}/pay-after/wechat_payscore/revoke/", {"reason": "no_longer_needed"})
    assert ended.status_code == 302 and ended.url == f"{base(world_a)}/pay-after/"
    authorisation.refresh_from_db()
    assert authorisation.state == AuthorisationState.REVOKED and authorisation.revoked_at is not None
    assert [p.state for p in wechat_sandbox.store.permissions.values()] == ["UNBINDUSER"]
    assert _state_on_page(client, world_a, "wechat_payscore") == "revoked"


def test_declining_on_the_provider_page_leaves_it_unauthorised(
    client: Any, world_a: Any, wechat_credentials: dict
) -> None:
    set_up_merchant(world_a, "wechat_payscore")
    sign_in_wechat(client, world_a)
    start = client.post(f"{base(world_a)}/pay-after/wechat_payscore/authorise/")
    _page, form = browser.open_page(start.url)
    back = browser.submit(form, decision="deny")
    returned = client.get(browser.local_path(back.headers["location"]))
    assert 'data-state="pending"' in returned.content.decode()
    assert PayAfterAuthorisation.objects.get().state == AuthorisationState.PENDING
    assert _state_on_page(client, world_a, "wechat_payscore") == "pending"


def test_turning_payscore_off_inside_wechat_shows_as_revoked(
    client: Any, world_a: Any, wechat_credentials: dict, wechat_sandbox: Any
) -> None:
    set_up_merchant(world_a, "wechat_payscore")
    sign_in_wechat(client, world_a)
    start = client.post(f"{base(world_a)}/pay-after/wechat_payscore/authorise/")
    _page, form = browser.open_page(start.url)
    client.get(browser.local_path(browser.submit(form, decision="allow").headers["location"]))
    assert wechat_sandbox.revoke_permission(OPENID) == 1
    # Its notification is lost here; coming back to the page asks WeChat and finds out.
    returned = client.get(f"{base(world_a)}/pay-after/wechat_payscore/return/")
    assert 'data-state="revoked"' in returned.content.decode()
    assert PayAfterAuthorisation.objects.get().state == AuthorisationState.REVOKED


def test_authorise_alipay_agreement_through_the_sign_page(
    client: Any, world_a: Any, alipay_credentials: dict, alipay_sandbox: Any
) -> None:
    set_up_merchant(world_a, "alipay_agreement")
    sign_in_alipay(client, world_a)
    start = client.post(f"{base(world_a)}/pay-after/alipay_agreement/authorise/")
    assert start.status_code == 302 and start.url.startswith(alipay_credentials["base_url"])
    page, form = browser.open_page(start.url)
    assert "商家扣款协议" in page.text
    back = browser.submit(form, user_id=ALIPAY_USER, decision="allow")
    assert back.status_code == 302
    returned = client.get(browser.local_path(back.headers["location"]))
    assert returned.status_code == 200
    authorisation = PayAfterAuthorisation.objects.get()
    assert authorisation.state == AuthorisationState.ACTIVE, returned.content.decode()
    assert authorisation.authorisation_ref != ""
    ended = client.post(f"{base(world_a)}/pay-after/alipay_agreement/revoke/", {"reason": "other"})
    assert ended.status_code == 302
    authorisation.refresh_from_db()
    assert authorisation.state == AuthorisationState.REVOKED


def test_authorise_zhima_credit_pay_after_through_the_sign_page(
    client: Any, world_a: Any, alipay_credentials: dict, alipay_sandbox: Any
) -> None:
    set_up_merchant(world_a, "alipay_zhima")
    sign_in_alipay(client, world_a)
    assert _state_on_page(client, world_a, "alipay_zhima") == "none"
    start = client.post(f"{base(world_a)}/pay-after/alipay_zhima/authorise/")
    assert start.status_code == 302 and start.url.startswith(alipay_credentials["base_url"])
    page, form = browser.open_page(start.url)
    assert "芝麻先享" in page.text
    back = browser.submit(form, user_id=ALIPAY_USER, decision="allow")
    assert back.status_code == 302
    returned = client.get(browser.local_path(back.headers["location"]))
    assert returned.status_code == 200
    authorisation = PayAfterAuthorisation.objects.get()
    assert (authorisation.method, authorisation.state, authorisation.payer_id) == (
        "alipay_zhima",
        AuthorisationState.ACTIVE,
        ALIPAY_USER,
    )
    assert authorisation.authorisation_ref != ""
    assert _state_on_page(client, world_a, "alipay_zhima") == "active"


def test_authorising_alipay_after_a_wechat_sign_in_asks_alipay_who_you_are_first(
    client: Any, world_a: Any, wechat_credentials: dict, alipay_credentials: dict
) -> None:
    set_up_merchant(world_a, "alipay_agreement")
    sign_in_wechat(client, world_a)
    first = client.post(f"{base(world_a)}/pay-after/alipay_agreement/authorise/")
    assert first.status_code == 302
    assert first.url.startswith(f"{base(world_a)}/signin/alipay/?next=")
    oauth = client.get(first.url)
    _page, form = browser.open_page(oauth.url)
    back = browser.submit(form, user_id=ALIPAY_USER, decision="allow")
    done = client.get(browser.local_path(back.headers["location"]))
    assert done.url == f"{base(world_a)}/pay-after/"
    consumer = Consumer.objects.get()
    assert consumer.identities.count() == 2
    again = client.post(f"{base(world_a)}/pay-after/alipay_agreement/authorise/")
    assert again.url.startswith(alipay_credentials["base_url"])
    assert PayAfterAuthorisation.objects.get().payer_id == ALIPAY_USER


def test_wallet_pay_after_is_active_at_once_and_shows_the_balance(
    client: Any, world_a: Any, wechat_credentials: dict
) -> None:
    set_up_merchant(world_a, "wallet")
    sign_in_wechat(client, world_a)
    consumer = Consumer.objects.get()
    wallet.wallet_recharge(
        merchant_id=world_a.merchant.pk, consumer_id=consumer.pk, amount_fen=5000, idempotency_key="r1"
    )
    page = client.get(f"{base(world_a)}/pay-after/").content.decode()
    assert "¥50.00" in page
    start = client.post(f"{base(world_a)}/pay-after/wallet/authorise/")
    assert (
        start.status_code == 302 and start.url == f"http://testserver{base(world_a)}/pay-after/wallet/return/"
    )
    returned = client.get(browser.local_path(start.url))
    assert 'data-state="active"' in returned.content.decode()
    assert PayAfterAuthorisation.objects.get().state == AuthorisationState.ACTIVE


def test_a_method_not_offered_is_404(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    set_up_merchant(world_a, "wallet")
    sign_in_wechat(client, world_a)
    assert client.post(f"{base(world_a)}/pay-after/wechat_payscore/authorise/").status_code == 404
    assert client.post(f"{base(world_a)}/pay-after/bitcoin/authorise/").status_code == 404
    assert not PayAfterAuthorisation.objects.exists()


def test_a_refusing_provider_is_a_message_not_an_error(
    client: Any, world_a: Any, wechat_credentials: dict, wechat_sandbox: Any
) -> None:
    set_up_merchant(world_a, "wechat_payscore")
    sign_in_wechat(client, world_a)
    wechat_sandbox.stop()  # the gateway is gone
    refused = client.post(f"{base(world_a)}/pay-after/wechat_payscore/authorise/")
    assert refused.status_code == 409
    assert "The payment provider could not be reached. Try again." in refused.content.decode()
