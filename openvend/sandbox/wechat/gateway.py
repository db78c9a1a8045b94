"""The sandbox gateway's core: platform keys, request authentication, response signing, dispatch.

Every /v3/ request must carry a valid WECHATPAY2-SHA256-RSA2048 Authorization from a registered
merchant key within +-5 minutes, or it gets 401 SIGN_ERROR. Every answer, errors included, is signed
with the platform key: under the public key id when the caller said it verifies in public-key mode
(Wechatpay-Serial: PUB_KEY_ID_...), otherwise under the platform certificate's serial.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from openvend.payments.protocols import wechat as proto
from openvend.payments.providers.base import Rejected
from openvend.sandbox.runtime import Courier
from openvend.sandbox.wechat.notify import Notifier
from openvend.sandbox.wechat.store import Merchant, Store
from openvend.sandbox.wechat.web import ApiError, Request, Response, Router, json_response, wsgi_reply

logger = logging.getLogger(__name__)

ApiHandler = Callable[..., tuple[int, dict[str, Any] | None]]
PageHandler = Callable[..., Response]


@dataclass(frozen=True)
class Platform:
    """The gateway's own signing identity: one RSA key, published both as a public key with an id
    (public-key mode) and inside a self-signed certificate (certificate mode)."""

    private_key_pem: str = field(repr=False)
    public_key_pem: str
    public_key_id: str
    certificate_pem: str
    certificate_serial: str

    @classmethod
    def generate(cls) -> Platform:
        private = proto.generate_private_key_pem()
        certificate, serial = proto.self_signed_certificate(private, "Tenpay.com Root CA sandbox")
        return cls(
            private_key_pem=private,
            public_key_pem=proto.public_key_pem(private),
            public_key_id=proto.PUBLIC_KEY_ID_PREFIX + secrets.token_hex(16).upper(),
            certificate_pem=certificate,
            certificate_serial=serial,
        )

    def headers(self, body: str, *, public_key_mode: bool) -> dict[str, str]:
        serial = self.public_key_id if public_key_mode else self.certificate_serial
        return proto.signed_headers(self.private_key_pem, serial, body)


class Gateway:
    def __init__(self, time_scale: float = 1.0):
        self.store = Store()
        self.platform = Platform.generate()
        self.courier = Courier(time_scale=time_scale)
        self.notifier = Notifier(self.store, self.courier, self._sign_notification)
        self.api = Router()
        self.pages = Router()
        self.base_url = ""

    # -- routing ---------------------------------------------------------------------------------------

    def add_api(self, method: str, pattern: str, handler: ApiHandler) -> None:
        self.api.add(method, pattern, handler)

    def add_page(self, method: str, pattern: str, handler: PageHandler) -> None:
        self.pages.add(method, pattern, handler)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        api = request.path.startswith("/v3/")
        response = self.handle_api(request) if api else self.handle_page(request)
        return wsgi_reply(response, start_response)

    def handle_page(self, request: Request) -> Response:
        try:
            found = self.pages.match(request.method, request.path)
            if found is None:
                return json_response(404, {"code": "NOT_FOUND", "message": "页面不存在 / no such page"})
            handler, params = found
            return handler(self, request, **params)
        except ApiError as exc:
            return json_response(exc.status, {"code": exc.code, "message": exc.message})

    def handle_api(self, request: Request) -> Response:
        # The certificate list is signed by a certificate: it is how certificate-mode clients bootstrap.
        public_key_mode = request.path != "/v3/certificates" and request.headers.get(
            "wechatpay-serial", ""
        ).startswith(proto.PUBLIC_KEY_ID_PREFIX)
        try:
            merchant = self.authenticate(request)
            found = self.api.match(request.method, request.path)
            if found is None:
                raise ApiError(404, "NOT_FOUND", "接口不存在 / no such API")
            handler, params = found
            with self.store.lock:
                status, data = handler(self, merchant, request, **params)
        except ApiError as exc:
            status, data = exc.status, {"code": exc.code, "message": exc.message}
        except Exception:
            logger.exception("sandbox wechat: handler failed")
            status, data = 500, {"code": "SYSTEM_ERROR", "message": "系统错误 / system error"}
        response = json_response(status, data)
        response.headers.update(
            self.platform.headers(response.body.decode(), public_key_mode=public_key_mode)
        )
        return response

    # -- authentication --------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Merchant:
        header = request.headers.get("authorization", "")
        try:
            auth = proto.parse_authorization(header)
            proto.check_timestamp(auth.timestamp)
        except Rejected as exc:
            raise ApiError(401, "SIGN_ERROR", f"签名错误 / signature error: {exc.reason.value}") from None
        merchant = self.store.merchants.get(auth.mch_id)
        if merchant is None or merchant.serial_no.upper() != auth.serial_no.upper():
            raise ApiError(401, "SIGN_ERROR", "商户证书序列号有误 / unknown merchant or certificate serial")
        body = request.body.decode("utf-8", errors="replace")
        for url in request.signed_url_candidates():
            message = proto.request_message(request.method, url, auth.timestamp, auth.nonce_str, body)
            if proto.verify(merchant.public_key_pem, message, auth.signature):
                return merchant
        raise ApiError(401, "SIGN_ERROR", "签名错误 / signature does not verify")

    # -- signing ---------------------------------------------------------------------------------------

    def _sign_notification(self, merchant: Merchant, body: str) -> dict[str, str]:
        return self.platform.headers(body, public_key_mode=merchant.mode == "public_key")
