"""A thin WeChat Pay API v3 client in service-provider (partner) mode.

Every request is signed with our merchant key; every response is verified against the platform
public key (public-key mode) or the platform certificates (certificate mode, downloaded from
/v3/certificates and decrypted with the APIv3 key when a serial is not known yet). Paths and field
names are the real v3 ones, so the same client talks to api.mch.weixin.qq.com or the sandbox.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from openvend.payments.protocols import wechat as proto
from openvend.payments.providers.base import Credentials, ProviderError, Rejected, RejectReason
from openvend.payments.providers.tls import tls_context

logger = logging.getLogger(__name__)

REAL_GATEWAY_HOSTS = ("api.mch.weixin.qq.com", "api2.mch.weixin.qq.com")
# Codes that mean "the same request may succeed later"; everything else 4xx is final.
RETRYABLE_CODES = frozenset(
    {"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "BANK_ERROR", "NETWORK_ERROR"}
)
NOT_FOUND_CODES = frozenset({"ORDER_NOT_EXIST", "ORDERNOTEXIST", "RESOURCE_NOT_EXISTS", "NOT_FOUND"})


def _seg(value: str) -> str:
    """A path segment: our ids are [A-Za-z0-9_-|*], quote anything else rather than trust it."""
    return quote(value, safe="-_|*")


def _query(**params: str) -> str:
    return urlencode({k: v for k, v in params.items() if v})


class WeChatPayClient:
    def __init__(
        self, credentials: Credentials, *, timeout_s: float = 10.0, http: httpx.Client | None = None
    ):
        self.credentials = credentials
        self._http = http or httpx.Client(
            base_url=credentials.base_url.rstrip("/"), timeout=timeout_s, verify=tls_context()
        )
        self._certificates: dict[str, str] = dict(credentials.gateway_certificates)
        self._cert_lock = threading.Lock()

    @property
    def is_real_gateway(self) -> bool:
        return any(host in self.credentials.base_url for host in REAL_GATEWAY_HOSTS)

    @property
    def certificate_mode(self) -> bool:
        return not (self.credentials.gateway_public_key_id and self.credentials.gateway_public_key_pem)

    def gateway_keys(self) -> proto.GatewayKeys:
        return proto.GatewayKeys(
            public_key_id=self.credentials.gateway_public_key_id,
            public_key_pem=self.credentials.gateway_public_key_pem,
            certificates=dict(self._certificates),
        )

    def verify(self, headers: Any, body: bytes | str) -> str:
        """Verify a response or notification; in certificate mode fetch the certificates once when the
        serial is new (WeChat rotates them), then insist."""
        try:
            return proto.verify_signed(headers, body, self.gateway_keys())
        except Rejected as exc:
            serial = proto.header_value(headers, "Wechatpay-Serial")
            unknown_cert = exc.reason == RejectReason.UNKNOWN_KEY and self.certificate_mode
            if not unknown_cert or serial.startswith(proto.PUBLIC_KEY_ID_PREFIX):
                raise
        self.download_certificates()
        return proto.verify_signed(headers, body, self.gateway_keys())

    # -- transport ----------------------------------------------------------------------------------

    def request(self, method: str, url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        response = self._send(method, url, body)
        # Success is always verified; an error is verified whenever it carries a signature (WeChat signs
        # them, a proxy's error page does not, and an error moves no money).
        if response.is_success or proto.header_value(response.headers, "Wechatpay-Signature"):
            self.verify(response.headers, response.content)
        return self._decode(response)

    def _send(self, method: str, url: str, body: str) -> httpx.Response:
        c = self.credentials
        authorization = proto.build_authorization(
            mch_id=c.mch_id,
            serial_no=c.key_serial_no,
            private_key_pem=c.private_key_pem,
            method=method,
            url=url,
            body=body,
        )
        headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "openvend-wechatpay/1",
        }
        if not self.certificate_mode:
            headers["Wechatpay-Serial"] = c.gateway_public_key_id
        try:
            response = self._http.request(
                method, url, content=body.encode() if body else None, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ProviderError("NETWORK_ERROR", type(exc).__name__, retryable=True) from None
        if response.status_code >= 500 and not proto.header_value(response.headers, "Wechatpay-Signature"):
            raise ProviderError("SYSTEM_ERROR", f"HTTP {response.status_code}", retryable=True, status=500)
        return response

    @staticmethod
    def _decode(response: httpx.Response) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if response.content:
            try:
                parsed = response.json()
            except ValueError:
                raise Rejected(RejectReason.MALFORMED, "response is not JSON") from None
            if isinstance(parsed, dict):
                data = parsed
        if response.status_code >= 400:
            code = str(data.get("code") or f"HTTP_{response.status_code}")
            retryable = response.status_code >= 500 or code in RETRYABLE_CODES
            raise ProviderError(
                code, str(data.get("message", "")), retryable=retryable, status=response.status_code
            )
        return data

    # -- certificates -------------------------------------------------------------------------------

    def download_certificates(self) -> dict[str, str]:
        """GET /v3/certificates, decrypt each with the APIv3 key, and verify the answer with one of them
        (trust comes from the APIv3 key only we and WeChat know)."""
        with self._cert_lock:
            response = self._send("GET", "/v3/certificates", "")
            data = self._decode(response)
            found: dict[str, str] = {}
            for item in data.get("data", []):
                resource = item.get("encrypt_certificate") or {}
                found[str(item.get("serial_no", ""))] = proto.decrypt_resource(
                    self.credentials.api_key, resource
                )
            proto.verify_signed(response.headers, response.content, proto.GatewayKeys(certificates=found))
            self._certificates.update(found)
            return dict(found)

    # -- JSAPI transactions (partner) ----------------------------------------------------------------

    def jsapi_order(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = {"sp_appid": self.credentials.app_id, "sp_mchid": self.credentials.mch_id, **payload}
        return self.request("POST", "/v3/pay/partner/transactions/jsapi", body)

    def query_transaction(self, sub_mchid: str, out_trade_no: str) -> dict[str, Any]:
        query = _query(sp_mchid=self.credentials.mch_id, sub_mchid=sub_mchid)
        return self.request("GET", f"/v3/pay/partner/transactions/out-trade-no/{_seg(out_trade_no)}?{query}")

    def close_transaction(self, sub_mchid: str, out_trade_no: str) -> None:
        body = {"sp_mchid": self.credentials.mch_id, "sub_mchid": sub_mchid}
        self.request("POST", f"/v3/pay/partner/transactions/out-trade-no/{_seg(out_trade_no)}/close", body)

    # -- payscore service orders (partner) -------------------------------------------------------------

    def payscore_create(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = {
            "service_id": self.credentials.payscore_service_id,
            "appid": self.credentials.app_id,
            **payload,
        }
        return self.request("POST", "/v3/payscore/partner/serviceorder", body)

    def payscore_query(self, sub_mchid: str, out_order_no: str) -> dict[str, Any]:
        query = _query(
            service_id=self.credentials.payscore_service_id, sub_mchid=sub_mchid, out_order_no=out_order_no
        )
        return self.request("GET", f"/v3/payscore/partner/serviceorder?{query}")

    def payscore_complete(
        self, sub_mchid: str, out_order_no: str, post_payments: list[dict[str, Any]], total_amount: int
    ) -> dict[str, Any]:
        body = {
            "service_id": self.credentials.payscore_service_id,
            "sub_mchid": sub_mchid,
            "post_payments": post_payments,
            "total_amount": total_amount,
            "time_range": {"end_time": "OnAccept"},
        }
        return self.request("POST", f"/v3/payscore/partner/serviceorder/{_seg(out_order_no)}/complete", body)

    def payscore_cancel(self, sub_mchid: str, out_order_no: str, reason: str) -> dict[str, Any]:
        body = {"service_id": self.credentials.payscore_service_id, "sub_mchid": sub_mchid, "reason": reason}
        return self.request("POST", f"/v3/payscore/partner/serviceorder/{_seg(out_order_no)}/cancel", body)

    # -- payscore permissions (no-confirm mode, partner) ---------------------------------------------

    def payscore_permission_apply(
        self, sub_mchid: str, sub_appid: str, authorization_code: str, notify_url: str
    ) -> dict[str, Any]:
        body = {
            "service_id": self.credentials.payscore_service_id,
            "appid": self.credentials.app_id,
            "sub_mchid": sub_mchid,
            "authorization_code": authorization_code,
            "notify_url": notify_url,
        }
        if sub_appid:
            body["sub_appid"] = sub_appid
        return self.request("POST", "/v3/payscore/partner/permissions", body)

    def payscore_permission_by_openid(self, sub_mchid: str, sub_appid: str, openid: str) -> dict[str, Any]:
        query = _query(
            service_id=self.credentials.payscore_service_id,
            appid=self.credentials.app_id,
            sub_mchid=sub_mchid,
            sub_appid=sub_appid,
            **({"sub_openid": openid} if sub_appid else {"openid": openid}),
        )
        return self.request("GET", f"/v3/payscore/partner/permissions/search?{query}")

    def payscore_permission_by_code(self, sub_mchid: str, authorization_code: str) -> dict[str, Any]:
        query = _query(service_id=self.credentials.payscore_service_id, sub_mchid=sub_mchid)
        path = f"/v3/payscore/partner/permissions/authorization-code/{_seg(authorization_code)}"
        return self.request("GET", f"{path}?{query}")

    def payscore_permission_terminate(self, sub_mchid: str, sub_appid: str, openid: str, reason: str) -> None:
        body: dict[str, Any] = {
            "service_id": self.credentials.payscore_service_id,
            "appid": self.credentials.app_id,
            "sub_mchid": sub_mchid,
            "reason": reason,
        }
        if sub_appid:
            body.update(sub_appid=sub_appid, sub_openid=openid)
        else:
            body["openid"] = openid
        self.request("POST", "/v3/payscore/partner/permissions/terminate", body)

    # -- refunds ---------------------------------------------------------------------------------------

    def refund(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/v3/refund/domestic/refunds", payload)

    def query_refund(self, sub_mchid: str, out_refund_no: str) -> dict[str, Any]:
        query = _query(sub_mchid=sub_mchid)
        return self.request("GET", f"/v3/refund/domestic/refunds/{_seg(out_refund_no)}?{query}")

    # -- profit sharing --------------------------------------------------------------------------------

    def profitsharing_order(
        self,
        *,
        sub_mchid: str,
        transaction_id: str,
        out_order_no: str,
        receivers: list[dict[str, Any]],
        unfreeze_unsplit: bool,
        sub_appid: str = "",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sub_mchid": sub_mchid,
            "appid": self.credentials.app_id,
            "transaction_id": transaction_id,
            "out_order_no": out_order_no,
            "receivers": receivers,
            "unfreeze_unsplit": unfreeze_unsplit,
        }
        if sub_appid:
            body["sub_appid"] = sub_appid
        return self.request("POST", "/v3/profitsharing/orders", body)

    def profitsharing_query(self, sub_mchid: str, transaction_id: str, out_order_no: str) -> dict[str, Any]:
        query = _query(sub_mchid=sub_mchid, transaction_id=transaction_id)
        return self.request("GET", f"/v3/profitsharing/orders/{_seg(out_order_no)}?{query}")

    def profitsharing_unfreeze(
        self, sub_mchid: str, transaction_id: str, out_order_no: str, description: str
    ) -> dict[str, Any]:
        body = {
            "sub_mchid": sub_mchid,
            "transaction_id": transaction_id,
            "out_order_no": out_order_no,
            "description": description,
        }
        return self.request("POST", "/v3/profitsharing/orders/unfreeze", body)

    def close(self) -> None:
        self._http.close()
