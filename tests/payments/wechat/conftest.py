from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from openvend.payments.providers.base import Credentials, Notification, Rejected, SubMerchant
from openvend.payments.providers.wechat import WeChatJsapiProvider, WeChatPayscoreProvider, WeChatProviderBase
from openvend.sandbox.runtime import SandboxServer
from openvend.sandbox.wechat import WeChatSandbox

SP_MCHID = "1900000100"
SUB_MCHID = "1900000109"
SUB_APPID = "wxsub0000000000001"
SERVICE_ID = "00004000000000000000000000000001"
SHOPPER = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@dataclass
class Receiver:
    """Our notification endpoint in miniature: verifies and parses through the provider, answers with
    the provider's reply (or a forced status), and records everything."""

    provider: WeChatProviderBase | None = None
    fail_first: int = 0  # answer 500 to this many deliveries first (to watch retries)
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    rejections: list[Rejected] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        with self._lock:
            self.raw.append((headers, body))
            failing = len(self.raw) <= self.fail_first
        status, reply = 200, b'{"code":"SUCCESS"}'
        if failing:
            status, reply = 500, b'{"code":"FAIL","message":"busy"}'
        elif self.provider is not None:
            try:
                notification = self.provider.parse_notification(headers, body)
                with self._lock:
                    self.notifications.append(notification)
                answer = self.provider.notification_reply(True)
            except Rejected as exc:
                with self._lock:
                    self.rejections.append(exc)
                answer = self.provider.notification_reply(False)
            status, reply = answer.status, answer.body
        start_response(
            f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(reply)))]
        )
        return [reply]

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Notification]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.notifications) >= count:
                    return list(self.notifications)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} notifications, got {len(self.notifications)}")


@pytest.fixture
def sandbox(receiver: Receiver) -> Iterator[WeChatSandbox]:
    # Depends on the receiver so that it is still listening while the courier drains at teardown.
    sb = WeChatSandbox(time_scale=0.001)
    sb.start()
    sb.add_sub_merchant(SUB_MCHID, SUB_APPID, SERVICE_ID)
    yield sb
    sb.courier.wait_idle(5)
    sb.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = SandboxServer(rec).start()
    rec.url = server.url + "/notify/wechat"
    yield rec
    server.stop()


@pytest.fixture
def provisioned(sandbox: WeChatSandbox) -> dict[str, Any]:
    return sandbox.provision_merchant(SP_MCHID)


@pytest.fixture
def creds(provisioned: dict[str, Any], receiver: Receiver) -> Credentials:
    """Public-key mode: the platform public key and its id, no certificates."""
    values = {**provisioned, "gateway_certificates": {}}
    return Credentials(**values, payscore_service_id=SERVICE_ID, notify_url=receiver.url)


@pytest.fixture
def sub() -> SubMerchant:
    return SubMerchant(sub_mchid=SUB_MCHID)


@pytest.fixture
def jsapi(creds: Credentials, receiver: Receiver) -> WeChatJsapiProvider:
    provider = WeChatJsapiProvider(creds)
    receiver.provider = provider
    return provider


@pytest.fixture
def payscore(creds: Credentials, receiver: Receiver) -> WeChatPayscoreProvider:
    provider = WeChatPayscoreProvider(creds)
    receiver.provider = provider
    return provider


# -- the shopper's taps on the sandbox pages -----------------------------------------------------------


def pay_at_cashier(cashier_url: str, redirect_url: str = "https://h5.example.com/paid") -> httpx.Response:
    """Open the cashier page, then press its Pay button (the form posts back to the same path)."""
    page = httpx.get(f"{cashier_url}&redirect_url={redirect_url}")
    assert page.status_code == 200 and "立即支付 / Pay now" in page.text
    prepay_id = cashier_url.split("prepay_id=")[1].split("&")[0]
    return httpx.post(cashier_url.split("?")[0], data={"prepay_id": prepay_id, "redirect_url": redirect_url})


def agree_permission(confirm_url: str, openid: str = SHOPPER) -> httpx.Response:
    page = httpx.get(confirm_url)
    assert page.status_code == 200 and "同意并开启 / Agree" in page.text
    params = httpx.URL(confirm_url).params
    data = {
        "apply_permissions_token": params["apply_permissions_token"],
        "openid": openid,
        "decision": "allow",
        "return_url": params.get("return_url", ""),
    }
    return httpx.post(confirm_url.split("?")[0], data=data)


def confirm_service_order(confirm_url: str, openid: str = SHOPPER, redirect_url: str = "") -> httpx.Response:
    page = httpx.get(confirm_url)
    assert page.status_code == 200 and "确认订单 / Confirm" in page.text
    package = httpx.URL(confirm_url).params["package"]
    data = {"package": package, "openid": openid, "redirect_url": redirect_url}
    return httpx.post(confirm_url.split("?")[0], data=data)
