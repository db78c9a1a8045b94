"""The shopper's side of the sandbox, in a phone browser: WeChat OAuth (snsapi_base), the JSAPI
cashier, the payscore authorisation and order-confirm pages; plus the /sandbox/control endpoint."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from openvend.sandbox.runtime import NotifyFault
from openvend.sandbox.wechat.api_pay import pay_transaction
from openvend.sandbox.wechat.api_payscore import confirm_order, grant_permission
from openvend.sandbox.wechat.gateway import Gateway
from openvend.sandbox.wechat.store import AuthorisationFault, ChargeFault, RefundFault
from openvend.sandbox.wechat.web import (
    ApiError,
    Request,
    Response,
    esc,
    html_response,
    json_response,
    page,
    redirect,
)


def with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _safe_redirect(url: str) -> str:
    """Only absolute http(s) URLs or local paths: never javascript: or other schemes."""
    scheme = urlsplit(url).scheme
    return url if scheme in ("http", "https", "") else ""


def _hidden(**fields: str) -> str:
    return "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items())


def _openid_input(gw: Gateway, suggested: str) -> str:
    options = "".join(f'<option value="{esc(o)}">' for o in gw.store.known_openids())
    value = suggested or "o" + secrets.token_urlsafe(18)
    return (
        '<label for="openid">用户 openid / Shopper openid</label>'
        f'<input id="openid" name="openid" list="openids" value="{esc(value)}" required>'
        f'<datalist id="openids">{options}</datalist>'
    )


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


# -- OAuth -------------------------------------------------------------------------------------------


def oauth_authorize(gw: Gateway, req: Request) -> Response:
    q = req.query
    if not q.get("appid") or not q.get("redirect_uri"):
        return html_response(
            page("参数错误 / Bad request", "<p class='error'>缺少 appid 或 redirect_uri</p>"), 400
        )
    body = f"""<div class="card"><p>应用 {esc(q["appid"])} 请求获取你的身份 (snsapi_base)</p>
<p class="muted">App {esc(q["appid"])} asks for your identity.</p>
<form method="post" action="/connect/oauth2/authorize">
{_hidden(appid=q["appid"], redirect_uri=q["redirect_uri"], state=q.get("state", ""))}
{_openid_input(gw, q.get("openid", ""))}
<button class="primary" type="submit">同意 / Allow</button></form></div>"""
    return html_response(page("微信授权登录 / Sign in with WeChat", body))


def oauth_allow(gw: Gateway, req: Request) -> Response:
    form = req.form
    target = _safe_redirect(form.get("redirect_uri", ""))
    if not target or not form.get("openid"):
        return html_response(
            page("参数错误 / Bad request", "<p class='error'>redirect_uri / openid</p>"), 400
        )
    code = secrets.token_urlsafe(16)
    with gw.store.lock:
        gw.store.oauth_codes[code] = (form.get("appid", ""), form["openid"])
    return redirect(with_params(target, code=code, state=form.get("state", "")))


def oauth_access_token(gw: Gateway, req: Request) -> Response:
    q = req.query
    expected_secret = gw.store.app_secrets.get(q.get("appid", ""))
    if expected_secret is not None and q.get("secret") != expected_secret:
        return json_response(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
    if q.get("grant_type") != "authorization_code":
        return json_response(200, {"errcode": 40002, "errmsg": "invalid grant_type"})
    with gw.store.lock:
        found = gw.store.oauth_codes.pop(q.get("code", ""), None)  # a code works once
    if found is None or found[0] != q.get("appid"):
        return json_response(200, {"errcode": 40029, "errmsg": "invalid code"})
    return json_response(
        200,
        {
            "access_token": secrets.token_urlsafe(32),
            "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(32),
            "openid": found[1],
            "scope": "snsapi_base",
        },
    )


# -- JSAPI cashier -----------------------------------------------------------------------------------


def cashier(gw: Gateway, req: Request) -> Response:
    q = req.query
    t = gw.store.by_prepay_id.get(q.get("prepay_id", ""))
    if t is None:
        return html_response(page("订单不存在 / No such order", "<p class='error'>prepay_id 无效</p>"), 404)
    state = {"SUCCESS": "已支付 / Paid", "REFUND": "已支付 / Paid", "CLOSED": "已关闭 / Closed"}.get(
        t.trade_state
    )
    action = (
        f"<p>{state}</p>"
        if state
        else f"""<form method="post" action="/cgi-bin/mmpayweb-bin/checkmweb">
{_hidden(prepay_id=t.prepay_id, redirect_url=q.get("redirect_url", ""))}
<button class="primary" type="submit">立即支付 / Pay now</button></form>"""
    )
    body = f"""<div class="card"><p>{esc(t.description)}</p><div class="amount">{_yuan(t.total)}</div>
