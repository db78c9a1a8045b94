"""Zhima credit pay-after (芝麻先享) in the sandbox: credit agreements and credit orders."""

from __future__ import annotations

import json
import threading
from typing import Any

from openvend.payments.protocols import alipay as wire
from openvend.sandbox.alipay.call import Call, GatewayState, Notifier, business
from openvend.sandbox.alipay.state import AuthorisationFault, CreditAgreement, CreditOrder, Faults, digits


class CreditMethods:
    """The zhima.credit.payafteruse.* methods, mixed into the Gateway."""

    state: GatewayState
    faults: Faults
    notify: Notifier
    lock: threading.RLock

    # --- Zhima credit pay-after ----------------------------------------------------------------------

    def sign_credit_agreement(
        self, *, app_id: str, user_id: str, biz: dict[str, Any], notify_url: str
    ) -> CreditAgreement:
        out_agreement_no = str(biz.get("out_agreement_no", ""))
        existing = next(
            (
                c
                for c in self.state.credit_agreements.values()
                if c.app_id == app_id and c.out_agreement_no == out_agreement_no and c.status == "VALID"
            ),
            None,
        )
        agreement = existing or CreditAgreement(
            credit_agreement_id="ZMOP99" + digits(24),
            app_id=app_id,
            out_agreement_no=out_agreement_no,
            user_id=user_id,
            zm_service_id=str(biz.get("zm_service_id", "")),
            biz_time=wire.format_timestamp(),
        )
        self.state.credit_agreements[agreement.credit_agreement_id] = agreement
        self.notify(notify_url, self._credit_agreement_message(agreement), "message")
        return agreement

    def _credit_agreement_message(self, c: CreditAgreement) -> dict[str, str]:
        biz = {
            "credit_agreement_id": c.credit_agreement_id,
            "out_agreement_no": c.out_agreement_no,
            "alipay_user_id": c.user_id,
            "agreement_status": c.status,
            "zm_service_id": c.zm_service_id,
            "biz_time": c.biz_time,
        }
        return {
            "msg_method": "zhima.credit.payafteruse.creditagreement.changed",
            "app_id": c.app_id,
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }

    def _check_credit_agreement(self, agreement: CreditAgreement) -> None:
        if self.faults.authorisation == AuthorisationFault.REVOKED:
            agreement.status = "INVALID"
        if agreement.status != "VALID":
            raise business("AGREEMENT_STATUS_NOT_VALID", "芝麻先享协议已失效")

    def credit_agreement_query(self, call: Call) -> dict[str, Any]:
        agreement_id = call.text("credit_agreement_id", required=False)
        out_no = call.text("out_agreement_no", required=False)
        found = next(
            (
                c
                for c in self.state.credit_agreements.values()
                if c.app_id == call.app.app_id
                and (
                    (agreement_id and c.credit_agreement_id == agreement_id)
                    or (out_no and c.out_agreement_no == out_no)
                )
            ),
            None,
        )
        if found is None:
            raise business("AGREEMENT_NOT_EXIST", "开通协议不存在")
        return {
            "credit_agreement_id": found.credit_agreement_id,
            "out_agreement_no": found.out_agreement_no,
            "agreement_status": found.status,
            "zm_service_id": found.zm_service_id,
            "alipay_user_id": found.user_id,
            "biz_time": found.biz_time,
        }

    def _credit_order_node(self, order: CreditOrder) -> dict[str, Any]:
        return {
            "credit_biz_order_id": order.credit_biz_order_id,
            "out_order_no": order.out_order_no,
            "order_status": order.status,
        }

    def credit_order(self, call: Call) -> dict[str, Any]:
        out_order_no = call.text("out_order_no")
        for order in self.state.credit_orders.values():
            if order.merchant == call.merchant and order.out_order_no == out_order_no:
                return self._credit_order_node(order)  # the same order: idempotent on out_order_no
        agreement = self.state.credit_agreements.get(call.text("credit_agreement_id"))
        if agreement is None or agreement.app_id != call.app.app_id:
            raise business("AGREEMENT_NOT_EXIST", "开通协议不存在")
        self._check_credit_agreement(agreement)
        order = CreditOrder(
            credit_biz_order_id="ZMCB99" + digits(24),
            merchant=call.merchant,
            out_order_no=out_order_no,
            credit_agreement_id=agreement.credit_agreement_id,
            user_id=agreement.user_id,
            subject=call.text("subject", required=False) or call.text("order_title"),
        )
        self.state.credit_orders[order.credit_biz_order_id] = order
        return self._credit_order_node(order)

    def _find_credit_order(self, call: Call) -> CreditOrder:
        order_id = call.text("credit_biz_order_id", required=False)
        out_no = call.text("out_order_no", required=False)
        for order in self.state.credit_orders.values():
            if order.merchant == call.merchant and (
                (order_id and order.credit_biz_order_id == order_id)
                or (out_no and order.out_order_no == out_no)
            ):
                return order
        raise business("ORDER_NOT_EXIST", "信用订单不存在")

    def credit_order_query(self, call: Call) -> dict[str, Any]:
        return self._credit_order_node(self._find_credit_order(call))

    def credit_order_finish(self, call: Call) -> dict[str, Any]:
        order = self._find_credit_order(call)
        out_request_no = call.text("out_request_no")
        if out_request_no not in order.finish_requests:
            if order.status != "INIT":
                raise business("ORDER_STATUS_ERROR", "信用订单状态不允许完结")
            order.status = "TRADE_FINISHED" if call.text("is_fulfilled") == "true" else "TRADE_CLOSED"
            order.finish_requests.add(out_request_no)
        return {"credit_biz_order_id": order.credit_biz_order_id, "out_request_no": out_request_no}
