"""One verified gateway request, the sandbox's state and Alipay's refusals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openvend.payments.protocols import alipay as wire
from openvend.payments.providers.base import Rejected
from openvend.sandbox.alipay.state import (
    Agreement,
    App,
    CreditAgreement,
    CreditOrder,
    Shopper,
    Trade,
)

Notifier = Callable[[str, dict[str, str], str], None]  # (notify_url, fields, kind "notify" | "message")


class GatewayError(Exception):
    def __init__(self, code: str, msg: str, sub_code: str = "", sub_msg: str = ""):
        super().__init__(sub_code or code)
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg

    def node(self) -> dict[str, str]:
        node = {"code": self.code, "msg": self.msg}
        if self.sub_code:
            node |= {"sub_code": self.sub_code, "sub_msg": self.sub_msg}
        return node


def business(sub_code: str, sub_msg: str) -> GatewayError:
    return GatewayError("40004", "Business Failed", sub_code, sub_msg)


def invalid(sub_code: str, sub_msg: str) -> GatewayError:
    return GatewayError("40002", "Invalid Arguments", sub_code, sub_msg)


@dataclass
class Call:
    """One verified request."""

    app: App
    app_auth_token: str
    params: dict[str, str]
    biz: dict[str, Any]
    notify_url: str = ""

    @property
    def merchant(self) -> tuple[str, str]:
        return (self.app.app_id, self.app_auth_token)

    def text(self, key: str, *, required: bool = True) -> str:
        value = self.biz.get(key)
        if value in (None, ""):
            if required:
                raise invalid("isv.missing-parameter", f"缺少必选参数 {key}")
            return ""
        return str(value)

    def fen(self, key: str) -> int:
        try:
            amount = wire.yuan_to_fen(self.text(key))
        except Rejected as exc:
            raise invalid("isv.invalid-parameter", f"{key} 金额格式错误") from exc
        return amount


@dataclass
class GatewayState:
    apps: dict[str, App] = field(default_factory=dict)
    sub_merchants: dict[str, str] = field(default_factory=dict)  # app_auth_token -> smid
    shoppers: dict[str, Shopper] = field(default_factory=dict)
    payment_codes: dict[str, str] = field(default_factory=dict)  # bar code -> user id
    agreements: dict[str, Agreement] = field(default_factory=dict)
    trades: dict[tuple[str, str, str], Trade] = field(default_factory=dict)
    credit_agreements: dict[str, CreditAgreement] = field(default_factory=dict)
    credit_orders: dict[str, CreditOrder] = field(default_factory=dict)
    oauth_codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (app_id, user_id)
