"""Fixtures: a real Alipay sandbox on a free port, our providers pointed at it, and a tiny local HTTP
receiver standing in for our notification endpoint."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from openvend.payments.providers.alipay import (
    AlipayAgreementProvider,
    AlipayClient,
    AlipayWapProvider,
    AlipayZhimaProvider,
    parse_notification,
)
from openvend.payments.providers.base import Credentials, Notification, Rejected, SubMerchant
from openvend.sandbox.alipay import AlipaySandbox, Faults
from openvend.sandbox.alipay.state import DEFAULT_BALANCE_FEN
from openvend.sandbox.runtime import SandboxServer

SHOPPER = "2088000000000777"
RETURN_URL = "http://shop.example/back"
TIME_SCALE = 0.001  # Alipay's 4 min first retry becomes 0.24 s


@dataclass
class Received:
    body: bytes
    notification: Notification | None
    rejected: Rejected | None


@dataclass
class Receiver:
    """Our notification endpoint in miniature: verifies through parse_notification and answers
    `success` (or `fail` while `refuse_next` > 0)."""

    public_key_pem: str = ""
    refuse_next: int = 0
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        try:
            item = Received(body, parse_notification(body, self.public_key_pem), None)
        except Rejected as exc:
            item = Received(body, None, exc)
        with self._cond:
            ok = item.notification is not None and self.refuse_next <= 0
            if item.notification is not None and self.refuse_next > 0:
                self.refuse_next -= 1
            self.received.append(item)
            self._cond.notify_all()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"success" if ok else b"fail"]

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Notification]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return [r.notification for r in self.received if r.notification is not None]

    def reset(self) -> None:
        with self._cond:
            self.received.clear()
            self.refuse_next = 0

    def notifications(self) -> list[Notification]:
        with self._cond:
            return [r.notification for r in self.received if r.notification is not None]


@pytest.fixture(scope="session")
def _running_sandbox() -> Iterator[AlipaySandbox]:
    box = AlipaySandbox(time_scale=TIME_SCALE)
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def _running_receiver(_running_sandbox: AlipaySandbox) -> Iterator[Receiver]:
    rec = Receiver(public_key_pem=_running_sandbox.public_key_pem)
    server = SandboxServer(rec).start()
    rec.url = server.url + "/payments/alipay/notify"
    yield rec
    server.stop()


@pytest.fixture
def sandbox(_running_sandbox: AlipaySandbox) -> Iterator[AlipaySandbox]:
    """One sandbox for the session (stopping a server takes a poll interval); each test starts with
    no faults and the shopper's default balance, and gets an app of its own."""
    _running_sandbox.faults = Faults()
    _running_sandbox.set_balance(SHOPPER, DEFAULT_BALANCE_FEN)
    yield _running_sandbox
    assert _running_sandbox.courier.wait_idle(10.0)


@pytest.fixture
def receiver(_running_receiver: Receiver, sandbox: AlipaySandbox) -> Receiver:
    _running_receiver.reset()
    return _running_receiver


_app_numbers = itertools.count(1)


@pytest.fixture
def provisioned(sandbox: AlipaySandbox) -> dict[str, str]:
    return sandbox.provision_app(f"2021{next(_app_numbers):012d}")


@pytest.fixture
def credentials(provisioned: dict[str, str], receiver: Receiver) -> Credentials:
    return Credentials(
        base_url=provisioned["base_url"],
        mch_id=provisioned["mch_id"],
        app_id=provisioned["app_id"],
        private_key_pem=provisioned["private_key_pem"],
        gateway_public_key_pem=provisioned["gateway_public_key_pem"],
        notify_url=receiver.url,
    )


@pytest.fixture
def sub() -> SubMerchant:
    return SubMerchant()


@pytest.fixture
def client(credentials: Credentials) -> Iterator[AlipayClient]:
    c = AlipayClient(credentials)
    yield c
    c.close()


@pytest.fixture
def agreement_provider(credentials: Credentials, client: AlipayClient) -> AlipayAgreementProvider:
    return AlipayAgreementProvider(credentials, client=client)


@pytest.fixture
def zhima_provider(credentials: Credentials, client: AlipayClient) -> AlipayZhimaProvider:
    return AlipayZhimaProvider(credentials, client=client, zm_service_id="2022111500000000000093666900")


@pytest.fixture
def wap_provider(credentials: Credentials, client: AlipayClient) -> AlipayWapProvider:
    return AlipayWapProvider(credentials, client=client, return_url=RETURN_URL)


# --- driving the shopper pages like a browser --------------------------------------------------------


def ticket_of(html: str) -> str:
    match = re.search(r"name='ticket' value='([^']+)'", html)
    assert match, "the page has no form ticket"
    return match.group(1)


def shopper_confirms(sandbox: AlipaySandbox, page_url: str, user_id: str = SHOPPER) -> httpx.Response:
    """GET the sandbox page the client built, then POST its form as the shopper tapping Allow / Pay."""
    page = httpx.get(page_url)
    assert page.status_code == 200, page.text
    return httpx.post(
        sandbox.url + "/pages/confirm",
        data={"ticket": ticket_of(page.text), "user_id": user_id, "decision": "allow"},
    )


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
