"""Sandbox v3 APIs: payscore (微信支付分) partner service orders and permissions (no-confirm mode)."""

from __future__ import annotations

import secrets
from typing import Any

from openvend.sandbox.wechat.api_pay import OUT_NO, Result, check_sub, need, positive_fen
from openvend.sandbox.wechat.gateway import Gateway
from openvend.sandbox.wechat.store import (
    AuthorisationFault,
    Merchant,
    Permission,
    ServiceOrder,
    Transaction,
    now_text,
)
from openvend.sandbox.wechat.web import ApiError, Request

FAIL_NOT_ENOUGH = ("NOT_ENOUGH", "用户余额不足 / insufficient balance")


def _check_service(gw: Gateway, sub_mchid: str, service_id: str) -> None:
    check_sub(gw, sub_mchid)
    if gw.store.sub_merchants[sub_mchid].payscore_service_id != service_id:
        raise ApiError(403, "NO_AUTH", "商户暂无权限使用此服务 / service_id is not enabled for this merchant")


def _openid(body: dict[str, Any]) -> tuple[str, str]:
    for name in ("sub_openid", "openid"):
        if body.get(name):
            return name, str(body[name])
    return "", ""


# -- service orders ----------------------------------------------------------------------------------


def order_json(o: ServiceOrder, *, with_package: bool = False) -> dict[str, Any]:
    p = o.params
    data: dict[str, Any] = {
        "out_order_no": o.out_order_no,
        "service_id": o.service_id,
        "appid": o.appid,
        "mchid": o.sp_mchid,
        "sub_mchid": o.sub_mchid,
        "service_introduction": p.get("service_introduction", ""),
        "state": o.state,
        "post_payments": o.post_payments or p.get("post_payments", []),
        "post_discounts": p.get("post_discounts", []),
        "risk_fund": p.get("risk_fund", {}),
        "time_range": p.get("time_range", {}),
        "notify_url": p.get("notify_url", ""),
        "order_id": o.order_id,
        "need_collection": True,
    }
    if o.sub_appid:
        data["sub_appid"] = o.sub_appid
    if o.state_description:
        data["state_description"] = o.state_description
    if p.get("attach"):
        data["attach"] = p["attach"]
    if p.get("location"):
        data["location"] = p["location"]
    if o.openid:
        data[o.openid_field] = o.openid
    if o.total_amount is not None:
        data["total_amount"] = o.total_amount
    if o.collection:
        data["collection"] = o.collection
    if with_package and o.need_user_confirm:
        data["package"] = o.package
    return data


def _active_permission(gw: Gateway, sp_mchid: str, sub_mchid: str, service_id: str, openid: str) -> bool:
    if gw.store.faults.authorisation == AuthorisationFault.REVOKED:
        return False
    return any(
        p.state == "AVAILABLE"
        and (p.sp_mchid, p.sub_mchid, p.service_id, p.openid) == (sp_mchid, sub_mchid, service_id, openid)
        for p in gw.store.permissions.values()
    )


def order_create(gw: Gateway, m: Merchant, req: Request) -> Result:
    body = req.json()
    need(body, "service_id", "appid", "sub_mchid", "out_order_no", "service_introduction", "risk_fund")
    need(body, "time_range", "notify_url")
    _check_service(gw, str(body["sub_mchid"]), str(body["service_id"]))
    positive_fen(body["risk_fund"].get("amount"), "risk_fund.amount")
    key = (m.mch_id, str(body["out_order_no"]))
    existing = gw.store.service_orders.get(key)
    if existing is not None:
        if existing.params != body:
            raise ApiError(
                400, "INVALID_REQUEST", "商户订单号重复 / out_order_no reused with other parameters"
            )
        return 200, order_json(existing, with_package=True)
    need_confirm = body.get("need_user_confirm", True) is not False
    openid_field, openid = _openid(body)
    if not need_confirm:
        if not openid:
            raise ApiError(
                400, "PARAM_ERROR", "免确认订单必须传 openid / openid is required without confirmation"
            )
        if not _active_permission(gw, m.mch_id, str(body["sub_mchid"]), str(body["service_id"]), openid):
            raise ApiError(
                403, "NO_AUTH", "用户未授权该服务或已解除授权 / the user has not authorised this service"
            )
    o = ServiceOrder(
        sp_mchid=m.mch_id,
        sub_mchid=str(body["sub_mchid"]),
        appid=str(body["appid"]),
        sub_appid=str(body.get("sub_appid", "")),
        service_id=str(body["service_id"]),
        out_order_no=key[1],
        order_id=gw.store.new_order_id(),
        package=secrets.token_urlsafe(24) if need_confirm else "",
        need_user_confirm=need_confirm,
        params=body,
        openid_field=openid_field,
        openid=openid,
        state="CREATED" if need_confirm else "DOING",
    )
    gw.store.service_orders[key] = o
    if o.package:
        gw.store.by_package[o.package] = o
    return 200, order_json(o, with_package=True)


