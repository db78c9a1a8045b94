"""The demo's payment side: both provider sandboxes in-process, the platform's accounts pointed at
them, and each demo merchant set up as a sub-merchant whose sites offer every payment method.

The sandboxes keep their state in memory and generate fresh keys on every start, so the accounts are
re-pointed each time the demo starts; the database keeps payments, authorisations and events."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from openvend.demo.fleet import free_port
from openvend.merchants.models import Merchant, Site
from openvend.payments import config_services
from openvend.payments.choices import GatewayMode, PaymentMethod, Provider
from openvend.payments.models import ProviderAccount
from openvend.sandbox.alipay import AlipaySandbox
from openvend.sandbox.wechat import WeChatSandbox

logger = logging.getLogger(__name__)

WECHAT_MCH_ID = "1900000100"
ALIPAY_APP_ID = "2021000100000001"
PAYSCORE_SERVICE_ID = "00004000000000000000000001"
# Notifications retry on the providers' real schedules shrunk a hundredfold: minutes become seconds.
TIME_SCALE = 0.01


@dataclass
class DemoPayments:
    wechat: WeChatSandbox
    alipay: AlipaySandbox

    def shopper_links(self, site_url: str) -> str:
        codes = Merchant.objects.filter(status="active").order_by("id").values_list("code", flat=True)
        return "  ".join(f"{site_url}/m/c/{code}/" for code in codes)

    def stop(self) -> None:
        for sandbox in (self.wechat, self.alipay):
            try:
                sandbox.stop()
            except Exception:
                logger.exception("demo payment sandbox failed to stop")


def _save_account(provider: str, data: dict[str, Any], **secrets: str) -> None:
    account = ProviderAccount.objects.filter(provider=provider).first()
    config_services.provider_account_save(
        actor=None, account=account, data={"provider": provider, **data}, **secrets
    )


def _wechat_ids(merchant: Merchant) -> tuple[str, str]:
    return f"19000{merchant.pk:05d}", f"wx00demo{merchant.pk:08d}"


def _alipay_ids(merchant: Merchant) -> tuple[str, str]:
    return f"demo-app-auth-token-{merchant.pk}", f"2088{merchant.pk:012d}"


def configure_demo_payments(wechat: WeChatSandbox, alipay: AlipaySandbox, site_url: str) -> None:
    issued = wechat.provision_merchant(WECHAT_MCH_ID)
    _save_account(
        Provider.WECHAT,
        {
            "base_url": issued["base_url"],
            "mch_id": issued["mch_id"],
            "app_id": issued["app_id"],
            "key_serial_no": issued["key_serial_no"],
            "gateway_mode": GatewayMode.PUBLIC_KEY,
            "gateway_public_key": issued["gateway_public_key_pem"],
            "gateway_public_key_id": issued["gateway_public_key_id"],
            "payscore_service_id": PAYSCORE_SERVICE_ID,
            "notify_url": f"{site_url}/pay/notify/wechat/",
            "oauth_url": issued["base_url"],
        },
        private_key=issued["private_key_pem"],
        api_key=issued["api_key"],
        oauth_secret=issued["oauth_secret"],
    )
    app = alipay.provision_app(ALIPAY_APP_ID)
    _save_account(
        Provider.ALIPAY,
        {
            "base_url": app["base_url"],
            "mch_id": app["mch_id"],
            "app_id": app["app_id"],
            "gateway_public_key": app["gateway_public_key_pem"],
            "payscore_service_id": PAYSCORE_SERVICE_ID,
            "notify_url": f"{site_url}/pay/notify/alipay/",
            "oauth_url": alipay.url,
        },
        private_key=app["private_key_pem"],
    )
    for merchant in Merchant.objects.filter(status="active"):
        sub_mchid, sub_appid = _wechat_ids(merchant)
        wechat.add_sub_merchant(sub_mchid, sub_appid, PAYSCORE_SERVICE_ID)
        token, smid = _alipay_ids(merchant)
        alipay.add_sub_merchant(token, smid)
        config_services.merchant_config_save(
            actor=None,
            merchant=merchant,
            data={"wechat_sub_mchid": sub_mchid, "alipay_smid": smid},
            app_auth_token=token,
        )
        config_services.site_methods_set(
            actor=None, sites=Site.objects.filter(merchant=merchant), methods=list(PaymentMethod.values)
        )


def start_demo_payments(site_url: str) -> DemoPayments:
    wechat = WeChatSandbox(time_scale=TIME_SCALE)
    wechat.start(port=free_port(18801))
    alipay = AlipaySandbox(time_scale=TIME_SCALE)
    alipay.start(port=free_port(18802))
    configure_demo_payments(wechat, alipay, site_url)
    return DemoPayments(wechat=wechat, alipay=alipay)
