"""Sandbox v3 APIs: JSAPI partner transactions, refunds, profit sharing, platform certificates."""

from __future__ import annotations

from typing import Any

from openvend.payments.protocols import wechat as proto
from openvend.sandbox.wechat.gateway import Gateway
from openvend.sandbox.wechat.store import Merchant, Refund, RefundFault, SharingOrder, Transaction, now_text
from openvend.sandbox.wechat.web import ApiError, Request

Result = tuple[int, dict[str, Any] | None]
OUT_NO = r"(?P<no>[A-Za-z0-9_\-|*@]{1,64})"


def need(data: dict[str, Any], *names: str) -> None:
    for name in names:
        if data.get(name) in (None, "", [], {}):
            raise ApiError(400, "PARAM_ERROR", f"缺少参数 {name} / {name} is required")


def check_sp(merchant: Merchant, value: Any, field_name: str = "sp_mchid") -> None:
    if value is not None and str(value) != merchant.mch_id:
        raise ApiError(400, "PARAM_ERROR", f"{field_name} 与请求商户号不一致 / {field_name} does not match")


def check_sub(gw: Gateway, sub_mchid: Any) -> None:
    if not sub_mchid or str(sub_mchid) not in gw.store.sub_merchants:
        raise ApiError(400, "PARAM_ERROR", "子商户号不存在 / unknown sub_mchid")


