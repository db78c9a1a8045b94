from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShoppingConfig(AppConfig):
    name = "openvend.shopping"
    label = "shopping"
    verbose_name = _("Shopping")
