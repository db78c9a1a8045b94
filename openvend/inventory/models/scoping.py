from __future__ import annotations

from django.db.models import Q

from openvend.core.scope import DataScope


class DeviceScoped:
    """Rows that belong to one device are visible to whoever's data scope covers the device."""

    @classmethod
    def scope_q(cls, scope: DataScope) -> Q:
        from openvend.devices.models import Device

        return Q(device__in=Device.objects.filter(Device.scope_q(scope)))
