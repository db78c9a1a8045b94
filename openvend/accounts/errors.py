from enum import StrEnum


class AccountErrorCode(StrEnum):
    UNKNOWN_PERMISSION = "accounts.unknown_permission"
    OTHER_TENANT_REFERENCE = "accounts.other_tenant_reference"
    PRESET_ROLE = "accounts.preset_role"
    ROLE_IN_USE = "accounts.role_in_use"
    ROLE_NOT_ASSIGNABLE = "accounts.role_not_assignable"
    ALREADY_FROZEN = "accounts.already_frozen"
    NOT_FROZEN = "accounts.not_frozen"
    CANNOT_FREEZE_SELF = "accounts.cannot_freeze_self"
    INVALID_PASSWORD = "accounts.invalid_password"
    INVALID_CREDENTIALS = "accounts.invalid_credentials"
    LOCKED_OUT = "accounts.locked_out"
    USERNAME_TAKEN = "accounts.username_taken"