def positive_fen(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ApiError(
            400, "PARAM_ERROR", f"{name} 必须为正整数(分) / {name} must be a positive integer (fen)"
        )
    return value


# -- transactions ------------------------------------------------------------------------------------


def transaction_json(t: Transaction) -> dict[str, Any]:
    paid = bool(t.transaction_id)
    data: dict[str, Any] = {
        "sp_appid": t.sp_appid,
        "sp_mchid": t.sp_mchid,
        "sub_mchid": t.sub_mchid,
        "out_trade_no": t.out_trade_no,
        "trade_type": "JSAPI",
        "trade_state": t.trade_state,
        "trade_state_desc": t.trade_state_desc,
        "attach": t.attach,
        "payer": {t.payer_field: t.openid},
        "amount": {"total": t.total, "currency": "CNY"},
    }
    if t.sub_appid:
        data["sub_appid"] = t.sub_appid
    if paid:
        data.update(transaction_id=t.transaction_id, bank_type="OTHERS", success_time=t.success_time)
        data["amount"].update(payer_total=t.total, payer_currency="CNY")
    return data


def pay_transaction(gw: Gateway, t: Transaction) -> bool:
    """The shopper pays a JSAPI order (cashier page). Call with the store lock held."""
    if t.trade_state in ("SUCCESS", "REFUND"):
        return True
    if t.trade_state != "NOTPAY" and t.trade_state != "PAYERROR":
        return False
    if not gw.store.try_debit(t.openid, t.total):
        t.trade_state, t.trade_state_desc = "PAYERROR", "支付失败，余额不足 / insufficient balance"
        return False
    t.transaction_id = gw.store.new_transaction_id()
    t.trade_state, t.trade_state_desc, t.success_time = "SUCCESS", "支付成功", now_text()
    gw.store.by_transaction_id[t.transaction_id] = t
    merchant = gw.store.merchants[t.sp_mchid]
    gw.notifier.send(merchant, t.notify_url, "TRANSACTION.SUCCESS", transaction_json(t))
    return True


def jsapi_create(gw: Gateway, m: Merchant, req: Request) -> Result:
    body = req.json()
    need(
        body,
        "sp_appid",
        "sp_mchid",
        "sub_mchid",
        "description",
        "out_trade_no",
        "notify_url",
        "amount",
        "payer",
    )
    check_sp(m, body["sp_mchid"])
    check_sub(gw, body["sub_mchid"])
    total = positive_fen(body["amount"].get("total"), "amount.total")
    payer = body["payer"]
    payer_field = "sub_openid" if payer.get("sub_openid") else "sp_openid"
    if not payer.get(payer_field):
        raise ApiError(
            400, "PARAM_ERROR", "缺少 payer.sp_openid 或 payer.sub_openid / payer openid is required"
        )
    if payer_field == "sub_openid" and not body.get("sub_appid"):
        raise ApiError(400, "PARAM_ERROR", "使用 sub_openid 时必须传 sub_appid / sub_openid needs sub_appid")
    key = (m.mch_id, str(body["out_trade_no"]))
    existing = gw.store.transactions.get(key)
    if existing is not None:
        if existing.params != body:
            raise ApiError(
                400, "INVALID_REQUEST", "201 商户订单号重复 / out_trade_no reused with other parameters"
            )
        if existing.trade_state in ("SUCCESS", "REFUND"):
            raise ApiError(400, "ORDERPAID", "该订单已支付 / order already paid")
        if existing.trade_state == "CLOSED":
            raise ApiError(400, "ORDER_CLOSED", "订单已关闭 / order closed")
        return 200, {"prepay_id": existing.prepay_id}
    t = Transaction(
        kind="jsapi",
        sp_mchid=m.mch_id,
        sub_mchid=str(body["sub_mchid"]),
        sp_appid=str(body["sp_appid"]),
        sub_appid=str(body.get("sub_appid", "")),
        out_trade_no=key[1],
        total=total,
        description=str(body["description"]),
        payer_field=payer_field,
        openid=str(payer[payer_field]),
        notify_url=str(body["notify_url"]),
        attach=str(body.get("attach", "")),
        params=body,
        prepay_id=gw.store.new_prepay_id(),
    )
    gw.store.transactions[key] = t
    gw.store.by_prepay_id[t.prepay_id] = t
    return 200, {"prepay_id": t.prepay_id}


def _own_transaction(gw: Gateway, m: Merchant, req: Request, out_trade_no: str) -> Transaction:
    query = req.query
    check_sp(m, query.get("sp_mchid"))
    t = gw.store.transactions.get((m.mch_id, out_trade_no))
    if t is None or (query.get("sub_mchid") and query["sub_mchid"] != t.sub_mchid):
        raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在 / order does not exist")
    return t


def jsapi_query(gw: Gateway, m: Merchant, req: Request, no: str) -> Result:
    return 200, transaction_json(_own_transaction(gw, m, req, no))


def jsapi_query_by_id(gw: Gateway, m: Merchant, req: Request, transaction_id: str) -> Result:
    t = gw.store.by_transaction_id.get(transaction_id)
    if t is None or t.sp_mchid != m.mch_id or t.kind != "jsapi":
        raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在 / order does not exist")
    return 200, transaction_json(t)


def jsapi_close(gw: Gateway, m: Merchant, req: Request, no: str) -> Result:
    body = req.json()
    need(body, "sp_mchid", "sub_mchid")
    check_sp(m, body["sp_mchid"])
    t = gw.store.transactions.get((m.mch_id, no))
    if t is None or t.sub_mchid != body["sub_mchid"]:
        raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在 / order does not exist")
    if t.trade_state in ("SUCCESS", "REFUND"):
        raise ApiError(400, "ORDERPAID", "订单已支付，不能关闭 / paid orders cannot be closed")
    t.trade_state, t.trade_state_desc = "CLOSED", "订单已关闭"
    return 204, None


# -- refunds -----------------------------------------------------------------------------------------


def refund_json(r: Refund) -> dict[str, Any]:
    data: dict[str, Any] = {
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "transaction_id": r.transaction_id,
        "out_trade_no": r.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": r.create_time,
        "status": r.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": r.total,
            "refund": r.refund,
            "payer_total": r.total,
            "payer_refund": r.refund,
            "settlement_total": r.total,
            "settlement_refund": r.refund,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
    }
    if r.success_time:
        data["success_time"] = r.success_time
    return data


def refund_notification(r: Refund) -> dict[str, Any]:
    return {
        "sp_mchid": r.sp_mchid,
        "sub_mchid": r.sub_mchid,
        "transaction_id": r.transaction_id,
        "out_trade_no": r.out_trade_no,
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "refund_status": r.status,
        "success_time": r.success_time,
        "user_received_account": "支付用户零钱",
        "amount": {"total": r.total, "refund": r.refund, "payer_total": r.total, "payer_refund": r.refund},
    }


def refund_create(gw: Gateway, m: Merchant, req: Request) -> Result:
    body = req.json()
    need(body, "sub_mchid", "out_refund_no", "amount")
    check_sub(gw, body["sub_mchid"])
    key = (m.mch_id, str(body["out_refund_no"]))
    existing = gw.store.refunds.get(key)
    if existing is not None:
        if existing.params != body:
            raise ApiError(
                400, "INVALID_REQUEST", "退款单号重复 / out_refund_no reused with other parameters"
            )
        return 200, refund_json(existing)
    t: Transaction | None
    if body.get("transaction_id"):
        t = gw.store.by_transaction_id.get(str(body["transaction_id"]))
    elif body.get("out_trade_no"):
        t = gw.store.transactions.get((m.mch_id, str(body["out_trade_no"])))
    else:
        raise ApiError(
            400, "PARAM_ERROR", "transaction_id 与 out_trade_no 必填其一 / one of them is required"
        )
    if t is None or t.sp_mchid != m.mch_id or t.sub_mchid != body["sub_mchid"]:
        raise ApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在 / order does not exist")
    if not t.transaction_id:
        raise ApiError(400, "INVALID_REQUEST", "订单未支付 / order not paid")
    amount = body["amount"]
    refund = positive_fen(amount.get("refund"), "amount.refund")
    if amount.get("total") != t.total:
        raise ApiError(400, "PARAM_ERROR", "订单金额与原订单不一致 / amount.total differs from the order")
    if refund > t.total - t.refunded - t.shared:
        raise ApiError(
            400, "INVALID_REQUEST", "申请退款金额超过订单可退金额 / refund exceeds what is refundable"
        )
    r = Refund(
        sp_mchid=m.mch_id,
        sub_mchid=t.sub_mchid,
        out_refund_no=key[1],
        refund_id=gw.store.new_refund_id(),
        transaction_id=t.transaction_id,
        out_trade_no=t.out_trade_no,
        refund=refund,
        total=t.total,
        notify_url=str(body.get("notify_url", "")),
        params=body,
        create_time=now_text(),
    )
    gw.store.refunds[key] = r
    answer = refund_json(r)  # accepted: PROCESSING, as the real gateway answers
    if gw.store.faults.refund == RefundFault.ABNORMAL:
        r.status = "ABNORMAL"
        event = "REFUND.ABNORMAL"
    else:
        r.status, r.success_time = "SUCCESS", now_text()
        t.refunded += refund
        t.trade_state, t.trade_state_desc = "REFUND", "转入退款"
        gw.store.credit(t.openid, refund)
        event = "REFUND.SUCCESS"
    gw.notifier.send(m, r.notify_url, event, refund_notification(r))
    return 200, answer


def refund_query(gw: Gateway, m: Merchant, req: Request, no: str) -> Result:
    r = gw.store.refunds.get((m.mch_id, no))
    sub = req.query.get("sub_mchid")
    if r is None or (sub and sub != r.sub_mchid):
        raise ApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在 / refund does not exist")
    return 200, refund_json(r)


# -- profit sharing ----------------------------------------------------------------------------------


def sharing_json(o: SharingOrder) -> dict[str, Any]:
    return {
        "sub_mchid": o.sub_mchid,
        "transaction_id": o.transaction_id,
        "out_order_no": o.out_order_no,
        "order_id": o.order_id,
        "state": o.state,
        "receivers": o.receivers,
    }


def _paid_transaction(gw: Gateway, m: Merchant, body: dict[str, Any]) -> Transaction:
    t = gw.store.by_transaction_id.get(str(body["transaction_id"]))
    if t is None or t.sp_mchid != m.mch_id or t.sub_mchid != body["sub_mchid"]:
        raise ApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在 / transaction does not exist")
    return t


def _receiver(item: dict[str, Any], index: int, now: str) -> dict[str, Any]:
    need(item, "type", "account", "amount", "description")
    return {
        "amount": positive_fen(item["amount"], f"receivers[{index}].amount"),
        "description": item["description"],
        "type": item["type"],
        "account": item["account"],
        "result": "SUCCESS",
        "detail_id": f"3600{index:02d}{now[:10].replace('-', '')}",
        "create_time": now,
        "finish_time": now,
    }


def sharing_create(gw: Gateway, m: Merchant, req: Request) -> Result:
    body = req.json()
    need(body, "sub_mchid", "appid", "transaction_id", "out_order_no", "receivers")
    check_sub(gw, body["sub_mchid"])
    key = (m.mch_id, str(body["out_order_no"]))
    existing = gw.store.sharing.get(key)
    if existing is not None:
        if existing.params != body:
            raise ApiError(400, "INVALID_REQUEST", "分账单号重复 / out_order_no reused with other parameters")
        return 200, sharing_json(existing)
    t = _paid_transaction(gw, m, body)
    now = now_text()
    receivers = [_receiver(item, i, now) for i, item in enumerate(body["receivers"])]
    wanted = sum(r["amount"] for r in receivers)
    if wanted > t.total - t.refunded - t.shared:
        raise ApiError(403, "NOT_ENOUGH", "分账金额不足 / not enough left to share")
    t.shared += wanted
    order = SharingOrder(
        m.mch_id, t.sub_mchid, t.transaction_id, key[1], gw.store.new_order_id(), receivers, body
    )
    if body.get("unfreeze_unsplit"):
        t.shared = t.total - t.refunded
    gw.store.sharing[key] = order
    return 200, sharing_json(order)


def sharing_query(gw: Gateway, m: Merchant, req: Request, no: str) -> Result:
    order = gw.store.sharing.get((m.mch_id, no))
    query = req.query
    if order is None or query.get("transaction_id") not in (None, order.transaction_id):
        raise ApiError(404, "RESOURCE_NOT_EXISTS", "分账单不存在 / profit-sharing order does not exist")
    return 200, sharing_json(order)


def sharing_unfreeze(gw: Gateway, m: Merchant, req: Request) -> Result:
    body = req.json()
    need(body, "sub_mchid", "transaction_id", "out_order_no", "description")
    check_sub(gw, body["sub_mchid"])
    key = (m.mch_id, str(body["out_order_no"]))
    existing = gw.store.sharing.get(key)
    if existing is not None:
        return 200, sharing_json(existing)
    t = _paid_transaction(gw, m, body)
    remaining = t.total - t.refunded - t.shared
    now = now_text()
    receivers = []
    if remaining > 0:
        receivers.append(
            {
                "amount": remaining,
                "description": "解冻给分账方",
                "type": "MERCHANT_ID",
                "account": t.sub_mchid,
                "result": "SUCCESS",
                "detail_id": f"3601{now[:10].replace('-', '')}",
                "create_time": now,
                "finish_time": now,
            }
        )
    t.shared = t.total - t.refunded
    order = SharingOrder(
        m.mch_id, t.sub_mchid, t.transaction_id, key[1], gw.store.new_order_id(), receivers, body
    )
    gw.store.sharing[key] = order
    return 200, sharing_json(order)


# -- certificates ------------------------------------------------------------------------------------


def certificates(gw: Gateway, m: Merchant, req: Request) -> Result:
    effective, expire = proto.certificate_validity(gw.platform.certificate_pem)
    encrypted = proto.aes_gcm_encrypt(m.apiv3_key, gw.platform.certificate_pem, "certificate")
    item = {
        "serial_no": gw.platform.certificate_serial,
        "effective_time": effective.astimezone().isoformat(),
        "expire_time": expire.astimezone().isoformat(),
        "encrypt_certificate": encrypted,
    }
    return 200, {"data": [item]}


def register(gw: Gateway) -> None:
    base = "/v3/pay/partner/transactions"
    gw.add_api("POST", f"{base}/jsapi", jsapi_create)
    gw.add_api("GET", f"{base}/out-trade-no/{OUT_NO}", jsapi_query)
    gw.add_api("GET", f"{base}/id/(?P<transaction_id>[0-9A-Za-z]+)", jsapi_query_by_id)
    gw.add_api("POST", f"{base}/out-trade-no/{OUT_NO}/close", jsapi_close)
    gw.add_api("POST", "/v3/refund/domestic/refunds", refund_create)
    gw.add_api("GET", f"/v3/refund/domestic/refunds/{OUT_NO}", refund_query)
    gw.add_api("POST", "/v3/profitsharing/orders", sharing_create)
    gw.add_api("POST", "/v3/profitsharing/orders/unfreeze", sharing_unfreeze)
    gw.add_api("GET", f"/v3/profitsharing/orders/{OUT_NO}", sharing_query)
    gw.add_api("GET", "/v3/certificates", certificates)
