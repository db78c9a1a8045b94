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
    # Stock-takes and manual movements
    STOCKTAKE_OPEN = "inventory.stocktake_open"
    UNKNOWN_BARCODE = "inventory.unknown_barcode"
    REASON_REQUIRED = "inventory.reason_required"
    SELF_APPROVAL = "inventory.self_approval"
    SAME_POSITION = "inventory.same_position"
    # Replenishment orders and restock sessions
    BAD_TRANSITION = "inventory.bad_transition"
    NOTHING_TO_REPLENISH = "inventory.nothing_to_replenish"
    BAD_ASSIGNEE = "inventory.bad_assignee"
    BAD_QUANTITY = "inventory.bad_quantity"
    DOOR_STILL_OPEN = "inventory.door_still_open"
    NO_CAMERA = "inventory.no_camera"
    BAD_PHOTO = "inventory.bad_photo"
    # Planograms and vending tracks
    NO_WEIGHT_SENSORS = "inventory.no_weight_sensors"
    NOT_VENDING_MACHINE = "inventory.not_vending_machine"
    PLANOGRAM_NOT_DRAFT = "inventory.planogram_not_draft"
    PLANOGRAM_EMPTY = "inventory.planogram_empty"
    BAD_SENSORS = "inventory.bad_sensors"
    BAD_CAPACITY = "inventory.bad_capacity"
    SENSOR_OVERBOOKED = "inventory.sensor_overbooked"
    NO_UNIT_WEIGHT = "inventory.no_unit_weight"
    BAD_TRACK = "inventory.bad_track"
    TRACK_HOLDS_STOCK = "inventory.track_holds_stock"
    KIND_MISMATCH = "inventory.kind_mismatch"
