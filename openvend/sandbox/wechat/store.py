"""The sandbox gateway's memory: merchants, shoppers, orders, and the faults it is told to simulate.

Everything lives behind one lock; handlers take it for the whole read-decide-write of a request, so
concurrent retries of the same out_* number see one order, as on the real gateway.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

PLENTY_FEN = 100_000_000  # what an unknown shopper has: a million yuan
CST = dt.timezone(dt.timedelta(hours=8))


def now_text() -> str:
    """WeChat's rfc3339 timestamps are in China Standard Time."""
    return dt.datetime.now(CST).replace(microsecond=0).isoformat()


class ChargeFault:
    NONE = ""
    INSUFFICIENT_BALANCE = "insufficient_balance"


class AuthorisationFault:
    NONE = ""
    REVOKED = "revoked"


class RefundFault:
    NONE = ""
    ABNORMAL = "abnormal"


@dataclass
class Faults:
    charge: str = ChargeFault.NONE
    authorisation: str = AuthorisationFault.NONE
    notification: str = ""  # runtime.NotifyFault: "", "lost", "duplicate", "delayed"
    notification_delay_s: float = 60.0  # real seconds, scaled by time_scale like the retry schedule
    refund: str = RefundFault.NONE

    def as_dict(self) -> dict[str, Any]:
        return {
            "charge": self.charge,
            "authorisation": self.authorisation,
            "notification": self.notification,
            "notification_delay_s": self.notification_delay_s,
            "refund": self.refund,
        }


@dataclass
class Merchant:
    """A service provider (sp_mchid) whose requests we verify with its registered public key."""

    mch_id: str
    serial_no: str
    public_key_pem: str
    apiv3_key: str = field(repr=False)
    # How the merchant verifies us: "public_key" (Wechatpay-Serial = PUB_KEY_ID_...) or "certificate".
    mode: str = "public_key"


@dataclass
class SubMerchantRecord:
    sub_mchid: str
    sub_appid: str
    payscore_service_id: str


@dataclass
class Transaction:
    """A JSAPI trade, or the trade a payscore deduction produced (kind="payscore")."""

    kind: str
    sp_mchid: str
    sub_mchid: str
    sp_appid: str
    sub_appid: str
    out_trade_no: str
    total: int
    description: str
    payer_field: str  # "sp_openid" | "sub_openid" | "openid"
    openid: str
    notify_url: str
    attach: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    prepay_id: str = ""
    transaction_id: str = ""
    trade_state: str = "NOTPAY"
    trade_state_desc: str = "未支付"
    success_time: str = ""
    refunded: int = 0
    shared: int = 0


@dataclass
class ServiceOrder:
    sp_mchid: str
    sub_mchid: str
    appid: str
    sub_appid: str
    service_id: str
    out_order_no: str
    order_id: str
    package: str
    need_user_confirm: bool
    params: dict[str, Any]
    openid_field: str = ""
    openid: str = ""
    state: str = "CREATED"
    state_description: str = ""
    total_amount: int | None = None
    post_payments: list[dict[str, Any]] = field(default_factory=list)
    complete_params: dict[str, Any] | None = None
    cancel_reason: str = ""
    collection: dict[str, Any] = field(default_factory=dict)
    transaction_id: str = ""


@dataclass
class Permission:
    sp_mchid: str
    sub_mchid: str
    appid: str
    sub_appid: str
    service_id: str
    authorization_code: str
    token: str
    notify_url: str
    params: dict[str, Any]
    openid_field: str = ""
    openid: str = ""
    state: str = "UNAVAILABLE"
    success_time: str = ""
    cancel_time: str = ""


@dataclass
class Refund:
    sp_mchid: str
    sub_mchid: str
    out_refund_no: str
    refund_id: str
    transaction_id: str
    out_trade_no: str
    refund: int
    total: int
    notify_url: str
    params: dict[str, Any]
    status: str = "PROCESSING"
    create_time: str = ""
    success_time: str = ""


@dataclass
class SharingOrder:
    sp_mchid: str
    sub_mchid: str
    transaction_id: str
    out_order_no: str
    order_id: str
    receivers: list[dict[str, Any]]
    params: dict[str, Any]
    state: str = "FINISHED"


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults = Faults()
        self.merchants: dict[str, Merchant] = {}
        self.sub_merchants: dict[str, SubMerchantRecord] = {}
        self.app_secrets: dict[str, str] = {}
        self.balances: dict[str, int] = {}
        self.transactions: dict[tuple[str, str], Transaction] = {}  # (sp_mchid, out_trade_no)
        self.by_transaction_id: dict[str, Transaction] = {}
        self.by_prepay_id: dict[str, Transaction] = {}
        self.service_orders: dict[tuple[str, str], ServiceOrder] = {}  # (sp_mchid, out_order_no)
        self.by_package: dict[str, ServiceOrder] = {}
        self.permissions: dict[tuple[str, str], Permission] = {}  # (sp_mchid, authorization_code)
        self.by_token: dict[str, Permission] = {}
        self.refunds: dict[tuple[str, str], Refund] = {}  # (sp_mchid, out_refund_no)
        self.sharing: dict[tuple[str, str], SharingOrder] = {}  # (sp_mchid, out_order_no)
        self.oauth_codes: dict[str, tuple[str, str]] = {}  # code -> (appid, openid)
        self._seq = itertools.count(1)

    # -- ids ------------------------------------------------------------------------------------------

    def _number(self, prefix: str, width: int) -> str:
        stamp = dt.datetime.now(CST).strftime("%Y%m%d")
        return f"{prefix}{stamp}{next(self._seq):0{width}d}"

    def new_transaction_id(self) -> str:
        return self._number("4200", 16)

    def new_refund_id(self) -> str:
        return self._number("5030", 16)

    def new_order_id(self) -> str:
        return self._number("1000", 14)

    @staticmethod
    def new_prepay_id() -> str:
        return "wx" + secrets.token_hex(15)

    @staticmethod
    def new_token(prefix: str) -> str:
        return prefix + secrets.token_urlsafe(24)

    # -- shoppers -------------------------------------------------------------------------------------

    def balance(self, openid: str) -> int:
        return self.balances.get(openid, PLENTY_FEN)

    def try_debit(self, openid: str, fen: int) -> bool:
        """Take money from a shopper unless the charge fault or the balance says no."""
        if self.faults.charge == ChargeFault.INSUFFICIENT_BALANCE or self.balance(openid) < fen:
            return False
        self.balances[openid] = self.balance(openid) - fen
        return True

    def credit(self, openid: str, fen: int) -> None:
        self.balances[openid] = self.balance(openid) + fen

    def known_openids(self) -> list[str]:
        with self.lock:
            seen = set(self.balances)
            seen.update(t.openid for t in self.transactions.values() if t.openid)
            seen.update(p.openid for p in self.permissions.values() if p.openid)
        return sorted(seen)
