from enum import StrEnum


class MerchantErrorCode(StrEnum):
    INVALID_TRANSITION = "merchants.invalid_transition"
    CODE_TAKEN = "merchants.code_taken"
    ORG_UNIT_CYCLE = "merchants.org_unit_cycle"
    OTHER_TENANT_REFERENCE = "merchants.other_tenant_reference"
