"""The sandbox's shopper-facing flows: agreement and Zhima sign pages, the WAP cashier and OAuth."""

from __future__ import annotations

import re
import secrets
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from openvend.payments.protocols import alipay as wire
from openvend.sandbox.alipay import pages
from openvend.sandbox.alipay.call import GatewayError
from openvend.sandbox.alipay.gateway import Gateway
from openvend.sandbox.alipay.state import DEFAULT_USER_ID, PageTicket

AGREEMENT_SIGN = "alipay.user.agreement.page.sign"
ZHIMA_SIGN = "zhima.credit.payafteruse.creditagreement.sign"
WAP_PAY = "alipay.trade.wap.pay"
PAGE_METHODS = (AGREEMENT_SIGN, ZHIMA_SIGN, WAP_PAY)
OAUTH_PATH = "/oauth2/publicAppAuthorize.htm"
_USER_ID = re.compile(r"^2088\d{12}$")
Reply = tuple[int, list[tuple[str, str]], bytes]


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _redirect(url: str) -> Reply:
    return HTTPStatus.FOUND, [("Location", url)], b""


def html_reply(body: bytes, status: int = HTTPStatus.OK) -> Reply:
    return status, [("Content-Type", "text/html; charset=utf-8")], body


class ShopperPages:
    """Mixed into AlipaySandbox: what happens in the shopper's browser."""

    gateway: Gateway
    _tickets: dict[str, PageTicket]
    _keys: wire.KeyPair

    def _open_page(self, method: str, params: dict[str, str]) -> Reply:
        with self.gateway.lock:
            try:
                call = self.gateway.authenticate(params)
            except GatewayError as exc:
                text = f"{exc.sub_code or exc.code}: {exc.sub_msg or exc.msg}"
                return html_reply(pages.message("支付宝 / Alipay", text, error=True), HTTPStatus.BAD_REQUEST)
            ticket = PageTicket(
                method=method,
                app_id=call.app.app_id,
                app_auth_token=call.app_auth_token,
                biz=call.biz,
                notify_url=call.notify_url,
                return_url=params.get("return_url", ""),
            )
            if method == WAP_PAY:
                try:
                    trade = self.gateway.open_trade(
                        call,
                        out_trade_no=call.text("out_trade_no"),
                        total_fen=call.fen("total_amount"),
                        subject=call.text("subject"),
                    )
                except GatewayError as exc:
                    return html_reply(
                        pages.message("支付宝 / Alipay", exc.sub_msg, error=True), HTTPStatus.BAD_REQUEST
                    )
                if trade.status != "WAIT_BUYER_PAY":
                    return html_reply(
                        pages.message("支付宝 / Alipay", f"交易状态 / Trade status: {trade.status}")
                    )
            ticket_id = secrets.token_urlsafe(16)
            self._tickets[ticket_id] = ticket
            return html_reply(self._render_ticket(ticket_id, ticket))

    def _render_ticket(self, ticket_id: str, ticket: PageTicket, error: str = "") -> bytes:
        biz = ticket.biz
        if ticket.method == AGREEMENT_SIGN:
            title, allow = "商家扣款协议 / Withholding agreement", "同意协议并开通 / Agree and sign"
            lines = [
                f"应用 / App: {ticket.app_id}",
                "同意后，商户可在您取货后从您的支付宝账户扣款。/ After you agree, the merchant may charge "
                "your Alipay account when you have taken goods.",
                f"协议号 / Reference: {biz.get('external_agreement_no', '')}",
            ]
        elif ticket.method == ZHIMA_SIGN:
            title, allow = "芝麻先享 / Zhima credit pay-after", "同意开通 / Agree"
            lines = [
                f"应用 / App: {ticket.app_id}",
                "先享后付：凭芝麻信用先用后付。/ Use now, pay later on your Zhima credit.",
                f"服务 / Service: {biz.get('zm_service_id', '')}",
            ]
        else:
            amount = biz.get("total_amount", "")
            title, allow = "支付宝收银台 / Alipay checkout", f"确认付款 ¥{amount} / Pay"
            lines = [
                f"¥{amount}",
                f"{biz.get('subject', '')}",
                f"订单号 / Order: {biz.get('out_trade_no', '')}",
            ]
        with self.gateway.lock:
            users = sorted(self.gateway.state.shoppers)
        return pages.consent_form(
            title=title,
            lines=lines,
            action="/pages/confirm",
            hidden={"ticket": ticket_id},
            known_users=users,
            default_user=DEFAULT_USER_ID,
            allow_label=allow,
            error=error,
        )

    def _page_decision(self, form: dict[str, str]) -> Reply:
        ticket_id = form.get("ticket", "")
        with self.gateway.lock:
            ticket = self._tickets.get(ticket_id)
            if ticket is None:
                return html_reply(
                    pages.message("支付宝 / Alipay", "页面已失效 / Page expired", error=True),
                    HTTPStatus.NOT_FOUND,
                )
            if form.get("decision") != "allow":
                self._tickets.pop(ticket_id, None)
                back = ticket.return_url or str(ticket.biz.get("cancel_back_link", ""))
                return (
                    _redirect(back)
                    if back
                    else html_reply(pages.message("支付宝 / Alipay", "已取消 / Cancelled"))
                )
            user_id = form.get("user_id", "").strip()
            if not _USER_ID.match(user_id):
                return html_reply(
                    self._render_ticket(
                        ticket_id, ticket, "用户 ID 应为 2088 开头的 16 位数字 / 16 digits starting 2088"
                    )
                )
            back_params: dict[str, str] = {}
            if ticket.method == AGREEMENT_SIGN:
                agreement = self.gateway.sign_agreement(
                    app_id=ticket.app_id, user_id=user_id, biz=ticket.biz, notify_url=ticket.notify_url
                )
                done = f"协议号 / Agreement: {agreement.agreement_no}"
            elif ticket.method == ZHIMA_SIGN:
                credit = self.gateway.sign_credit_agreement(
                    app_id=ticket.app_id, user_id=user_id, biz=ticket.biz, notify_url=ticket.notify_url
                )
                done = f"芝麻先享已开通 / Opened: {credit.credit_agreement_id}"
            else:
                trade = self.gateway.state.trades[
                    (ticket.app_id, ticket.app_auth_token, str(ticket.biz["out_trade_no"]))
                ]
                try:
                    if trade.status == "WAIT_BUYER_PAY":
                        self.gateway.settle_payment(trade, user_id)
                except GatewayError:
                    return html_reply(
                        self._render_ticket(ticket_id, ticket, "余额不足 / Insufficient balance")
                    )
                done, back_params = f"支付成功 / Paid: {trade.trade_no}", self._wap_return(trade)
            self._tickets.pop(ticket_id, None)
        if ticket.return_url:
            return _redirect(
                _with_query(ticket.return_url, back_params) if back_params else ticket.return_url
            )
        return html_reply(pages.message("支付宝 / Alipay", done))

    def _wap_return(self, trade: Any) -> dict[str, str]:
        """The signed synchronous return Alipay appends to return_url after a WAP payment."""
        params = {
            "method": "alipay.trade.wap.pay.return",
            "app_id": trade.merchant[0],
            "auth_app_id": trade.merchant[0],
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "timestamp": wire.format_timestamp(),
            "out_trade_no": trade.out_trade_no,
            "trade_no": trade.trade_no,
            "total_amount": wire.fen_to_yuan(trade.total_fen),
            "seller_id": trade.seller_id,
        }
        params["sign"] = wire.sign_notification(params, self._keys.private_key_pem)
        return params

    # --- OAuth ---------------------------------------------------------------------------------------

    def _oauth(self, verb: str, params: dict[str, str]) -> Reply:
        app_id, redirect_uri = params.get("app_id", ""), params.get("redirect_uri", "")
        scope, state = params.get("scope", "auth_base"), params.get("state", "")
        with self.gateway.lock:
            known = app_id in self.gateway.state.apps
            users = sorted(self.gateway.state.shoppers)
        if not known or not redirect_uri or scope not in ("auth_base", "auth_user"):
            return html_reply(
                pages.message("支付宝授权 / Alipay", "无效的授权请求 / Invalid request", error=True), 400
            )
        hidden = {"app_id": app_id, "redirect_uri": redirect_uri, "scope": scope, "state": state}
        error = ""
        if verb == "POST":
            if params.get("decision") != "allow":
                return html_reply(
                    pages.message("支付宝授权 / Alipay", "已取消授权 / Authorisation cancelled")
                )
            user_id = params.get("user_id", "").strip()
            if _USER_ID.match(user_id):
                with self.gateway.lock:
                    self.gateway.shopper(user_id)
                    code = self.gateway.issue_auth_code(app_id, user_id)
                back = {
                    "app_id": app_id,
                    "source": "alipay_wallet",
                    "scope": scope,
                    "auth_code": code,
                    "state": state,
                }
                return _redirect(_with_query(redirect_uri, back))
            error = "用户 ID 应为 2088 开头的 16 位数字 / 16 digits starting 2088"
        return html_reply(
            pages.consent_form(
                title="支付宝授权 / Alipay authorisation",
                lines=[
                    f"应用 {app_id} 申请获取你的支付宝用户标识。/ App {app_id} asks for your Alipay user id."
                ],
                action=OAUTH_PATH,
                hidden=hidden,
                known_users=users,
                default_user=DEFAULT_USER_ID,
                allow_label="同意 / Allow",
                error=error,
            )
        )
