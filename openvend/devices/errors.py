from enum import StrEnum


class DeviceErrorCode(StrEnum):
    NOT_PROVISIONED = "devices.not_provisioned"
    ALREADY_ACTIVATED = "devices.already_activated"
    CODE_TAKEN = "devices.code_taken"
    DISABLED = "devices.disabled"
    BAD_COMMAND = "devices.bad_command"
    BAD_QR = "devices.bad_qr"
    ALARM_CLEARED = "devices.alarm_cleared"
    OTHER_TENANT_REFERENCE = "devices.other_tenant_reference"
