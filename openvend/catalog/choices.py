from django.db import models
from django.utils.translation import gettext_lazy as _


class ProductKind(models.TextChoices):
    STANDARD = "standard", _("Standard (sold by unit)")
    # 非标品: fruit, cooked food... priced per 100 g, charged by the weight taken.
    BY_WEIGHT = "by_weight", _("Non-standard (sold by weight)")


class ProductStatus(models.TextChoices):
    ON_SALE = "on_sale", _("On sale")
    OFF_SALE = "off_sale", _("Off sale")


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class PriceScope(models.TextChoices):
    MERCHANT = "merchant", _("Whole merchant")
    SITE = "site", _("Site (scene price)")
    DEVICE = "device", _("Device (scene price)")


class PriceStatus(models.TextChoices):
    ACTIVE = "active", _("In force")
    PENDING = "pending", _("Pending platform review")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
