from django.db import models
from django.utils.translation import gettext_lazy as _


class DataScope(models.TextChoices):
    ALL = "all", _("All data of the merchant")
    ORG_UNITS = "org_units", _("Org units (and below)")
    SITES = "sites", _("Selected sites")
    DEVICE_GROUPS = "device_groups", _("Selected device groups")
