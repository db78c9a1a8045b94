"""Fixtures of the payment configuration and shopper-page tests: payment permissions on the preset
roles, the console pages registered, and sandboxes with a provider account configured against them."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import NoReverseMatch, clear_url_caches, reverse

import openvend.consoles.admin.payment_config  # noqa: F401  (registers the payment console pages)
from openvend.accounts.models import Role
from openvend.payments import config_services
from openvend.payments.choices import GatewayMode, Provider
from openvend.sandbox.alipay import AlipaySandbox
from openvend.sandbox.wechat import WeChatSandbox

MERCHANT_PAYMENT_PERMISSIONS = (
    "payments.view_merchantpaymentconfig",
    "payments.add_merchantpaymentconfig",
    "payments.change_merchantpaymentconfig",
    "payments.view_sitepaymentmethod",
    "payments.add_sitepaymentmethod",
    "payments.change_sitepaymentmethod",
    "payments.delete_sitepaymentmethod",
    "payments.view_onboarding",
    "payments.add_onboarding",
    "payments.change_onboarding",
)
PLATFORM_PAYMENT_PERMISSIONS = (
    "payments.view_provideraccount",
    "payments.add_provideraccount",
    "payments.change_provideraccount",
    "payments.view_merchantpaymentconfig",
    "payments.view_sitepaymentmethod",
    "payments.view_onboarding",
    "payments.review_onboarding",
)
WECHAT_MCH_ID = "1900000100"
WECHAT_SUB_MCHID = "1900000109"
PAYSCORE_SERVICE_ID = "500001"
ALIPAY_APP_ID = "2021000000000001"
ALIPAY_APP_AUTH_TOKEN = "202501BBtoken0001"
ALIPAY_SMID = "2088000000000909"
# Our server is not listening in these tests: the sandboxes' notifications would go nowhere, and the
# pages recover the outcome by querying the provider, which is what they are meant to do anyway.
NOWHERE = "http://127.0.0.1:9/payments/notify/"


@pytest.fixture(autouse=True)
def _payment_console_urls() -> None:
    """Until the consoles package imports the payment pages itself, make sure the URLconf has them."""
    try:
        reverse("platform:payments_provideraccount_changelist")
    except NoReverseMatch:
        import openvend.config.urls

        importlib.reload(openvend.config.urls)
        clear_url_caches()


def grant(role: Role, codes: tuple[str, ...]) -> None:
    role.permissions = sorted({*(role.permissions or []), *codes})
    role.save(update_fields=["permissions"])


@pytest.fixture
def payment_roles(world_a: Any, world_b: Any, platform_admin: Any) -> None:
    for world in (world_a, world_b):
        grant(world.role("merchant_admin"), MERCHANT_PAYMENT_PERMISSIONS)
    grant(Role.objects.get(merchant=None, code="platform_admin"), PLATFORM_PAYMENT_PERMISSIONS)


@pytest.fixture
def wechat_sandbox() -> Iterator[WeChatSandbox]:
    sandbox = WeChatSandbox(time_scale=0.001)
    sandbox.start()
    sandbox.control(notification="lost")
    yield sandbox
    sandbox.stop()


@pytest.fixture
def alipay_sandbox() -> Iterator[AlipaySandbox]:
    sandbox = AlipaySandbox(time_scale=0.001)
    sandbox.start()
    sandbox.apply_control({"notification": "lost"})
    yield sandbox
    sandbox.stop()


@pytest.fixture
def wechat_credentials(db: Any, wechat_sandbox: WeChatSandbox) -> dict[str, Any]:
    """A WeChat provider account configured through the service from what the sandbox issued."""
    issued = wechat_sandbox.provision_merchant(WECHAT_MCH_ID)
    wechat_sandbox.add_sub_merchant(WECHAT_SUB_MCHID, "", PAYSCORE_SERVICE_ID)
    config_services.provider_account_save(
        actor=None,
        account=None,
        data={
            "provider": Provider.WECHAT,
            "base_url": issued["base_url"],
            "mch_id": issued["mch_id"],
            "app_id": issued["app_id"],
            "key_serial_no": issued["key_serial_no"],
            "gateway_mode": GatewayMode.PUBLIC_KEY,
            "gateway_public_key": issued["gateway_public_key_pem"],
            "gateway_public_key_id": issued["gateway_public_key_id"],
            "payscore_service_id": PAYSCORE_SERVICE_ID,
            "notify_url": NOWHERE,
        },
        private_key=issued["private_key_pem"],
        api_key=issued["api_key"],
        oauth_secret=issued["oauth_secret"],
    )
    return issued


@pytest.fixture
def alipay_credentials(db: Any, alipay_sandbox: AlipaySandbox) -> dict[str, Any]:
    issued = alipay_sandbox.provision_app(ALIPAY_APP_ID)
    alipay_sandbox.add_sub_merchant(ALIPAY_APP_AUTH_TOKEN, ALIPAY_SMID)
    config_services.provider_account_save(
        actor=None,
        account=None,
        data={
            "provider": Provider.ALIPAY,
            "base_url": issued["base_url"],
            "mch_id": issued["mch_id"],
            "app_id": issued["app_id"],
            "gateway_public_key": issued["gateway_public_key_pem"],
            "notify_url": NOWHERE,
        },
        private_key=issued["private_key_pem"],
    )
    return issued


def in_english(client: Any) -> Any:
    """Pages in the source language, so assertions on messages hold whatever the translations say."""
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client
