from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderState(models.TextChoices):
    """pending_payment → paid; review (staff decide); closed (nothing to pay, or waived); refunded.

    A failed charge leaves the order pending_payment: the shopper owes it and may not shop again
    until it is paid."""

    PENDING_PAYMENT = "pending_payment", _("awaiting payment")
    PAID = "paid", _("paid")
    REVIEW = "review", _("under review")
    CLOSED = "closed", _("closed")
    REFUNDED = "refunded", _("refunded")


class ReviewReason(models.TextChoices):
    """Why an order went to staff instead of being charged."""

    RECOGNITION = "recognition", _("recognition is not sure what was taken")
    NO_PLANOGRAM = "no_planogram", _("the device has no active planogram")
    BAD_EVIDENCE = "bad_evidence", _("the weight evidence cannot be read against the planogram")
    PUT_IN = "put_in", _("goods were put in that were not taken in this visit")
    UNKNOWN_PRODUCT = "unknown_product", _("a recognised product is not in the merchant's library")
    NOT_SELLABLE = "not_sellable", _("a product taken is not on sale at this device")
    PAYMENT_REFUSED = "payment_refused", _("the payment could not be created")
    PAYMENT_FAILED = "payment_failed", _("the charge failed and the order is still owed")
    DEVICE_FAULT = "device_fault", _("the device reported a fault during the visit")
    CART_MISMATCH = "cart_mismatch", _("what the shopper paid for differs from what was taken")
    NOT_CHECKED_OUT = "not_checked_out", _("goods were taken but the shopper did not pay in the app")
    UNPAID_ESCALATED = "unpaid_escalated", _("the order stayed unpaid past the merchant's limit")
    APPEAL = "appeal", _("the shopper appealed the order")


class LineSource(models.TextChoices):
    """Where an order's lines came from."""

    RECOGNITION = "recognition", _("recognised from the shelves' weights")
    CART = "cart", _("added by the shopper in the app")
    STAFF = "staff", _("set by staff")


class Resolution(models.TextChoices):
    """What staff did with an abnormal order."""

    CONFIRMED = "confirmed", _("confirmed and charged")
    ADJUSTED = "adjusted", _("lines adjusted")
    WAIVED = "waived", _("waived")
    CHARGED = "charged", _("charge requested again")
    REFUNDED = "refunded", _("refunded")
    CORRECTED = "corrected", _("correction order made")
    DISMISSED = "dismissed", _("nothing to change")


class CorrectionKind(models.TextChoices):
    STAFF = "staff", _("staff correction")
    APPEAL = "appeal", _("customer appeal")
    SUPPLEMENT = "supplement", _("supplementary charge")


class CorrectionState(models.TextChoices):
    """A correction settles its difference: a refund (delta < 0), a charge (delta > 0) or nothing."""

    PENDING = "pending", _("settling the difference")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class AppealReason(models.TextChoices):
    NOT_TAKEN = "not_taken", _("charged for goods I did not take")
    WRONG_ITEM = "wrong_item", _("a different product was charged")
    WRONG_PRICE = "wrong_price", _("the price is wrong")
    CHARGED_TWICE = "charged_twice", _("charged twice")
    OTHER = "other", _("something else")


class AppealState(models.TextChoices):
    OPEN = "open", _("waiting for customer service")
    UPHELD = "upheld", _("upheld")
    REJECTED = "rejected", _("rejected")


class UnpaidAction(models.TextChoices):
    """What happens to an order still unpaid after the merchant's limit."""

    CLOSE = "close", _("close it (waive the debt)")
    ESCALATE = "escalate", _("escalate it to staff as an abnormal order")


class SessionEventKind(models.TextChoices):
    """What settling writes into a shopping session's timeline."""

    SETTLING = "order_charging", _("order made: charging")
    REVIEW = "order_review", _("order sent to review")
    NOTHING_TAKEN = "nothing_taken", _("nothing taken: no charge")
    PAID = "order_paid", _("order paid")
    PAYMENT_FAILED = "payment_failed", _("payment failed: the shopper owes the order")
    PAYMENT_CLOSED = "payment_closed", _("payment closed: the order is waived")
    CONFIRMED = "order_confirmed", _("staff confirmed the order")
    ADJUSTED = "order_adjusted", _("staff set the order's lines")
    WAIVED = "order_waived", _("order waived: nothing to pay")
    CHARGED_AGAIN = "order_charged_again", _("staff charged the order again")
    CORRECTED = "order_corrected", _("correction order made")
    CORRECTION_DONE = "correction_done", _("correction order settled")
    CORRECTION_FAILED = "correction_failed", _("correction order could not be settled")
    APPEALED = "order_appealed", _("the shopper appealed the order")
    APPEAL_UPHELD = "appeal_upheld", _("appeal upheld")
    APPEAL_REJECTED = "appeal_rejected", _("appeal rejected")
    ESCALATED = "order_escalated", _("unpaid past the limit: escalated to staff")
    CROSS_CHECKED = "cross_checked", _("the shelves' weights checked against the cart")
