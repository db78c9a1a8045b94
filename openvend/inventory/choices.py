from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class PlanogramStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("In force")
    SUPERSEDED = "superseded", _("Superseded")


class MovementKind(models.TextChoices):
    SALE = "sale", _("Sale")
    REPLENISHMENT = "replenishment", _("Replenishment")
    STOCKTAKE = "stocktake", _("Stock-take adjustment")
    CORRECTION = "correction", _("Correction")
    RETURN = "return", _("Return")
    TRANSFER_IN = "transfer_in", _("Transfer in")
    TRANSFER_OUT = "transfer_out", _("Transfer out")
    REMOVAL = "removal", _("Removal (expired or damaged)")


class ReplenishmentState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PICKING = "picking", _("Picking")
    IN_TRANSIT = "in_transit", _("In transit")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class RestockState(models.TextChoices):
    OPENING = "opening", _("Opening the door")
    OPEN = "open", _("Door open")
    CLOSED = "closed", _("Door closed, counting")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class RestockEventKind(models.TextChoices):
    """What a restock session's timeline records."""

    STARTED = "started", _("door-open command sent")
    DOOR_OPENED = "door_opened", pgettext_lazy("state", "door opened")
    DOOR_CLOSED = "door_closed", pgettext_lazy("state", "door closed")
    COUNTED = "counted", _("count entered")
    PHOTO = "photo", _("photo added")
    COMPLETED = "completed", _("stock posted")
    CANCELLED = "cancelled", _("cancelled")
    EXPIRED = "expired", _("timed out: cancelled and locked")


class StockTakeState(models.TextChoices):
    COUNTING = "counting", _("Counting")
    SUBMITTED = "submitted", _("Submitted for approval")
    APPROVED = "approved", _("Approved, adjusted")
    REJECTED = "rejected", _("Rejected")
