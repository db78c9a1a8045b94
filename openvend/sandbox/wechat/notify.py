"""Notifications as WeChat sends them: the resource encrypted with the merchant's APIv3 key, the
envelope signed with the platform key, posted on WeChat's retry schedule until a 2xx answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from openvend.payments.protocols import wechat as proto
from openvend.sandbox.runtime import Courier, Delivery, NotifyFault
from openvend.sandbox.wechat.store import Merchant, Store, now_text
from openvend.sandbox.wechat.web import dumps

# WeChat's documented retry intervals after a failed delivery (15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/
# 3h/3h/3h/6h/6h), in seconds.
RETRY_SCHEDULE_S: tuple[float, ...] = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)

SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
    "PAYSCORE.USER_PAID": "微信支付分服务订单支付成功",
    "PAYSCORE.USER_CONFIRM": "微信支付分服务订单用户已确认",
    "PAYSCORE.USER_OPEN_SERVICE": "微信支付分用户开启服务",
    "PAYSCORE.USER_CLOSE_SERVICE": "微信支付分用户解除服务",
}
ORIGINAL_TYPES = {"TRANSACTION": "transaction", "REFUND": "refund", "PAYSCORE": "payscore"}


def _is_ack(status: int, body: bytes) -> bool:
    return 200 <= status < 300


class Notifier:
    def __init__(self, store: Store, courier: Courier, signer: Callable[[Merchant, str], dict[str, str]]):
        self.store = store
        self.courier = courier
        self._signer = signer

    def build(self, merchant: Merchant, event_type: str, resource: dict[str, Any]) -> tuple[str, str]:
        """The envelope body and its id."""
        notification_id = str(uuid.uuid4())
        original_type = ORIGINAL_TYPES[event_type.split(".", 1)[0]]
        encrypted = proto.aes_gcm_encrypt(merchant.apiv3_key, dumps(resource), original_type)
        envelope = {
            "id": notification_id,
            "create_time": now_text(),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": SUMMARIES.get(event_type, event_type),
            "resource": {"original_type": original_type, **encrypted},
        }
        return dumps(envelope), notification_id

    def send(
        self, merchant: Merchant, url: str, event_type: str, resource: dict[str, Any]
    ) -> Delivery | None:
        if not url:
            return None
        body, _ = self.build(merchant, event_type, resource)
        # No signature here: the courier signs every attempt afresh, the first one included.
        headers = {"Content-Type": "application/json"}
        faults = self.store.faults
        fault = faults.notification or NotifyFault.NONE
        delivery = Delivery(
            url=url,
            headers=headers,
            body=body.encode(),
            schedule_s=RETRY_SCHEDULE_S,
            is_ack=_is_ack,
            fault=fault,
            delay_s=faults.notification_delay_s if fault == NotifyFault.DELAYED else 0.0,
            sign=lambda raw: self._signer(merchant, raw.decode()),
        )
        return self.courier.send(delivery)
