"""The Alipay sandbox's API methods: what each gateway call does to the in-memory state and answers.

Every handler runs under the sandbox lock and returns the response node's business fields; the
server adds code/msg, signs and sends. Refusals raise GatewayError with Alipay's real codes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from typing import Any

from openvend.payments.protocols import alipay as wire
from openvend.payments.providers.base import Rejected
from openvend.sandbox.alipay.call import Call, GatewayError, GatewayState, Notifier, business, invalid
from openvend.sandbox.alipay.credit import CreditMethods
from openvend.sandbox.alipay.state import (
    DEFAULT_USER_ID,
    Agreement,
    AuthorisationFault,
    ChargeFault,
    CreditOrder,
    Faults,
    Refund,
    Shopper,
    Trade,
    new_agreement_no,
    new_trade_no,
)


class Gateway(CreditMethods):
    def __init__(self, faults: Faults, notify: Notifier):
        self.state = GatewayState()
        self.faults = faults
        self.notify = notify
        self.lock = threading.RLock()
        self.shopper(DEFAULT_USER_ID)
        self.handlers: dict[str, Callable[[Call], dict[str, Any]]] = {
            "alipay.user.agreement.query": self.agreement_query,
            "alipay.user.agreement.unsign": self.agreement_unsign,
            "alipay.trade.pay": self.trade_pay,
            "alipay.trade.query": self.trade_query,
            "alipay.trade.close": self.trade_close,
            "alipay.trade.refund": self.trade_refund,
            "alipay.trade.fastpay.refund.query": self.refund_query,
            "alipay.trade.order.settle": self.order_settle,
            "alipay.system.oauth.token": self.oauth_token,
            "zhima.credit.payafteruse.creditagreement.query": self.credit_agreement_query,
            "zhima.credit.payafteruse.creditbizorder.order": self.credit_order,
            "zhima.credit.payafteruse.creditbizorder.query": self.credit_order_query,
            "zhima.credit.payafteruse.creditbizorder.finish": self.credit_order_finish,
        }

    # --- shoppers ------------------------------------------------------------------------------------

    def shopper(self, user_id: str) -> Shopper:
        with self.lock:
            return self.state.shoppers.setdefault(user_id, Shopper(user_id))

    def open_id(self, app_id: str, user_id: str) -> str:
        return "0" + hashlib.sha256(f"{app_id}:{user_id}".encode()).hexdigest()[:40]

    # --- agreements ----------------------------------------------------------------------------------

    def _agreement(self, call: Call) -> Agreement:
        agreement_no = call.text("agreement_no", required=False)
        agreement = self.state.agreements.get(agreement_no)
        if agreement is None and not agreement_no:
            external = call.text("external_agreement_no", required=False)
            user_id = call.text("alipay_user_id", required=False)
            agreement = next(
                (
                    a
                    for a in self.state.agreements.values()
                    if a.app_id == call.app.app_id
                    and (
                        (external and a.external_agreement_no == external)
                        or (user_id and a.user_id == user_id)
                    )
                    and a.status != "UNSIGN"
                ),
                None,
            )
        if agreement is None or agreement.app_id != call.app.app_id or agreement.status == "UNSIGN":
            raise business("USER_AGREEMENT_NOT_EXIST", "用户协议不存在")
        return agreement

    def agreement_query(self, call: Call) -> dict[str, Any]:
        a = self._agreement(call)
        return {
            "agreement_no": a.agreement_no,
            "external_agreement_no": a.external_agreement_no,
            "principal_id": a.user_id,
            "alipay_logon_id": self.shopper(a.user_id).logon_id,
            "status": a.status,
            "sign_scene": a.sign_scene,
            "personal_product_code": a.personal_product_code,
            "sign_time": a.sign_time,
            "valid_time": a.sign_time,
            "invalid_time": "2115-02-01 00:00:00",
        }

    def sign_agreement(self, *, app_id: str, user_id: str, biz: dict[str, Any], notify_url: str) -> Agreement:
        """The shopper agreed on the sign page. Signing the same external number again keeps one agreement."""
        external = str(biz.get("external_agreement_no", ""))
        existing = next(
            (
                a
                for a in self.state.agreements.values()
                if a.app_id == app_id
                and external
                and a.external_agreement_no == external
                and a.status != "UNSIGN"
            ),
            None,
        )
        agreement = existing or Agreement(
            agreement_no=new_agreement_no(),
            app_id=app_id,
            external_agreement_no=external,
            user_id=user_id,
            sign_scene=str(biz.get("sign_scene", "DEFAULT|DEFAULT")),
            personal_product_code=str(biz.get("personal_product_code", "GENERAL_WITHHOLDING_P")),
            sign_time=wire.format_timestamp(),
            notify_url=notify_url,
        )
        self.state.agreements[agreement.agreement_no] = agreement
        self._agreement_notice(agreement, "dut_user_sign", notify_url)
        return agreement

    def _agreement_notice(self, a: Agreement, notify_type: str, notify_url: str) -> None:
        fields = {
            "notify_type": notify_type,
            "app_id": a.app_id,
            "partner_id": self.state.apps[a.app_id].pid,
            "agreement_no": a.agreement_no,
            "external_agreement_no": a.external_agreement_no,
            "alipay_user_id": a.user_id,
            "alipay_logon_id": self.shopper(a.user_id).logon_id,
            "status": "NORMAL" if notify_type == "dut_user_sign" else "UNSIGN",
            "sign_scene": a.sign_scene,
            "personal_product_code": a.personal_product_code,
            "sign_time": a.sign_time,
            "valid_time": a.sign_time,
        }
        if notify_type == "dut_user_unsign":
            fields["unsign_time"] = wire.format_timestamp()
        self.notify(notify_url or a.notify_url, fields, "notify")

    def agreement_unsign(self, call: Call) -> dict[str, Any]:
        agreement = self._agreement(call)
        agreement.status = "UNSIGN"
        self._agreement_notice(agreement, "dut_user_unsign", call.notify_url)
        return {}

    # --- trades --------------------------------------------------------------------------------------

    def _trade(self, call: Call) -> Trade:
        out_trade_no = call.text("out_trade_no", required=False)
        trade_no = call.text("trade_no", required=False)
        if not out_trade_no and not trade_no:
            raise invalid("isv.missing-parameter", "out_trade_no 和 trade_no 不能同时为空")
        for trade in self.state.trades.values():
            if trade.merchant == call.merchant and (
                (out_trade_no and trade.out_trade_no == out_trade_no)
                or (trade_no and trade.trade_no == trade_no)
            ):
                return trade
        raise business("ACQ.TRADE_NOT_EXIST", "交易不存在")

    def trade_node(self, trade: Trade) -> dict[str, Any]:
        node: dict[str, Any] = {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "trade_status": trade.status,
            "total_amount": wire.fen_to_yuan(trade.total_fen),
        }
        if trade.buyer_id:
            node |= {"buyer_user_id": trade.buyer_id, "buyer_logon_id": self.shopper(trade.buyer_id).logon_id}
        if trade.gmt_payment:
            paid = wire.fen_to_yuan(trade.total_fen)
            node |= {"send_pay_date": trade.gmt_payment, "receipt_amount": paid, "buyer_pay_amount": paid}
        return node

    def open_trade(self, call: Call, *, out_trade_no: str, total_fen: int, subject: str) -> Trade:
        key = (*call.merchant, out_trade_no)
        trade = self.state.trades.get(key)
        if trade is None:
            trade = Trade(
                trade_no=new_trade_no(),
                merchant=call.merchant,
                out_trade_no=out_trade_no,
                total_fen=total_fen,
                subject=subject,
                seller_id=call.app.pid,
                notify_url=call.notify_url,
                gmt_create=wire.format_timestamp(),
                passback_params=str(call.biz.get("passback_params", "")),
            )
            self.state.trades[key] = trade
        return trade

    def settle_payment(self, trade: Trade, user_id: str) -> None:
        """Take the money from the shopper (or refuse as Alipay would) and tell the merchant."""
        shopper = self.shopper(user_id)
        if self.faults.charge == ChargeFault.INSUFFICIENT_BALANCE or shopper.balance_fen < trade.total_fen:
            raise business("ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足")
        shopper.balance_fen -= trade.total_fen
        trade.buyer_id = user_id
        trade.status = "TRADE_SUCCESS"
        trade.gmt_payment = wire.format_timestamp()
        self.trade_notice(trade)

    def trade_notice(self, trade: Trade, extra: dict[str, str] | None = None) -> None:
        fields = {
            "notify_type": "trade_status_sync",
            "app_id": trade.merchant[0],
            "auth_app_id": trade.merchant[0],
            "seller_id": trade.seller_id,
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "trade_status": trade.status,
            "total_amount": wire.fen_to_yuan(trade.total_fen),
            "subject": trade.subject,
            "gmt_create": trade.gmt_create,
            "passback_params": trade.passback_params,
        }
        if trade.buyer_id:
            fields |= {"buyer_id": trade.buyer_id, "buyer_logon_id": self.shopper(trade.buyer_id).logon_id}
        if trade.gmt_payment:
            fields |= {
                "gmt_payment": trade.gmt_payment,
                "receipt_amount": fields["total_amount"],
                "buyer_pay_amount": fields["total_amount"],
            }
        self.notify(trade.notify_url, fields | (extra or {}), "notify")

    def _payer(self, call: Call) -> tuple[str, CreditOrder | None]:
        """Who pays an alipay.trade.pay: the agreement's signer, the Zhima credit order's shopper or the
        owner of a payment bar code."""
        scene = call.text("scene", required=False)
        if scene == "ZHIMA_CREDIT_CODE":
            order = self.state.credit_orders.get(call.text("auth_code"))
            if order is None or order.merchant != call.merchant:
                raise business("ACQ.PAYMENT_AUTH_CODE_INVALID", "支付失败，获取顾客账户信息失败")
            self._check_credit_agreement(self.state.credit_agreements[order.credit_agreement_id])
            if order.status != "INIT":
                raise business("ACQ.TRADE_STATUS_ERROR", "信用订单已完结")
            return order.user_id, order
        agreement_no = str((call.biz.get("agreement_params") or {}).get("agreement_no", ""))
        if agreement_no:
            agreement = self.state.agreements.get(agreement_no)
            if agreement is None or agreement.app_id != call.app.app_id or agreement.status == "UNSIGN":
                raise business("ACQ.AGREEMENT_NOT_EXIST", "用户协议不存在")
            if self.faults.authorisation == AuthorisationFault.REVOKED:
                agreement.status = "STOP"
            if agreement.status != "NORMAL":
                raise business("ACQ.AGREEMENT_STATUS_NOT_NORMAL", "用户协议状态非NORMAL")
            return agreement.user_id, None
        if scene in ("bar_code", "wave_code"):
            user_id = self.state.payment_codes.get(call.text("auth_code"))
            if user_id is None:
                raise business("ACQ.PAYMENT_AUTH_CODE_INVALID", "支付失败，获取顾客账户信息失败")
            return user_id, None
        raise invalid("isv.invalid-parameter", "需要 agreement_params、scene=ZHIMA_CREDIT_CODE 或付款码")

    def trade_pay(self, call: Call) -> dict[str, Any]:
        out_trade_no = call.text("out_trade_no")
        existing = self.state.trades.get((*call.merchant, out_trade_no))
        if existing is not None and existing.status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            raise business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
        if existing is not None and existing.status == "TRADE_CLOSED":
            raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
        total_fen = call.fen("total_amount")
        user_id, credit_order = self._payer(call)
        if (
            self.faults.charge == ChargeFault.INSUFFICIENT_BALANCE
            or self.shopper(user_id).balance_fen < total_fen
        ):
            raise business("ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足")
        trade = self.open_trade(
            call, out_trade_no=out_trade_no, total_fen=total_fen, subject=call.text("subject")
        )
        if credit_order is not None:
            trade.credit_biz_order_id = credit_order.credit_biz_order_id
            credit_order.status = "TRADE_FINISHED"
        self.settle_payment(trade, user_id)
        node = self.trade_node(trade)
        paid = node["total_amount"]
        node |= {
            "gmt_payment": trade.gmt_payment,
            "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": paid}],
        }
        return node

    def trade_query(self, call: Call) -> dict[str, Any]:
        return self.trade_node(self._trade(call))

    def trade_close(self, call: Call) -> dict[str, Any]:
        trade = self._trade(call)
        if trade.status != "WAIT_BUYER_PAY":
            raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = "TRADE_CLOSED"
        self.trade_notice(trade)
        return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}

    def trade_refund(self, call: Call) -> dict[str, Any]:
        trade = self._trade(call)
        out_request_no = call.text("out_request_no", required=False) or trade.out_trade_no
        refund_fen = call.fen("refund_amount")
        refund = trade.refunds.get(out_request_no)
        if refund is None:
            if trade.status != "TRADE_SUCCESS":
                raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            if refund_fen <= 0 or refund_fen > trade.total_fen - trade.refunded_fen - trade.settled_fen:
                raise business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            refund = Refund(out_request_no, refund_fen, wire.format_timestamp())
            trade.refunds[out_request_no] = refund
            self.shopper(trade.buyer_id).balance_fen += refund_fen
            if trade.refunded_fen == trade.total_fen:
                trade.status = "TRADE_CLOSED"
            self.trade_notice(
                trade,
                {
                    "out_biz_no": out_request_no,
                    "refund_fee": wire.fen_to_yuan(trade.refunded_fen),
                    "gmt_refund": refund.gmt_refund,
                },
            )
            fund_change = "Y"
        else:
            fund_change = "N"  # a repeated refund request: the same refund, no money moves again
        return {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_user_id": trade.buyer_id,
            "buyer_logon_id": self.shopper(trade.buyer_id).logon_id,
            "fund_change": fund_change,
            "refund_fee": wire.fen_to_yuan(trade.refunded_fen),
            "gmt_refund_pay": refund.gmt_refund,
        }

    def refund_query(self, call: Call) -> dict[str, Any]:
        trade = self._trade(call)
        out_request_no = call.text("out_request_no")
        node: dict[str, Any] = {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}
        refund = trade.refunds.get(out_request_no)
        if refund is not None:
            node |= {
                "out_request_no": out_request_no,
                "total_amount": wire.fen_to_yuan(trade.total_fen),
                "refund_amount": wire.fen_to_yuan(refund.refund_fen),
                "refund_status": "REFUND_SUCCESS",
                "gmt_refund_pay": refund.gmt_refund,
            }
        return node

    def order_settle(self, call: Call) -> dict[str, Any]:
        trade = self._trade(call)
        out_request_no = call.text("out_request_no")
        if out_request_no in trade.settlements:
            return {"trade_no": trade.trade_no, "settle_no": trade.settlements[out_request_no][0]}
        if trade.status != "TRADE_SUCCESS":
            raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        parts = call.biz.get("royalty_parameters") or []
        if not isinstance(parts, list) or not parts:
            raise invalid("isv.missing-parameter", "缺少必选参数 royalty_parameters")
        shares: list[tuple[str, int]] = []
        for part in parts:
            try:
                shares.append((str(part["trans_in"]), wire.yuan_to_fen(str(part["amount"]))))
            except (KeyError, TypeError, Rejected) as exc:
                raise invalid("isv.invalid-parameter", "royalty_parameters 格式错误") from exc
        total = sum(fen for _, fen in shares)
        if total <= 0 or total > trade.total_fen - trade.refunded_fen - trade.settled_fen:
            raise business("ACQ.ALLOC_AMOUNT_VALIDATE_ERROR", "分账金额超过最大可分账金额")
        for user_id, fen in shares:
            self.shopper(user_id).balance_fen += fen
        settle_no = new_trade_no()
        trade.settlements[out_request_no] = (settle_no, total)
        return {"trade_no": trade.trade_no, "settle_no": settle_no}

    # --- shopper identity ----------------------------------------------------------------------------

    def issue_auth_code(self, app_id: str, user_id: str) -> str:
        code = secrets.token_hex(16)
        self.state.oauth_codes[code] = (app_id, user_id)
        return code

    def oauth_token(self, call: Call) -> dict[str, Any]:
        if call.params.get("grant_type") != "authorization_code":
            raise invalid("isv.grant-type-invalid", "不支持的 grant_type")
        grant = self.state.oauth_codes.pop(call.params.get("code", ""), None)
        if grant is None or grant[0] != call.app.app_id:
            raise invalid("isv.code-invalid", "授权码code无效")
        user_id = grant[1]
        return {
            "user_id": user_id,
            "open_id": self.open_id(call.app.app_id, user_id),
            "access_token": "authbseB" + secrets.token_hex(16),
            "expires_in": 1296000,
            "refresh_token": "authbseB" + secrets.token_hex(16),
            "re_expires_in": 2592000,
            "auth_start": wire.format_timestamp(),
        }

    def authenticate(self, params: dict[str, str]) -> Call:
        """Check a request as the real gateway does: app, signature, timestamp, token, biz_content."""
        if not params.get("app_id"):
            raise GatewayError("40001", "Missing Required Arguments", "isv.missing-app-id", "缺少AppID参数")
        app = self.state.apps.get(params["app_id"])
        if app is None:
            raise invalid("isv.invalid-app-id", "无效的AppID参数")
        if not params.get("sign"):
            raise GatewayError("40001", "Missing Required Arguments", "isv.missing-signature", "缺少签名参数")
        if params.get("sign_type", "RSA") != "RSA2":
            raise invalid("isv.invalid-signature-type", "无效的签名类型")
        try:
            wire.verify_request(params, app.public_key_pem)
        except Rejected as exc:
            raise invalid(
                "isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"
            ) from exc
        try:
            wire.check_timestamp(params.get("timestamp", ""))
        except Rejected as exc:
            raise invalid("isv.invalid-timestamp", "非法的时间戳参数") from exc
        token = params.get("app_auth_token", "")
        if token and token not in self.state.sub_merchants:
            raise GatewayError(
                "20001", "Insufficient Token Permissions", "aop.invalid-app-auth-token", "无效的应用授权令牌"
            )
        try:
            biz = json.loads(params["biz_content"]) if params.get("biz_content") else {}
        except ValueError as exc:
            raise invalid("isv.invalid-parameter", "biz_content 不是合法的 JSON") from exc
        if not isinstance(biz, dict):
            raise invalid("isv.invalid-parameter", "biz_content 不是 JSON 对象")
        return Call(
            app=app, app_auth_token=token, params=params, biz=biz, notify_url=params.get("notify_url", "")
        )
