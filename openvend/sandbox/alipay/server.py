"""The Alipay sandbox: a local gateway speaking the OpenAPI protocol (RSA2 both ways), its shopper pages
and its notifications.

    sandbox = AlipaySandbox(time_scale=0.001)
    sandbox.start()
    creds = sandbox.provision_app("2021000000000001")   # everything a client needs
    ...
    sandbox.stop()
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode

from openvend.payments.protocols import alipay as wire
from openvend.sandbox.alipay import pages
from openvend.sandbox.alipay.call import GatewayError, invalid
from openvend.sandbox.alipay.gateway import Gateway
from openvend.sandbox.alipay.shopper import OAUTH_PATH, PAGE_METHODS, Reply, ShopperPages, html_reply
from openvend.sandbox.alipay.state import (
    App,
    AuthorisationFault,
    ChargeFault,
    Faults,
    PageTicket,
    digits,
    new_pid,
)
from openvend.sandbox.runtime import Courier, Delivery, NotifyFault, SandboxServer

logger = logging.getLogger(__name__)

# Alipay retries an unacknowledged notification 7 times over about 25 hours.
RETRY_SCHEDULE_S = (4 * 60.0, 10 * 60.0, 10 * 60.0, 3600.0, 2 * 3600.0, 6 * 3600.0, 15 * 3600.0)
_FORM = "application/x-www-form-urlencoded; charset=utf-8"


def _is_ack(status: int, body: bytes) -> bool:
    return status == HTTPStatus.OK and body == b"success"


class _FreshlySignedDelivery(Delivery):
    """Alipay stamps notify_time when it sends, so each attempt (retries hours later included) is
    rendered and signed afresh; notify_id stays the same."""

    def __init__(self, render: Callable[[], bytes], **kwargs: Any):
        self._render = render
        super().__init__(body=b"", **kwargs)

    @property  # type: ignore[override]
    def body(self) -> bytes:
        return self._render()

    @body.setter
    def body(self, value: bytes) -> None:
        pass  # the body is always rendered


class AlipaySandbox(ShopperPages):
    def __init__(self, time_scale: float = 1.0):
        self._keys = wire.generate_key_pair()
        self.public_key_pem = self._keys.public_key_pem
        self.courier = Courier(time_scale=time_scale)
        self.gateway = Gateway(Faults(), self._send_notification)
        self._tickets: dict[str, PageTicket] = {}
        self._server: SandboxServer | None = None

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = SandboxServer(self, host, port).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not serving; call start() first")
        return self._server.url

    @property
    def gateway_url(self) -> str:
        return self.url + "/gateway.do"

    @property
    def faults(self) -> Faults:
        return self.gateway.faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self.gateway.faults = value

    @property
    def deliveries(self) -> list[Delivery]:
        return self.courier.deliveries

    # --- set-up --------------------------------------------------------------------------------------

    def register_app(self, app_id: str, public_key_pem: str, pid: str | None = None) -> str:
        """Trust an app's own public key (an SDK's keys); returns the PID the app settles to."""
        wire.load_public_key(public_key_pem)
        with self.gateway.lock:
            app = App(app_id, pid or new_pid(), public_key_pem)
            self.gateway.state.apps[app_id] = app
        return app.pid

    def provision_app(self, app_id: str, pid: str | None = None) -> dict[str, str]:
        """Generate our app key pair, register it and return every value a client needs."""
        keys = wire.generate_key_pair()
        pid = self.register_app(app_id, keys.public_key_pem, pid)
        return {
            "app_id": app_id,
            "mch_id": pid,
            "private_key_pem": keys.private_key_pem,
            "gateway_public_key_pem": self.public_key_pem,
            "base_url": self.gateway_url,
        }

    def add_sub_merchant(self, app_auth_token: str, smid: str) -> None:
        with self.gateway.lock:
            self.gateway.state.sub_merchants[app_auth_token] = smid

    def set_balance(self, user_id: str, fen: int) -> None:
        with self.gateway.lock:
            self.gateway.shopper(user_id).balance_fen = fen

    def balance(self, user_id: str) -> int:
        with self.gateway.lock:
            return self.gateway.shopper(user_id).balance_fen

    def issue_payment_code(self, user_id: str) -> str:
        """A shopper's payment bar code (付款码) for scene=bar_code trades."""
        code = "28" + digits(16)
        with self.gateway.lock:
            self.gateway.shopper(user_id)
            self.gateway.state.payment_codes[code] = user_id
        return code

    # --- notifications -------------------------------------------------------------------------------

    def _send_notification(self, url: str, fields: dict[str, str], kind: str) -> None:
        if not url:
            return
        base = {
            **fields,
            "notify_id": uuid.uuid4().hex,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
        }

        def render() -> bytes:
            params = {k: v for k, v in base.items() if v}  # empty fields are never sent
            if kind == "message":
                params["utc_timestamp"] = wire.utc_timestamp_ms()
            else:
                params["notify_time"] = wire.format_timestamp()
            params["sign"] = wire.sign_notification(params, self._keys.private_key_pem)
            return urlencode(params).encode()

        faults = self.faults
        self.courier.send(
            _FreshlySignedDelivery(
                render,
                url=url,
                headers={"Content-Type": _FORM},
                schedule_s=RETRY_SCHEDULE_S,
                is_ack=_is_ack,
                fault=faults.notification,
                delay_s=faults.notification_delay_s,
            )
        )

    # --- WSGI ----------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            status, headers, body = self._route(environ)
        except Exception:  # a sandbox bug must answer, not hang the client
            logger.exception("alipay sandbox failed")
            status, headers, body = (
                HTTPStatus.INTERNAL_SERVER_ERROR,
                [("Content-Type", "text/plain")],
                b"error",
            )
        start_response(
            f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(body)))]
        )
        return [body]

    def _route(self, environ: dict[str, Any]) -> Reply:
        path = environ.get("PATH_INFO", "/")
        verb = environ.get("REQUEST_METHOD", "GET")
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        raw = b""
        if verb == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
        if path == "/sandbox/control":
            return self._control(verb, raw)
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)) if raw else {}
        params = {**query, **form}
        if path == "/gateway.do":
            return self._gateway(params)
        if path == "/pages/confirm" and verb == "POST":
            return self._page_decision(params)
        if path == OAUTH_PATH:
            return self._oauth(verb, params)
        if path == "/":
            with self.gateway.lock:
                apps = list(self.gateway.state.apps)
            return html_reply(pages.index(self.gateway_url, apps))
        return html_reply(
            pages.message("Not found", "没有这个页面 / No such page", error=True), HTTPStatus.NOT_FOUND
        )

    # --- the gateway ---------------------------------------------------------------------------------

    def _gateway(self, params: dict[str, str]) -> Reply:
        method = params.get("method", "")
        if method in PAGE_METHODS:
            return self._open_page(method, params)
        name = wire.response_node_name(method) if method else "error_response"
        with self.gateway.lock:
            signer = self._keys.private_key_pem if params.get("app_id") in self.gateway.state.apps else None
            try:
                if not method:
                    raise GatewayError(
                        "40001", "Missing Required Arguments", "isv.missing-method", "缺少方法名参数"
                    )
                call = self.gateway.authenticate(params)
                handler = self.gateway.handlers.get(method)
                if handler is None:
                    raise invalid("isv.invalid-method", "不存在的方法名")
                node: dict[str, Any] = {"code": wire.SUCCESS_CODE, "msg": "Success", **handler(call)}
            except GatewayError as exc:
                node = exc.node()
        body = wire.build_named_response(name, node, signer)
        return HTTPStatus.OK, [("Content-Type", "application/json; charset=utf-8")], body.encode()

    # --- control -------------------------------------------------------------------------------------

    def _control(self, verb: str, raw: bytes) -> Reply:
        if verb == "POST":
            try:
                self.apply_control(json.loads(raw or b"{}"))
            except (ValueError, TypeError) as exc:
                body = json.dumps({"error": str(exc)}).encode()
                return HTTPStatus.BAD_REQUEST, [("Content-Type", "application/json")], body
        return (
            HTTPStatus.OK,
            [("Content-Type", "application/json")],
            json.dumps(self.faults.as_dict()).encode(),
        )

    def apply_control(self, command: dict[str, Any]) -> None:
        """Set faults (and balances) from a JSON command, the way POST /sandbox/control does."""
        if not isinstance(command, dict):
            raise ValueError("expected a JSON object")
        allowed = {
            "charge": (ChargeFault.NONE, ChargeFault.INSUFFICIENT_BALANCE),
            "authorisation": (AuthorisationFault.NONE, AuthorisationFault.REVOKED),
            "notification": (NotifyFault.NONE, NotifyFault.LOST, NotifyFault.DUPLICATE, NotifyFault.DELAYED),
        }
        for key, values in allowed.items():
            if key in command and command[key] not in values:
                raise ValueError(f"{key} must be one of {values}")
        faults = self.faults
        faults.charge = command.get("charge", faults.charge)
        faults.authorisation = command.get("authorisation", faults.authorisation)
        faults.notification = command.get("notification", faults.notification)
        faults.notification_delay_s = float(command.get("notification_delay_s", faults.notification_delay_s))
        for user_id, fen in (command.get("balances") or {}).items():
            if not isinstance(fen, int) or isinstance(fen, bool) or fen < 0:
                raise ValueError("balances are non-negative integer fen")
            self.set_balance(str(user_id), fen)

    def serve_forever(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_ready: Callable[[AlipaySandbox], None] | None = None,
    ) -> None:
        """Serve in the calling thread (the command line); on_ready runs once the port is bound."""
        self._server = SandboxServer(self, host, port)
        if on_ready is not None:
            on_ready(self)
        try:
            self._server.serve_forever()
        finally:
            self._server = None


DEMO_APP_ID = "2021000000000001"


def main(host: str = "127.0.0.1", port: int = 8030, time_scale: float = 1.0) -> int:
    """Serve the sandbox in the foreground and print the credentials of a provisioned app as JSON."""

    def announce(sandbox: AlipaySandbox) -> None:
        print(json.dumps(sandbox.provision_app(DEMO_APP_ID), indent=2, ensure_ascii=False), flush=True)
        print(f"Alipay sandbox gateway: {sandbox.gateway_url}", file=sys.stderr, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        AlipaySandbox(time_scale=time_scale).serve_forever(host, port, on_ready=announce)
    return 0