<p class="muted">商户 / Merchant {esc(t.sub_mchid)} · 付款人 / Payer {esc(t.openid)}</p>
<p class="muted">零钱余额 / Balance {_yuan(gw.store.balance(t.openid))}</p>{action}</div>"""
    return html_response(page("确认付款 / Confirm payment", body))


def cashier_pay(gw: Gateway, req: Request) -> Response:
    form = req.form
    with gw.store.lock:
        t = gw.store.by_prepay_id.get(form.get("prepay_id", ""))
        if t is None:
            return html_response(
                page("订单不存在 / No such order", "<p class='error'>prepay_id 无效</p>"), 404
            )
        paid = pay_transaction(gw, t)
    back = _safe_redirect(form.get("redirect_url", ""))
    if paid:
        if back:
            return redirect(back)
        return html_response(page("支付成功 / Paid", f"<div class='card amount'>{_yuan(t.total)}</div>"))
    link = f'<a href="{esc(back)}">返回商户 / Back to the merchant</a>' if back else ""
    body = f"<div class='card'><p class='error'>{esc(t.trade_state_desc)}</p>{link}</div>"
    return html_response(page("支付失败 / Payment failed", body))


# -- payscore ----------------------------------------------------------------------------------------


def permission_page(gw: Gateway, req: Request) -> Response:
    q = req.query
    p = gw.store.by_token.get(q.get("apply_permissions_token", ""))
    if p is None:
        return html_response(
            page("授权无效 / Invalid", "<p class='error'>apply_permissions_token 无效</p>"), 404
        )
    body = f"""<div class="card"><p>开启微信支付分 先享后付服务</p>
<p class="muted">Turn on WeChat Pay score pay-after for merchant {esc(p.sub_mchid)}: take goods first,
pay automatically afterwards.</p>
<form method="post" action="/payscore/permissions/confirm">
{_hidden(apply_permissions_token=p.token, return_url=q.get("return_url", ""))}
{_openid_input(gw, q.get("openid", ""))}
<button class="primary" type="submit" name="decision" value="allow">同意并开启 / Agree</button>
<button class="secondary" type="submit" name="decision" value="deny">暂不开启 / Not now</button>
</form></div>"""
    return html_response(page("微信支付分 / WeChat Pay score", body))


def permission_confirm(gw: Gateway, req: Request) -> Response:
    form = req.form
    with gw.store.lock:
        p = gw.store.by_token.get(form.get("apply_permissions_token", ""))
        if p is None:
            return html_response(page("授权无效 / Invalid", "<p class='error'>token</p>"), 404)
        if form.get("decision", "allow") == "allow" and form.get("openid"):
            grant_permission(gw, p, form["openid"])
    back = _safe_redirect(form.get("return_url", ""))
    return redirect(back) if back else html_response(page("已开启 / Enabled", "<p>✓</p>"))


def order_page(gw: Gateway, req: Request) -> Response:
    q = req.query
    o = gw.store.by_package.get(q.get("package", ""))
    if o is None:
        return html_response(page("订单无效 / Invalid", "<p class='error'>package 无效</p>"), 404)
    risk = o.params.get("risk_fund", {})
    body = f"""<div class="card"><p>{esc(o.params.get("service_introduction", ""))}</p>
