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


class SessionEventKind(models.TextChoices):
    """What settling writes into a shopping session's timeline."""

    SETTLING = "order_charging", _("order made: charging")
    REVIEW = "order_review", _("order sent to review")
    NOTHING_TAKEN = "nothing_taken", _("nothing taken: no charge")
    PAID = "order_paid", _("order paid")
    PAYMENT_FAILED = "payment_failed", _("payment failed: the shopper owes the order")
    PAYMENT_CLOSED = "payment_closed", _("payment closed: the order is waived")