def _order(gw: Gateway, m: Merchant, out_order_no: str, sub_mchid: Any, service_id: Any) -> ServiceOrder:
    o = gw.store.service_orders.get((m.mch_id, out_order_no))
    if o is None or (sub_mchid and sub_mchid != o.sub_mchid) or (service_id and service_id != o.service_id):
        raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在 / service order does not exist")
    return o


def order_query(gw: Gateway, m: Merchant, req: Request) -> Result:
    q = req.query
    if not q.get("sub_mchid"):
        raise ApiError(400, "PARAM_ERROR", "缺少参数 sub_mchid / sub_mchid is required")
    if not q.get("out_order_no"):
        raise ApiError(400, "PARAM_ERROR", "缺少参数 out_order_no / out_order_no is required")
    return 200, order_json(_order(gw, m, q["out_order_no"], q["sub_mchid"], q.get("service_id")))


def deduct(gw: Gateway, o: ServiceOrder) -> None:
    """Collect a completed order's total from the shopper; on success mark it DONE and notify."""
    total = o.total_amount or 0
    if total == 0:
        o.state, o.state_description = "DONE", ""
        o.collection = {"state": "USER_PAID", "total_amount": 0, "paying_amount": 0, "paid_amount": 0}
        return
    if not gw.store.try_debit(o.openid, total):
        code, message = FAIL_NOT_ENOUGH
        o.collection = {
            "state": "USER_PAYING",
            "total_amount": total,
            "paying_amount": total,
            "paid_amount": 0,
            "details": [],
            # Not in the real API, which keeps collecting silently: the sandbox says why it failed.
            "fail_reason": code,
            "fail_message": message,
        }
        return
    now = now_text()
    t = Transaction(
        kind="payscore",
        sp_mchid=o.sp_mchid,
        sub_mchid=o.sub_mchid,
        sp_appid=o.appid,
        sub_appid=o.sub_appid,
        out_trade_no=o.out_order_no,
        total=total,
        description=str(o.params.get("service_introduction", "")),
        payer_field=o.openid_field,
        openid=o.openid,
        notify_url=str(o.params.get("notify_url", "")),
        transaction_id=gw.store.new_transaction_id(),
        trade_state="SUCCESS",
        trade_state_desc="支付成功",
        success_time=now,
    )
    gw.store.by_transaction_id[t.transaction_id] = t
    o.transaction_id = t.transaction_id
    o.state, o.state_description = "DONE", ""
    detail = {
        "seq": 1,
        "amount": total,
        "paid_type": "NEWTON",
        "paid_time": now,
        "transaction_id": t.transaction_id,
    }
    o.collection = {
        "state": "USER_PAID",
        "total_amount": total,
        "paying_amount": 0,
        "paid_amount": total,
        "details": [detail],
    }
    merchant = gw.store.merchants[o.sp_mchid]
    gw.notifier.send(merchant, t.notify_url, "PAYSCORE.USER_PAID", order_json(o))


def order_complete(gw: Gateway, m: Merchant, req: Request, no: str) -> Result:
    body = req.json()
    need(body, "service_id", "sub_mchid", "post_payments")
    o = _order(gw, m, no, body["sub_mchid"], body["service_id"])
    total = body.get("total_amount")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise ApiError(400, "PARAM_ERROR", "total_amount 必须为非负整数(分) / total_amount must be fen >= 0")
    payments = body["post_payments"]
    discounts = sum(int(d.get("amount", 0)) for d in body.get("post_discounts") or [])
    if sum(int(p.get("amount", 0)) for p in payments) - discounts != total:
        raise ApiError(400, "PARAM_ERROR", "total_amount 与付费项目不符 / post_payments do not add up")
    if o.complete_params is not None:
        if o.complete_params != body:
            raise ApiError(400, "INVALID_REQUEST", "订单已完结 / order already completed")
        return 200, order_json(o)
    if o.state != "DOING":
        raise ApiError(400, "INVALID_REQUEST", f"订单状态 {o.state} 不允许完结 / order cannot be completed")
    o.complete_params, o.post_payments, o.total_amount = body, payments, total
    o.state_description = "MCH_COMPLETE"
    deduct(gw, o)
    return 200, order_json(o)