<p class="muted">商户 / Merchant {esc(o.sub_mchid)} · 免押金额度 / Deposit waived up to
{_yuan(int(risk.get("amount", 0)))}</p>
<form method="post" action="/payscore/serviceorder/confirm">
{_hidden(package=o.package, redirect_url=q.get("redirect_url", ""))}
{_openid_input(gw, q.get("openid", ""))}
<button class="primary" type="submit">确认订单 / Confirm</button></form></div>"""
    return html_response(page("确认服务订单 / Confirm service order", body))


def order_confirm(gw: Gateway, req: Request) -> Response:
    form = req.form
    with gw.store.lock:
        o = gw.store.by_package.get(form.get("package", ""))
        if o is None or not form.get("openid"):
            return html_response(page("订单无效 / Invalid", "<p class='error'>package / openid</p>"), 404)
        confirm_order(gw, o, form["openid"])
    back = _safe_redirect(form.get("redirect_url", ""))
    return redirect(back) if back else html_response(page("已确认 / Confirmed", "<p>✓</p>"))


# -- control -----------------------------------------------------------------------------------------

ALLOWED = {
    "charge": {ChargeFault.NONE, ChargeFault.INSUFFICIENT_BALANCE},
    "authorisation": {AuthorisationFault.NONE, AuthorisationFault.REVOKED},
    "notification": {"", NotifyFault.NONE, NotifyFault.LOST, NotifyFault.DUPLICATE, NotifyFault.DELAYED},
    "refund": {RefundFault.NONE, RefundFault.ABNORMAL},
}


def apply_control(gw: Gateway, data: dict[str, Any]) -> dict[str, Any]:
    """Set faults and balances; the same from Python and from POST /sandbox/control."""
    with gw.store.lock:
        faults = gw.store.faults
        if data.get("reset"):
            faults.charge = faults.authorisation = faults.notification = faults.refund = ""
        for name, allowed in ALLOWED.items():
            if name in data:
                value = str(data[name] or "")
                if value not in allowed:
                    raise ApiError(400, "PARAM_ERROR", f"{name}: {value!r} not in {sorted(allowed)}")
                setattr(faults, name, "" if value == NotifyFault.NONE else value)
        if "notification_delay_s" in data:
            faults.notification_delay_s = float(data["notification_delay_s"])
        for openid, fen in (data.get("balances") or {}).items():
            gw.store.balances[str(openid)] = int(fen)
        return faults.as_dict()


def control(gw: Gateway, req: Request) -> Response:
    if req.method == "GET":
        return json_response(200, gw.store.faults.as_dict())
    try:
        data = json.loads(req.body or b"{}")
    except ValueError:
        raise ApiError(400, "PARAM_ERROR", "body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "PARAM_ERROR", "body must be a JSON object")
    return json_response(200, apply_control(gw, data))


def register(gw: Gateway) -> None:
    gw.add_page("GET", "/connect/oauth2/authorize", oauth_authorize)
    gw.add_page("POST", "/connect/oauth2/authorize", oauth_allow)
    gw.add_page("GET", "/sns/oauth2/access_token", oauth_access_token)
    gw.add_page("GET", "/cgi-bin/mmpayweb-bin/checkmweb", cashier)
    gw.add_page("POST", "/cgi-bin/mmpayweb-bin/checkmweb", cashier_pay)
    gw.add_page("GET", "/payscore/permissions/confirm", permission_page)
    gw.add_page("POST", "/payscore/permissions/confirm", permission_confirm)
    gw.add_page("GET", "/payscore/serviceorder/confirm", order_page)
    gw.add_page("POST", "/payscore/serviceorder/confirm", order_confirm)
    gw.add_page("GET", "/sandbox/control", control)
    gw.add_page("POST", "/sandbox/control", control)
