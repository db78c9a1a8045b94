from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class SessionState(models.TextChoices):
    """created → opening → open → closed → recognising → settling → completed | review | failed | cancelled.

    An open shelf has no door: its session goes from created straight to open."""

    CREATED = "created", _("created")
    OPENING = "opening", _("opening the door")
    OPEN = "open", _("door open")
    CLOSED = "closed", pgettext_lazy("state", "door closed")
    RECOGNISING = "recognising", _("recognising")
    SETTLING = "settling", _("settling")
    COMPLETED = "completed", _("completed")
    REVIEW = "review", _("under review")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


# The device is taken while its door may be open or its shelves are still being weighed for this
# session; settling (charging) and review no longer need the device, so the next shopper may start.
DEVICE_BUSY_STATES = (
    SessionState.CREATED,
    SessionState.OPENING,
    SessionState.OPEN,
    SessionState.CLOSED,
    SessionState.RECOGNISING,
)


class WayForward(models.TextChoices):
    """What the shopper can do about a failed precondition; the H5 turns each into a button."""

    AUTHORISE = "authorise", _("authorise pay-after")
    PAY_DEBT = "pay_debt", _("pay the unpaid order")
    CHOOSE_METHOD = "choose_method", _("choose another payment method")
    TRY_LATER = "try_later", _("try again later")
    CONTACT_STAFF = "contact_staff", _("contact customer service")


class BlacklistSource(models.TextChoices):
    MANUAL = "manual", _("added by staff")
    RULE = "rule", _("added by a rule")


class BlacklistRuleKind(models.TextChoices):
    """What a blacklist rule counts over its window."""

    APPEALS_UPHELD = "appeals_upheld", _("appeals upheld")
    APPEALS_REJECTED = "appeals_rejected", _("appeals rejected")
    UNPAID_ORDERS = "unpaid_orders", _("orders left unpaid past the limit")
    FOREIGN_OBJECT = "foreign_object", _("foreign objects put into a cabinet")


class EventKind(models.TextChoices):
    CREATED = "created", _("session created")
    DOOR_COMMAND = "door_command", _("door-open command sent")
    SHELF_STARTED = "shelf_started", _("shopping at the open shelf")
    DOOR_OPENED = "door_opened", pgettext_lazy("state", "door opened")
    DOOR_CLOSED = "door_closed", pgettext_lazy("state", "door closed")
    RECOGNITION_STARTED = "recognition_started", _("recognition started")
    EXPIRED = "expired", _("door never opened: cancelled")
    DOOR_LEFT_OPEN = "door_left_open", _("door left open: alarm raised")
    MEDIA_CAPTURED = "media_captured", _("photo or video attached")
    EVIDENCE_GAP = "evidence_gap", _("settled without some of the device's messages")


class MediaKind(models.TextChoices):
    """What a cabinet camera reported for a visit (device protocol `media_captured`)."""

    PHOTO = "photo", _("photo")
    VIDEO = "video", _("video")