def order_pay(gw: Gateway, m: Merchant, req: Request, no: str) -> Result:
    """商户发起催收扣款: retry the deduction of a completed order (e.g. after a top-up)."""
    body = req.json()
    need(body, "service_id", "sub_mchid")
    o = _order(gw, m, no, body["sub_mchid"], body["service_id"])
    if o.state == "DOING" and o.state_description == "MCH_COMPLETE":
        deduct(gw, o)
    return 200, order_json(o)


def order_cancel(gw: Gateway, m: Merchant, req: Request, no: str) -> Result:
    body = req.json()
    need(body, "service_id", "sub_mchid", "reason")
    o = _order(gw, m, no, body["sub_mchid"], body["service_id"])
    if o.state == "REVOKED":
        return 200, order_json(o)
    if o.state not in ("CREATED", "DOING") or o.state_description == "MCH_COMPLETE":
        raise ApiError(400, "INVALID_REQUEST", f"订单状态 {o.state} 不允许取消 / order cannot be cancelled")
    o.state, o.state_description, o.cancel_reason = "REVOKED", "", str(body["reason"])
    return 200, order_json(o)


def confirm_order(gw: Gateway, o: ServiceOrder, openid: str) -> None:
    """The shopper confirms a user-confirm order on the payscore page. Call with the store lock held."""
    if o.state != "CREATED":
        return
    o.openid_field = "sub_openid" if o.sub_appid else "openid"
    o.openid = openid
    o.state, o.state_description = "DOING", "USER_CONFIRM"
    merchant = gw.store.merchants[o.sp_mchid]
    gw.notifier.send(merchant, str(o.params.get("notify_url", "")), "PAYSCORE.USER_CONFIRM", order_json(o))


# -- permissions -------------------------------------------------------------------------------------


def permission_json(gw: Gateway, p: Permission) -> dict[str, Any]:
    state = p.state
    if state == "AVAILABLE" and gw.store.faults.authorisation == AuthorisationFault.REVOKED:
        state = "UNBINDUSER"
    data: dict[str, Any] = {
        "service_id": p.service_id,
        "appid": p.appid,
        "mchid": p.sp_mchid,
        "sub_mchid": p.sub_mchid,
        "authorization_code": p.authorization_code,
        "authorization_state": state,
        "notify_url": p.notify_url,
    }
    if p.sub_appid:
        data["sub_appid"] = p.sub_appid
    if p.openid:
        data[p.openid_field] = p.openid
    if p.success_time:
        data["authorization_success_time"] = p.success_time
    if p.cancel_time:
        data["cancel_authorization_time"] = p.cancel_time
    return data


def permission_notification(p: Permission, status: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "appid": p.appid,
        "mchid": p.sp_mchid,
        "sub_mchid": p.sub_mchid,
        "service_id": p.service_id,
        p.openid_field or "openid": p.openid,
        "user_service_status": status,
        "openorclose_time": now_text(),
        "authorization_code": p.authorization_code,
    }
    if p.sub_appid:
        data["sub_appid"] = p.sub_appid
    return data


def permission_apply(gw: Gateway, m: Merchant, req: Request) -> Result:
    body = req.json()
    need(body, "service_id", "appid", "sub_mchid", "authorization_code")
    _check_service(gw, str(body["sub_mchid"]), str(body["service_id"]))
    key = (m.mch_id, str(body["authorization_code"]))
    existing = gw.store.permissions.get(key)
    if existing is not None:
        if existing.params != body:
            raise ApiError(400, "INVALID_REQUEST", "授权协议号重复 / authorization_code reused")
        return 200, {"apply_permissions_token": existing.token}
    p = Permission(
        sp_mchid=m.mch_id,
        sub_mchid=str(body["sub_mchid"]),
        appid=str(body["appid"]),
        sub_appid=str(body.get("sub_appid", "")),
        service_id=str(body["service_id"]),
        authorization_code=key[1],
        token=gw.store.new_token("PERM"),
        notify_url=str(body.get("notify_url", "")),
        params=body,
    )
    gw.store.permissions[key] = p
    gw.store.by_token[p.token] = p
    return 200, {"apply_permissions_token": p.token}


