from enum import StrEnum


class CatalogErrorCode(StrEnum):
    # Product library (商品库)
    INVALID = "catalog.invalid"
    NOT_PLATFORM_PRODUCT = "catalog.not_platform_product"
    ALREADY_ADOPTED = "catalog.already_adopted"
    SKU_TAKEN = "catalog.sku_taken"
    APPLICATION_DECIDED = "catalog.application_decided"
    IMPORT_UNREADABLE = "catalog.import_unreadable"
    IMPORT_ROWS_INVALID = "catalog.import_rows_invalid"
    IMPORT_TOO_LARGE = "catalog.import_too_large"
    # Prices, product templates and sellable lists (价格策略, 商品模版, 可售商品清单)
    PRICE_FOREIGN_REFERENCE = "catalog.price_foreign_reference"
    PRICE_BAD_TARGET = "catalog.price_bad_target"
    PRICE_OUT_OF_SCOPE = "catalog.price_out_of_scope"
    PRICE_BAD_PERIOD = "catalog.price_bad_period"
    PRICE_BAD_AMOUNT = "catalog.price_bad_amount"
    PRICE_RULE_STATE = "catalog.price_rule_state"
    PRICE_NOT_REVIEWER = "catalog.price_not_reviewer"
    SELLING_FOREIGN_REFERENCE = "catalog.selling_foreign_reference"
    SELLING_OUT_OF_SCOPE = "catalog.selling_out_of_scope"
    SELLING_WRONG_DEVICE_TYPE = "catalog.selling_wrong_device_type"
    SELLING_BAD_MODE = "catalog.selling_bad_mode"
    PRICE_PERIOD_PASSED = "catalog.price_period_passed"
    TRACK_PRODUCT_MISMATCH = "catalog.track_product_mismatch"
