from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    LOGIN = "login", _("Login")
    LOGIN_FAILED = "login_failed", _("Failed login")
    LOCKED_OUT = "locked_out", _("Locked out")
    LOGOUT = "logout", _("Logout")
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    REVIEW = "review", _("Review")
    FREEZE = "freeze", _("Freeze")
    UNFREEZE = "unfreeze", _("Unfreeze")
    RESET_PASSWORD = "reset_password", _("Reset password")


class AuditChannel(models.TextChoices):
    CONSOLE = "console", _("Console")
    API = "api", _("API")
    CLI = "cli", _("Command line")
    SYSTEM = "system", _("System")
