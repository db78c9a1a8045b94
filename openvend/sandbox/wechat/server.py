"""`WeChatSandbox`: a local WeChat Pay v3 gateway on a free port, and `main` for the command line."""

from __future__ import annotations

import json
import secrets
import string
import threading
from typing import Any

from openvend.payments.protocols import wechat as proto
from openvend.sandbox.runtime import Courier, SandboxServer
from openvend.sandbox.wechat import api_pay, api_payscore, pages
from openvend.sandbox.wechat.gateway import Gateway
from openvend.sandbox.wechat.store import Faults, Merchant, Store, SubMerchantRecord

_ALNUM = string.ascii_letters + string.digits


def _random_key(length: int = 32) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


class WeChatSandbox:
    """A protocol-faithful WeChat Pay v3 gateway (service-provider mode) in this process.

    >>> sandbox = WeChatSandbox(time_scale=0.001); url = sandbox.start()
    >>> creds = sandbox.provision_merchant("1900000100")      # every Credentials field but notify_url
    >>> sandbox.add_sub_merchant("1900000109", "wxsub0001", "500001")
    """

    def __init__(self, time_scale: float = 1.0):
        self.gateway = Gateway(time_scale=time_scale)
        api_pay.register(self.gateway)
        api_payscore.register(self.gateway)
        pages.register(self.gateway)
        self._server: SandboxServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = SandboxServer(self.gateway, host, port).start()
        self.gateway.base_url = self._server.url
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        return self.gateway.base_url

    @property
    def store(self) -> Store:
        return self.gateway.store

    @property
    def courier(self) -> Courier:
        return self.gateway.courier

    @property
    def faults(self) -> Faults:
        """Set attributes directly (sandbox.faults.charge = "insufficient_balance") or use control()."""
        return self.gateway.store.faults

    def control(self, **settings: Any) -> dict[str, Any]:
        """The same as POST /sandbox/control: charge, authorisation, notification, notification_delay_s,
        refund, balances, reset."""
        return pages.apply_control(self.gateway, settings)

    # -- parties ---------------------------------------------------------------------------------------

    def register_merchant(
        self, mch_id: str, serial_no: str, public_key_pem: str, apiv3_key: str, *, mode: str = "public_key"
    ) -> None:
        """Trust a merchant's own request-signing key (an SDK's keys, for instance)."""
        if len(apiv3_key.encode()) != 32:
            raise ValueError("the APIv3 key must be 32 bytes")
        if mode not in ("public_key", "certificate"):
            raise ValueError("mode is 'public_key' or 'certificate'")
        with self.store.lock:
            self.store.merchants[mch_id] = Merchant(
                mch_id, serial_no.upper(), public_key_pem, apiv3_key, mode
            )

    def provision_merchant(
        self, mch_id: str, apiv3_key: str | None = None, *, app_id: str = "", mode: str = "public_key"
    ) -> dict[str, Any]:
        """Generate a merchant key pair and serial, register it, and return what a client needs; the keys
        are named like `Credentials` fields (add notify_url and payscore_service_id)."""
        private_key = proto.generate_private_key_pem()
        _, serial = proto.self_signed_certificate(private_key, f"{mch_id} merchant API certificate")
        api_key = apiv3_key or _random_key()
        self.register_merchant(mch_id, serial, proto.public_key_pem(private_key), api_key, mode=mode)
        app_id = app_id or "wx" + secrets.token_hex(8)
        secret = secrets.token_hex(16)
        with self.store.lock:
            self.store.app_secrets[app_id] = secret
        platform = self.gateway.platform
        return {
            "base_url": self.url,
            "mch_id": mch_id,
            "app_id": app_id,
            "private_key_pem": private_key,
            "key_serial_no": serial,
            "api_key": api_key,
            "gateway_public_key_pem": platform.public_key_pem,
            "gateway_public_key_id": platform.public_key_id,
            "gateway_certificates": {platform.certificate_serial: platform.certificate_pem},
            "oauth_secret": secret,
        }

    def set_merchant_mode(self, mch_id: str, mode: str) -> None:
        """How notifications to this merchant are signed: "public_key" or "certificate"."""
        with self.store.lock:
            self.store.merchants[mch_id].mode = mode

    def add_sub_merchant(self, sub_mchid: str, sub_appid: str = "", payscore_service_id: str = "") -> None:
        with self.store.lock:
            self.store.sub_merchants[sub_mchid] = SubMerchantRecord(sub_mchid, sub_appid, payscore_service_id)

    def set_balance(self, openid: str, fen: int) -> None:
        with self.store.lock:
            self.store.balances[openid] = fen

    def balance(self, openid: str) -> int:
        with self.store.lock:
            return self.store.balance(openid)

    def revoke_permission(self, openid: str) -> int:
        """The shopper turns the service off inside WeChat: every active authorisation of theirs ends
        and PAYSCORE.USER_CLOSE_SERVICE goes out. Returns how many ended."""
        with self.store.lock:
            active = [
                p for p in self.store.permissions.values() if p.openid == openid and p.state == "AVAILABLE"
            ]
            for permission in active:
                api_payscore.terminate(self.gateway, permission)
        return len(active)

    def __enter__(self) -> WeChatSandbox:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(host: str = "127.0.0.1", port: int = 8801, time_scale: float = 1.0) -> int:
    """Serve until interrupted; print a provisioned merchant and sub-merchant as JSON first."""
    sandbox = WeChatSandbox(time_scale=time_scale)
    url = sandbox.start(host, port)
    credentials = sandbox.provision_merchant("1900000100")
    sandbox.add_sub_merchant("1900000109", "wx" + secrets.token_hex(8), "500001")
    summary = {
        "url": url,
        "credentials": {**credentials, "payscore_service_id": "500001"},
        "sub_merchant": {
            "sub_mchid": "1900000109",
            "sub_appid": sandbox.store.sub_merchants["1900000109"].sub_appid,
        },
        "control": f"{url}/sandbox/control",
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