def _latest_for_openid(
    gw: Gateway, m: Merchant, sub_mchid: str, service_id: str, openid: str
) -> Permission | None:
    found = [
        p
        for p in gw.store.permissions.values()
        if (p.sp_mchid, p.sub_mchid, p.service_id, p.openid) == (m.mch_id, sub_mchid, service_id, openid)
    ]
    active = [p for p in found if p.state == "AVAILABLE"]
    candidates = active or found
    return candidates[-1] if candidates else None


def permission_search(gw: Gateway, m: Merchant, req: Request) -> Result:
    q = req.query
    for name in ("service_id", "appid", "sub_mchid"):
        if not q.get(name):
            raise ApiError(400, "PARAM_ERROR", f"缺少参数 {name} / {name} is required")
    openid_field, openid = _openid(q)
    if not openid:
        raise ApiError(400, "PARAM_ERROR", "缺少参数 openid / openid is required")
    p = _latest_for_openid(gw, m, q["sub_mchid"], q["service_id"], openid)
    if p is None:
        data = {
            "service_id": q["service_id"],
            "appid": q["appid"],
            "mchid": m.mch_id,
            "sub_mchid": q["sub_mchid"],
            openid_field: openid,
            "authorization_state": "UNAVAILABLE",
        }
        return 200, data
    return 200, permission_json(gw, p)


def permission_by_code(gw: Gateway, m: Merchant, req: Request, no: str) -> Result:
    p = gw.store.permissions.get((m.mch_id, no))
    q = req.query
    if p is None or (q.get("sub_mchid") and q["sub_mchid"] != p.sub_mchid):
        raise ApiError(404, "RESOURCE_NOT_EXISTS", "授权记录不存在 / no such authorisation")
    return 200, permission_json(gw, p)


def terminate(gw: Gateway, p: Permission) -> None:
    """The authorisation ends (merchant terminate or the shopper closing the service): notify."""
    if p.state != "AVAILABLE":
        return
    p.state, p.cancel_time = "UNBINDUSER", now_text()
    merchant = gw.store.merchants[p.sp_mchid]
    gw.notifier.send(
        merchant,
        p.notify_url,
        "PAYSCORE.USER_CLOSE_SERVICE",
        permission_notification(p, "USER_CLOSE_SERVICE"),
    )


def permission_terminate(gw: Gateway, m: Merchant, req: Request) -> Result:
    body = req.json()
    need(body, "service_id", "appid", "sub_mchid", "reason")
    _, openid = _openid(body)
    if not openid:
        raise ApiError(400, "PARAM_ERROR", "缺少参数 openid / openid is required")
    p = _latest_for_openid(gw, m, str(body["sub_mchid"]), str(body["service_id"]), openid)
    if p is None:
        raise ApiError(400, "INVALID_REQUEST", "用户未授权该服务 / the user has no authorisation")
    terminate(gw, p)
    return 204, None


def grant_permission(gw: Gateway, p: Permission, openid: str) -> None:
    """The shopper agrees on the payscore authorisation page. Call with the store lock held."""
    if p.state == "AVAILABLE":
        return
    p.openid_field = "sub_openid" if p.sub_appid else "openid"
    p.openid = openid
    p.state, p.success_time, p.cancel_time = "AVAILABLE", now_text(), ""
    merchant = gw.store.merchants[p.sp_mchid]
    gw.notifier.send(
        merchant, p.notify_url, "PAYSCORE.USER_OPEN_SERVICE", permission_notification(p, "USER_OPEN_SERVICE")
    )


def register(gw: Gateway) -> None:
    base = "/v3/payscore/partner/serviceorder"
    gw.add_api("POST", base, order_create)
    gw.add_api("GET", base, order_query)
    gw.add_api("POST", f"{base}/{OUT_NO}/complete", order_complete)
    gw.add_api("POST", f"{base}/{OUT_NO}/cancel", order_cancel)
    gw.add_api("POST", f"{base}/{OUT_NO}/pay", order_pay)
    perms = "/v3/payscore/partner/permissions"
    gw.add_api("POST", perms, permission_apply)
    gw.add_api("GET", f"{perms}/search", permission_search)
    gw.add_api("POST", f"{perms}/terminate", permission_terminate)
    gw.add_api("GET", f"{perms}/authorization-code/{OUT_NO}", permission_by_code)
