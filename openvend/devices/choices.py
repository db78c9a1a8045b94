from django.db import models
from django.utils.translation import gettext_lazy as _


class DeviceType(models.TextChoices):
    GRAVITY_CABINET = "gravity_cabinet", _("Gravity cabinet")
    VISION_CABINET = "vision_cabinet", _("Vision cabinet")
    HYBRID_CABINET = "hybrid_cabinet", _("Gravity + vision cabinet")
    DUAL_DOOR_CABINET = "dual_door_cabinet", _("Dual-door cabinet")
    VENDING_MACHINE = "vending_machine", _("Vending machine")
    STORE_DOOR = "store_door", _("Store door controller")


class DeviceStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DISABLED = "disabled", _("Disabled")


class ShoppingFlow(models.TextChoices):
    OPEN_SHELF = "open_shelf", _("Open shelf")
    SEMI_AUTO = "semi_auto", _("Semi-automatic")
    FULL_AUTO = "full_auto", _("Fully automatic")


class DoorState(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class LockState(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    LOCKED = "locked", _("Locked")
    UNLOCKED = "unlocked", _("Unlocked")
    FAULT = "fault", _("Fault")


class CameraState(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    OK = "ok", _("OK")
    FAULT = "fault", _("Fault")
    ABSENT = "absent", _("None fitted")


class AlarmKind(models.TextChoices):
    DOOR_OPEN_NO_SESSION = "door_open_no_session", _("Door open without a session")
    LOCK_NOT_ENGAGED = "lock_not_engaged", _("Lock not engaged")
    CAMERA_FAULT = "camera_fault", _("Camera fault")
    TEMPERATURE = "temperature", _("Temperature out of range")
    OFFLINE = "offline", _("Offline")
    FOREIGN_OBJECT = "foreign_object", _("Foreign object (cabinet locked)")


class AlarmSeverity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    MAJOR = "major", _("Major")
    MINOR = "minor", _("Minor")


class AlarmStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CLEARED = "cleared", _("Cleared")


class CommandKind(models.TextChoices):
    OPEN_DOOR = "open_door", _("Open door")
    LOCK = "lock", _("Lock")
    UNLOCK = "unlock", _("Unlock")
    REBOOT = "reboot", _("Reboot")
    SELF_TEST = "self_test", _("Self-test")
    SET_TEMPERATURE = "set_temperature", _("Set temperature")
    SET_LIGHTS = "set_lights", _("Light-strip schedule")
    SET_FOREIGN_OBJECT_LOCK = "set_foreign_object_lock", _("Foreign-object lock switch")
    LOCK_ON_EXPIRY = "lock_on_expiry", _("Lock on usage-time expiry")


class CommandStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Timed out")


class ServiceGrantKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    GIFT = "gift", _("Gift from the platform")
