"""Model admins for both consoles. Importing this package registers them."""

from openvend.consoles.admin import (  # noqa: F401
    accounts,
    audit,
    catalog,
    devices,
    merchants,
    orders,
    orders_appeals,
    payment_config,
    payments,
    planograms,
    pricing,
    replenishment,
    selling,
    shopping,
    shopping_blacklist,
    stock,
)
