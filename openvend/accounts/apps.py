from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "openvend.accounts"
    label = "accounts"
    verbose_name = _("Accounts and permissions")

    def ready(self) -> None:
        # Login auditing hangs off Django's auth signals; it records, it decides nothing.
        from openvend.audit import receivers  # noqa: F401
