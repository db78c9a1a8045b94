from django.db import models
from django.utils.translation import gettext_lazy as _


class MerchantStatus(models.TextChoices):
    PENDING = "pending", _("Pending review")
    ACTIVE = "active", _("Active")
    REJECTED = "rejected", _("Rejected")
    FROZEN = "frozen", _("Frozen")


class MerchantKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    INDIVIDUAL = "individual", _("Individual business")
    MICRO = "micro", _("Micro merchant")
