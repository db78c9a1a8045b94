from openvend.devices.models.alarms import Alarm, AlarmSettings
from openvend.devices.models.commands import Command
from openvend.devices.models.registry import (
    Device,
    DeviceCredential,
    DeviceKind,
    DeviceRegistration,
    DeviceServiceGrant,
)
from openvend.devices.models.telemetry import DeadLetter, DeviceMessage, DeviceState

__all__ = [
    "Alarm",
    "AlarmSettings",
    "Command",
    "DeadLetter",
    "Device",
    "DeviceCredential",
    "DeviceKind",
    "DeviceMessage",
    "DeviceRegistration",
    "DeviceServiceGrant",
    "DeviceState",
]
