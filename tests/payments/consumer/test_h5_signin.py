"""Shoppers sign in through the providers' OAuth, against the real sandboxes' pages."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from openvend.consumers.models import Consumer, ConsumerIdentity, ConsumerStatus
from openvend.merchants.choices import MerchantStatus
from openvend.mobile.consumer.session import SESSION_KEY
from openvend.payments import config_services
from openvend.payments.models import ProviderAccount
from tests.payments.consumer import browser
from tests.payments.consumer.conftest import in_english
from tests.payments.consumer.h5 import ALIPAY_USER, OPENID, base, sign_in_alipay, sign_in_wechat

pytestmark = pytest.mark.django_db


def test_wechat_sign_in_creates_the_consumer_once(
    client: Any, world_a: Any, wechat_credentials: dict, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    done = sign_in_wechat(client, world_a)
    assert done.status_code == 302 and done.url == f"{base(world_a)}/pay-after/"
    identity = ConsumerIdentity.objects.get()
    assert (identity.provider, identity.app_id, identity.subject) == (
        "wechat",
        wechat_credentials["app_id"],
        OPENID,
    )
    assert client.session[SESSION_KEY] == identity.consumer_id
    assert client.get(f"{base(world_a)}/pay-after/").status_code == 200
    # The AppSecret travelled in the token request's query string, and none of our log lines shows it
    # (the sandbox, standing in for WeChat's servers, keeps an access log of its own).
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("openvend.sandbox")]
    assert any("sns/oauth2/access_token" in line and "secret=***" in line for line in ours)
    assert all(wechat_credentials["oauth_secret"] not in line for line in ours)

    again = sign_in_wechat(type(client)(), world_a)
    assert again.status_code == 302
    assert Consumer.objects.count() == 1 and ConsumerIdentity.objects.count() == 1


def test_alipay_sign_in_creates_the_consumer(client: Any, world_a: Any, alipay_credentials: dict) -> None:
    done = sign_in_alipay(client, world_a)
    assert done.status_code == 302 and done.url == f"{base(world_a)}/pay-after/"
    identity = ConsumerIdentity.objects.get()
    assert (identity.provider, identity.app_id, identity.subject) == (
        "alipay",
        alipay_credentials["app_id"],
        ALIPAY_USER,
    )
    assert client.session[SESSION_KEY] == identity.consumer_id


def test_a_second_provider_joins_the_signed_in_consumer(
    client: Any, world_a: Any, wechat_credentials: dict, alipay_credentials: dict
) -> None:
    sign_in_wechat(client, world_a)
    sign_in_alipay(client, world_a)
    consumer = Consumer.objects.get()
    assert sorted(consumer.identities.values_list("provider", "subject")) == [
        ("alipay", ALIPAY_USER),
        ("wechat", OPENID),
    ]


def test_next_page_is_kept_through_the_sign_in(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    wanted = client.get(f"{base(world_a)}/orders/")
    assert wanted.status_code == 302
    assert wanted.url == f"{base(world_a)}/signin/?next=%2Fm%2Fc%2Falpha%2Forders%2F"
    done = sign_in_wechat(client, world_a, next_url=f"{base(world_a)}/orders/")
    assert done.url == f"{base(world_a)}/orders/"
    offsite = sign_in_wechat(type(client)(), world_a, next_url="https://evil.example.com/")
    assert offsite.url == f"{base(world_a)}/pay-after/"


def test_a_forged_or_replayed_callback_is_refused(
    client: Any, world_a: Any, wechat_credentials: dict
) -> None:
    in_english(client)
    start = client.get(f"{base(world_a)}/signin/wechat/")
    _page, form = browser.open_page(start.url)
    back = browser.submit(form, openid=OPENID)
    callback = browser.local_path(back.headers["location"])
    forged = client.get(callback.replace("state=", "state=x"))
    assert forged.status_code == 400
    assert "This sign-in link has expired." in forged.content.decode()
    # The state was used up by the forged attempt: the genuine answer cannot be replayed either.
    assert client.get(callback).status_code == 400
    assert not Consumer.objects.exists()


def test_a_wrong_app_secret_is_a_clear_refusal(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    account = ProviderAccount.objects.get(provider="wechat")
    config_services.provider_account_save(actor=None, account=account, data={}, oauth_secret="not-the-secret")
    done = sign_in_wechat(client, world_a)
    assert done.status_code == 400
    assert "WeChat did not confirm who you are." in done.content.decode()
    assert not Consumer.objects.exists()


def test_a_frozen_consumer_is_told(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    sign_in_wechat(client, world_a)
    Consumer.objects.update(status=ConsumerStatus.FROZEN)
    page = client.get(f"{base(world_a)}/pay-after/")
    assert page.status_code == 403
    assert "Your account is frozen" in page.content.decode()
    again = sign_in_wechat(type(client)(), world_a)
    assert again.status_code == 403 and "Your account is frozen" in again.content.decode()
    assert SESSION_KEY not in again.wsgi_request.session


def test_unknown_and_inactive_merchants_are_404(client: Any, world_a: Any, wechat_credentials: dict) -> None:
    assert client.get("/m/c/no-such-merchant/signin/").status_code == 404
    assert client.get("/m/c/no-such-merchant/pay-after/").status_code == 404
    world_a.merchant.status = MerchantStatus.FROZEN
    world_a.merchant.save(update_fields=["status"])
    assert client.get(f"{base(world_a)}/signin/").status_code == 404
    assert client.get(f"{base(world_a)}/signin/wechat/").status_code == 404


def test_signing_in_without_a_configured_provider_is_a_clear_message(client: Any, world_a: Any) -> None:
    in_english(client)
    page = client.get(f"{base(world_a)}/signin/")
    assert page.status_code == 200
    assert "Online payment is not available here yet." in page.content.decode()
    refused = client.get(f"{base(world_a)}/signin/wechat/")
    assert refused.status_code == 409
    assert "This payment method is not available here yet." in refused.content.decode()


def test_a_shopper_session_is_not_a_staff_session(
    client: Any, world_a: Any, wechat_credentials: dict
) -> None:
    sign_in_wechat(client, world_a)
    assert client.get("/console/").status_code == 302  # the console still asks staff to sign in
    assert client.get("/m/").status_code == 302
    signed_out = client.post(f"{base(world_a)}/signout/")
    assert signed_out.status_code == 302 and SESSION_KEY not in client.session
