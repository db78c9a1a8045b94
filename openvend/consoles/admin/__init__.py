"""Model admins for both consoles. Importing this package registers them."""

from openvend.consoles.admin import accounts, audit, devices, merchants  # noqa: F401
