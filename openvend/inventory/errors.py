from enum import StrEnum


class InventoryErrorCode(StrEnum):
    ZERO_QUANTITY = "inventory.zero_quantity"
    OUT_OF_STOCK = "inventory.out_of_stock"
    WOULD_GO_NEGATIVE = "inventory.would_go_negative"
    ALREADY_CORRECTED = "inventory.already_corrected"
    OTHER_MERCHANT = "inventory.other_merchant"
    BAD_STATE = "inventory.bad_state"
    BAD_LANE = "inventory.bad_lane"
    NOT_SELLABLE = "inventory.not_sellable"
    DEVICE_BUSY = "inventory.device_busy"
