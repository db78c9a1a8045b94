"""A thin Alipay OpenAPI client: common parameters, RSA2 signing, response verification and the
error mapping, plus one method per gateway call the payment routes use.

Every call POSTs form-encoded parameters to `credentials.base_url` (the gateway, e.g.
https://openapi.alipay.com/gateway.do or a sandbox) and verifies the answer with the Alipay public key.
Page APIs (agreement sign, Zhima credit sign, WAP pay) are not called: they produce a signed gateway URL
the shopper's browser opens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from openvend.payments.protocols import alipay as wire
from openvend.payments.providers.base import Credentials, ProviderError, SubMerchant
from openvend.payments.providers.tls import tls_context

logger = logging.getLogger(__name__)

# Sub codes worth the same request again later; everything else is a definite answer.
RETRYABLE_SUB_CODES = frozenset(
    {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error", "SYSTEM_ERROR"}
)
SERVICE_UNAVAILABLE_CODE = "20000"

AGREEMENT_PERSONAL_PRODUCT = "GENERAL_WITHHOLDING_P"
AGREEMENT_PRODUCT = "GENERAL_WITHHOLDING"
WAP_PRODUCT = "QUICK_WAP_WAY"
ZHIMA_PAY_SCENE = "ZHIMA_CREDIT_CODE"


class Method:
    """The gateway methods we call, by their real names."""

    AGREEMENT_PAGE_SIGN = "alipay.user.agreement.page.sign"
    AGREEMENT_QUERY = "alipay.user.agreement.query"
    AGREEMENT_UNSIGN = "alipay.user.agreement.unsign"
    TRADE_PAY = "alipay.trade.pay"
    TRADE_QUERY = "alipay.trade.query"
    TRADE_CLOSE = "alipay.trade.close"
    TRADE_REFUND = "alipay.trade.refund"
    REFUND_QUERY = "alipay.trade.fastpay.refund.query"
    ORDER_SETTLE = "alipay.trade.order.settle"
    WAP_PAY = "alipay.trade.wap.pay"
    OAUTH_TOKEN = "alipay.system.oauth.token"
    ZHIMA_AGREEMENT_SIGN = "zhima.credit.payafteruse.creditagreement.sign"
    ZHIMA_AGREEMENT_QUERY = "zhima.credit.payafteruse.creditagreement.query"
    ZHIMA_ORDER = "zhima.credit.payafteruse.creditbizorder.order"
    ZHIMA_ORDER_QUERY = "zhima.credit.payafteruse.creditbizorder.query"
    ZHIMA_ORDER_FINISH = "zhima.credit.payafteruse.creditbizorder.finish"


PAGE_METHODS = frozenset({Method.AGREEMENT_PAGE_SIGN, Method.ZHIMA_AGREEMENT_SIGN, Method.WAP_PAY})


@dataclass(frozen=True)
class RoyaltyPart:
    """One share of a royalty settlement: who receives it (an Alipay user id / PID) and how much."""

    trans_in: str
    amount_fen: int
    desc: str = ""


@dataclass(frozen=True)
class OAuthIdentity:
    user_id: str
    open_id: str


class AlipayClient:
    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.credentials = credentials
        self._http = httpx.Client(timeout=timeout_s, transport=transport, verify=tls_context())
        self._clock = clock

    def close(self) -> None:
        self._http.close()

    # --- the envelope ------------------------------------------------------------------------------

    def signed_params(
        self,
        method: str,
        biz_content: Mapping[str, Any] | None,
        *,
        sub: SubMerchant | None = None,
        notify_url: str = "",
        return_url: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        params: dict[str, str] = {
            "app_id": self.credentials.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": wire.format_timestamp(self._clock() if self._clock else None),
            "version": "1.0",
        }
        if sub is not None and sub.app_auth_token:
            params["app_auth_token"] = sub.app_auth_token
        if notify_url:
            params["notify_url"] = notify_url
        if return_url:
            params["return_url"] = return_url
        if biz_content is not None:
            params["biz_content"] = json.dumps(biz_content, ensure_ascii=False, separators=(",", ":"))
        params.update(extra or {})
        params["sign"] = wire.sign_params(params, self.credentials.private_key_pem)
        return params

    def page_url(self, method: str, biz_content: Mapping[str, Any], **kwargs: Any) -> str:
        """A signed gateway URL for a page API: the shopper's browser opens it."""
        return self.credentials.base_url + "?" + urlencode(self.signed_params(method, biz_content, **kwargs))

    def execute(
        self,
        method: str,
        biz_content: Mapping[str, Any] | None,
        *,
        sub: SubMerchant | None = None,
        notify_url: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call one API and return its verified response node. Business failures (code != 10000)
        raise ProviderError(sub_code, sub_msg); a bad signature on the answer raises Rejected."""
        params = self.signed_params(method, biz_content, sub=sub, notify_url=notify_url, extra=extra)
        try:
            response = self._http.post(
                self.credentials.base_url,
                params={"charset": "utf-8"},
                data=params,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ProviderError("NETWORK", type(exc).__name__, retryable=True) from exc
        if response.status_code >= 500:
            raise ProviderError(
                "HTTP_ERROR", "gateway unavailable", retryable=True, status=response.status_code
            )
        if response.status_code != 200:
            raise ProviderError("HTTP_ERROR", "unexpected status", status=response.status_code)
        raw = response.text
        envelope = wire.parse_response(raw, method)
        node = envelope.node
        code = str(node.get("code", ""))
        if not envelope.sign and code != wire.SUCCESS_CODE:
            # The gateway does not sign some early refusals (unknown app_id); a refusal moves no
            # money, so it may be reported without a signature.
            raise self._business_error(node, status=response.status_code)
        node = wire.verify_response(raw, method, self.credentials.gateway_public_key_pem)
        if code != wire.SUCCESS_CODE:
            raise self._business_error(node, status=response.status_code)
        return node

    @staticmethod
    def _business_error(node: Mapping[str, Any], *, status: int) -> ProviderError:
        code = str(node.get("code", ""))
        sub_code = str(node.get("sub_code") or code or "UNKNOWN")
        message = str(node.get("sub_msg") or node.get("msg") or "")
        retryable = sub_code in RETRYABLE_SUB_CODES or code == SERVICE_UNAVAILABLE_CODE
        return ProviderError(sub_code, message, retryable=retryable, status=status)

    # --- withholding agreements (商家扣款) ------------------------------------------------------------

    def agreement_sign_url(
        self,
        sub: SubMerchant,
        *,
        external_agreement_no: str,
        external_logon_id: str,
        return_url: str,
        notify_url: str,
        sign_scene: str,
    ) -> str:
        biz = {
            "personal_product_code": AGREEMENT_PERSONAL_PRODUCT,
            "product_code": AGREEMENT_PRODUCT,
            "sign_scene": sign_scene,
            "external_agreement_no": external_agreement_no,
            "access_params": {"channel": "ALIPAYAPP"},
        }
        if external_logon_id:
            biz["external_logon_id"] = external_logon_id
        return self.page_url(
            Method.AGREEMENT_PAGE_SIGN, biz, sub=sub, notify_url=notify_url, return_url=return_url
        )

    def agreement_query(
        self, sub: SubMerchant, *, agreement_no: str = "", alipay_user_id: str = "", sign_scene: str = ""
    ) -> dict[str, Any]:
        biz = {"personal_product_code": AGREEMENT_PERSONAL_PRODUCT}
        biz |= {k: v for k, v in (("agreement_no", agreement_no), ("alipay_user_id", alipay_user_id)) if v}
        if sign_scene:
            biz["sign_scene"] = sign_scene
        return self.execute(Method.AGREEMENT_QUERY, biz, sub=sub)

    def agreement_unsign(
        self, sub: SubMerchant, *, agreement_no: str, alipay_user_id: str = "", notify_url: str = ""
    ) -> dict[str, Any]:
        biz = {"personal_product_code": AGREEMENT_PERSONAL_PRODUCT, "agreement_no": agreement_no}
        if alipay_user_id:
            biz["alipay_user_id"] = alipay_user_id
        return self.execute(Method.AGREEMENT_UNSIGN, biz, sub=sub, notify_url=notify_url)

    # --- trades --------------------------------------------------------------------------------------

    def trade_pay(self, sub: SubMerchant, biz: Mapping[str, Any], *, notify_url: str = "") -> dict[str, Any]:
        return self.execute(Method.TRADE_PAY, biz, sub=sub, notify_url=notify_url)

    def agreement_pay(
        self,
        sub: SubMerchant,
        *,
        out_trade_no: str,
        amount_fen: int,
        subject: str,
        agreement_no: str,
        buyer_id: str = "",
        notify_url: str = "",
    ) -> dict[str, Any]:
        biz: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "total_amount": wire.fen_to_yuan(amount_fen),
            "subject": subject,
            "product_code": AGREEMENT_PRODUCT,
            "agreement_params": {"agreement_no": agreement_no},
        }
        if buyer_id:
            biz["buyer_id"] = buyer_id
        if sub.smid:
            biz["sub_merchant"] = {"merchant_id": sub.smid}
        return self.trade_pay(sub, biz, notify_url=notify_url)

    def trade_query(self, sub: SubMerchant, *, out_trade_no: str) -> dict[str, Any]:
        return self.execute(Method.TRADE_QUERY, {"out_trade_no": out_trade_no}, sub=sub)

    def trade_close(self, sub: SubMerchant, *, out_trade_no: str) -> dict[str, Any]:
        return self.execute(Method.TRADE_CLOSE, {"out_trade_no": out_trade_no}, sub=sub)

    def trade_refund(
        self, sub: SubMerchant, *, out_trade_no: str, out_request_no: str, refund_fen: int, reason: str = ""
    ) -> dict[str, Any]:
        biz = {
            "out_trade_no": out_trade_no,
            "out_request_no": out_request_no,
            "refund_amount": wire.fen_to_yuan(refund_fen),
        }
        if reason:
            biz["refund_reason"] = reason
        return self.execute(Method.TRADE_REFUND, biz, sub=sub)

    def refund_query(self, sub: SubMerchant, *, out_trade_no: str, out_request_no: str) -> dict[str, Any]:
        biz = {"out_trade_no": out_trade_no, "out_request_no": out_request_no}
        return self.execute(Method.REFUND_QUERY, biz, sub=sub)

    def order_settle(
        self, sub: SubMerchant, *, out_request_no: str, trade_no: str, royalties: Sequence[RoyaltyPart]
    ) -> dict[str, Any]:
        """Royalty settlement (分账): split part of a paid trade to other Alipay accounts."""
        parameters = [
            {
                "royalty_type": "transfer",
                "trans_in_type": "userId",
                "trans_in": part.trans_in,
                "amount": wire.fen_to_yuan(part.amount_fen),
                **({"desc": part.desc} if part.desc else {}),
            }
            for part in royalties
        ]
        biz = {"out_request_no": out_request_no, "trade_no": trade_no, "royalty_parameters": parameters}
        return self.execute(Method.ORDER_SETTLE, biz, sub=sub)

    def wap_pay_url(
        self,
        sub: SubMerchant,
        *,
        out_trade_no: str,
        amount_fen: int,
        subject: str,
        return_url: str = "",
        quit_url: str = "",
        notify_url: str = "",
        passback_params: str = "",
    ) -> str:
        biz = {
            "out_trade_no": out_trade_no,
            "total_amount": wire.fen_to_yuan(amount_fen),
            "subject": subject,
            "product_code": WAP_PRODUCT,
        }
        biz |= {k: v for k, v in (("quit_url", quit_url), ("passback_params", passback_params)) if v}
        return self.page_url(Method.WAP_PAY, biz, sub=sub, notify_url=notify_url, return_url=return_url)

    # --- shopper identity ----------------------------------------------------------------------------

    def oauth_authorize_url(self, *, redirect_uri: str, state: str, scope: str = "auth_base") -> str:
        """Where to send the shopper's browser for an auth_code (openauth.alipay.com for the real
        gateway; a sandbox serves the page itself)."""
        parts = urlsplit(self.credentials.base_url)
        host = "openauth.alipay.com" if parts.netloc == "openapi.alipay.com" else parts.netloc
        query = urlencode(
            {"app_id": self.credentials.app_id, "scope": scope, "redirect_uri": redirect_uri, "state": state}
        )
        return urlunsplit((parts.scheme, host, "/oauth2/publicAppAuthorize.htm", query, ""))

    def oauth_token(self, auth_code: str) -> OAuthIdentity:
        # grant_type and code are request parameters of their own, not biz_content.
        node = self.execute(
            Method.OAUTH_TOKEN, None, extra={"grant_type": "authorization_code", "code": auth_code}
        )
        return OAuthIdentity(user_id=str(node.get("user_id", "")), open_id=str(node.get("open_id", "")))

    # --- Zhima credit pay-after (芝麻先享) -------------------------------------------------------------

    def zhima_agreement_sign_url(
        self,
        sub: SubMerchant,
        *,
        out_agreement_no: str,
        zm_service_id: str,
        return_url: str,
        notify_url: str,
    ) -> str:
        biz = {
            "out_agreement_no": out_agreement_no,
            "zm_service_id": zm_service_id,
            "category_id": "ZHIMA_AUTH",
            "return_back_link": return_url,
            "cancel_back_link": return_url,
        }
        return self.page_url(
            Method.ZHIMA_AGREEMENT_SIGN, biz, sub=sub, notify_url=notify_url, return_url=return_url
        )

    def zhima_agreement_query(
        self, sub: SubMerchant, *, credit_agreement_id: str = "", out_agreement_no: str = ""
    ) -> dict[str, Any]:
        """By Alipay's agreement id, or by ours when the id never reached us."""
        biz = {"credit_agreement_id": credit_agreement_id, "out_agreement_no": out_agreement_no}
        return self.execute(Method.ZHIMA_AGREEMENT_QUERY, {k: v for k, v in biz.items() if v}, sub=sub)

    def zhima_order(
        self, sub: SubMerchant, *, credit_agreement_id: str, out_order_no: str, subject: str
    ) -> dict[str, Any]:
        biz = {
            "credit_agreement_id": credit_agreement_id,
            "out_order_no": out_order_no,
            "order_title": subject,
            "subject": subject,
        }
        return self.execute(Method.ZHIMA_ORDER, biz, sub=sub)

    def zhima_order_query(self, sub: SubMerchant, *, out_order_no: str) -> dict[str, Any]:
        return self.execute(Method.ZHIMA_ORDER_QUERY, {"out_order_no": out_order_no}, sub=sub)

    def zhima_order_finish(
        self,
        sub: SubMerchant,
        *,
        credit_biz_order_id: str,
        out_request_no: str,
        fulfilled: bool,
        reason: str = "",
    ) -> dict[str, Any]:
        biz = {
            "credit_biz_order_id": credit_biz_order_id,
            "out_request_no": out_request_no,
            "is_fulfilled": "true" if fulfilled else "false",
        }
        if reason:
            biz["extra_param"] = json.dumps({"cancelReason": reason}, ensure_ascii=False)
        return self.execute(Method.ZHIMA_ORDER_FINISH, biz, sub=sub)

    def zhima_pay(
        self,
        sub: SubMerchant,
        *,
        out_trade_no: str,
        credit_biz_order_id: str,
        amount_fen: int,
        subject: str,
        notify_url: str = "",
    ) -> dict[str, Any]:
        """Charge a Zhima credit order: alipay.trade.pay with the credit order as the auth code."""
        biz = {
            "out_trade_no": out_trade_no,
            "auth_code": credit_biz_order_id,
            "scene": ZHIMA_PAY_SCENE,
            "product_code": AGREEMENT_PRODUCT,
            "total_amount": wire.fen_to_yuan(amount_fen),
            "subject": subject,
            "extend_params": {"creditTradeScene": "CREDIT_PAY_UNCERTAIN_FEE"},
        }
        return self.trade_pay(sub, biz, notify_url=notify_url)
