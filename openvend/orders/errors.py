from __future__ import annotations

from enum import StrEnum


class OrderErrorCode(StrEnum):
    NOT_SETTLEABLE = "orders.not_settleable"
    CART_CLOSED = "orders.cart_closed"
    CART_EMPTY = "orders.cart_empty"
    NOT_SELLABLE = "orders.not_sellable"
    BAD_QUANTITY = "orders.bad_quantity"
    UNKNOWN_BARCODE = "orders.unknown_barcode"
    WRONG_STATE = "orders.wrong_state"
    NO_ITEMS = "orders.no_recognised_items"
    BAD_LINES = "orders.bad_lines"
    BAD_AMOUNT = "orders.bad_amount"
    PAYMENT_REFUSED = "orders.payment_refused"
    NOT_YOURS = "orders.not_yours"
    APPEAL_TOO_LATE = "orders.appeal_too_late"
    APPEAL_OPEN = "orders.appeal_open"
    BAD_APPEAL = "orders.bad_appeal"
