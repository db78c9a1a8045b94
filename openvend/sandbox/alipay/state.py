"""The Alipay sandbox's memory: apps, shoppers, agreements, trades, Zhima credit orders, faults."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from openvend.payments.protocols import alipay as wire
from openvend.sandbox.runtime import NotifyFault

DEFAULT_USER_ID = "2088000000000001"
DEFAULT_BALANCE_FEN = 100_000  # 1000 yuan for every shopper the sandbox meets for the first time


class ChargeFault:
    NONE = ""
    INSUFFICIENT_BALANCE = "insufficient_balance"


class AuthorisationFault:
    NONE = ""
    REVOKED = "revoked"  # every agreement / credit agreement is found no longer valid when used


@dataclass
class Faults:
    """What the sandbox should get wrong. Settable from Python or POST /sandbox/control; sticky until
    changed back."""

    charge: str = ChargeFault.NONE
    authorisation: str = AuthorisationFault.NONE
    notification: str = NotifyFault.NONE
    notification_delay_s: float = 600.0  # real seconds before a DELAYED first attempt (then scaled)

    def as_dict(self) -> dict[str, object]:
        return {
            "charge": self.charge,
            "authorisation": self.authorisation,
            "notification": self.notification,
            "notification_delay_s": self.notification_delay_s,
        }


@dataclass
class App:
    app_id: str
    pid: str
    public_key_pem: str


@dataclass
class Shopper:
    user_id: str
    balance_fen: int = DEFAULT_BALANCE_FEN

    @property
    def logon_id(self) -> str:
        return f"138****{self.user_id[-4:]}"


@dataclass
class Agreement:
    agreement_no: str
    app_id: str
    external_agreement_no: str
    user_id: str
    sign_scene: str
    personal_product_code: str
    sign_time: str
    notify_url: str
    status: str = "NORMAL"  # NORMAL, STOP (no longer valid), UNSIGN (gone)


@dataclass
class Refund:
    out_request_no: str
    refund_fen: int
    gmt_refund: str


@dataclass
class Trade:
    trade_no: str
    merchant: tuple[str, str]  # (app_id, app_auth_token): out_trade_no is unique per merchant
    out_trade_no: str
    total_fen: int
    subject: str
    seller_id: str
    notify_url: str
    gmt_create: str
    status: str = "WAIT_BUYER_PAY"
    buyer_id: str = ""
    gmt_payment: str = ""
    passback_params: str = ""
    credit_biz_order_id: str = ""
    refunds: dict[str, Refund] = field(default_factory=dict)
    settlements: dict[str, tuple[str, int]] = field(
        default_factory=dict
    )  # out_request_no -> (settle_no, fen)

    @property
    def refunded_fen(self) -> int:
        return sum(refund.refund_fen for refund in self.refunds.values())

    @property
    def settled_fen(self) -> int:
        return sum(fen for _, fen in self.settlements.values())


@dataclass
class CreditAgreement:
    credit_agreement_id: str
    app_id: str
    out_agreement_no: str
    user_id: str
    zm_service_id: str
    biz_time: str
    status: str = "VALID"  # VALID, INVALID


@dataclass
class CreditOrder:
    credit_biz_order_id: str
    merchant: tuple[str, str]
    out_order_no: str
    credit_agreement_id: str
    user_id: str
    subject: str
    status: str = "INIT"  # INIT, TRADE_FINISHED, TRADE_CLOSED
    finish_requests: set[str] = field(default_factory=set)


@dataclass
class PageTicket:
    """A verified page request (agreement sign, Zhima sign, WAP pay) waiting for the shopper."""

    method: str
    app_id: str
    app_auth_token: str
    biz: dict[str, object]
    notify_url: str
    return_url: str


def digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


def new_trade_no(now: datetime | None = None) -> str:
    return wire.beijing_now(now).strftime("%Y%m%d") + "22001" + digits(15)


def new_agreement_no(now: datetime | None = None) -> str:
    return wire.beijing_now(now).strftime("%Y") + "6" + digits(15)


def new_pid() -> str:
    return "2088" + digits(12)
