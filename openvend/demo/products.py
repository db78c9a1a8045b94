"""The platform library the demo starts with: everyday snacks and drinks of a smart cabinet, with
realistic unit weights and spreads (packaged snacks vary by about 1–5 %)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from openvend.catalog.barcodes import gs1_check_digit


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    category: str
    manufacturer: str
    specification: str
    unit_weight_g: Decimal
    unit_weight_sd_g: Decimal
    price_fen: int
    shelf_life_days: int
    body: str  # the barcode without its check digit

    @property
    def barcode(self) -> str:
        return self.body + str(gs1_check_digit(self.body))


def _p(
    sku: str,
    name: str,
    category: str,
    maker: str,
    spec: str,
    grams: str,
    sd: str,
    fen: int,
    days: int,
    body: str,
) -> DemoProduct:
    return DemoProduct(sku, name, category, maker, spec, Decimal(grams), Decimal(sd), fen, days, body)


DRINKS, SNACKS, DAIRY, FRESH = "饮料", "零食", "乳品", "鲜食"

PRODUCTS: tuple[DemoProduct, ...] = (
    _p("DR-COLA-330", "可口可乐 330ml", DRINKS, "可口可乐", "330 ml", "352", "3.5", 350, 365, "690123400001"),
    _p("DR-SPRITE-330", "雪碧 330ml", DRINKS, "可口可乐", "330 ml", "349", "3.5", 350, 365, "690123400002"),
    _p(
        "DR-WATER-550", "农夫山泉 550ml", DRINKS, "农夫山泉", "550 ml", "568", "4.0", 200, 540, "690123400003"
    ),
    _p("DR-TEA-500", "东方树叶 500ml", DRINKS, "农夫山泉", "500 ml", "535", "4.5", 500, 365, "690123400004"),
    _p(
        "DR-REDBULL-250", "红牛 250ml", DRINKS, "红牛维他命", "250 ml", "287", "2.5", 650, 540, "690123400005"
    ),
    _p(
        "DR-OJ-450",
        "美汁源果粒橙 450ml",
        DRINKS,
        "可口可乐",
        "450 ml",
        "481",
        "4.0",
        450,
        270,
        "690123400006",
    ),
    _p("DA-MILK-250", "蒙牛纯牛奶 250ml", DAIRY, "蒙牛", "250 ml", "262", "2.0", 350, 180, "690123400007"),
    _p("DA-YOG-200", "安慕希酸奶 200g", DAIRY, "伊利", "200 g", "214", "2.5", 680, 150, "690123400008"),
    _p("SN-LAYS-70", "乐事薯片 原味 70g", SNACKS, "百事食品", "70 g", "84", "2.0", 750, 270, "690123400009"),
    _p("SN-OREO-97", "奥利奥 97g", SNACKS, "亿滋", "97 g", "108", "1.8", 650, 365, "690123400010"),
    _p("SN-SNICKERS-51", "士力架 51g", SNACKS, "玛氏", "51 g", "55", "1.0", 450, 365, "690123400011"),
    _p("SN-KITKAT-41", "奇巧 41.5g", SNACKS, "雀巢", "41.5 g", "45", "0.9", 500, 365, "690123400012"),
    _p("SN-DOVE-43", "德芙丝滑牛奶巧克力 43g", SNACKS, "玛氏", "43 g", "47", "0.8", 800, 365, "690123400013"),
    _p("SN-NUTS-26", "每日坚果 26g", SNACKS, "洽洽", "26 g", "31", "0.9", 450, 240, "690123400014"),
    _p("SN-JERKY-50", "牛肉干 50g", SNACKS, "科尔沁", "50 g", "58", "1.5", 1200, 270, "690123400015"),
    _p("SN-WAFER-60", "威化饼干 60g", SNACKS, "雀巢", "60 g", "66", "1.2", 400, 300, "690123400016"),
    _p("FR-SANDWICH", "火腿三明治", FRESH, "鲜果厨房", "1 份", "165", "6.0", 1290, 2, "690123400017"),
    _p("FR-ONIGIRI", "金枪鱼饭团", FRESH, "鲜果厨房", "1 个", "118", "4.0", 790, 2, "690123400018"),
    _p("FR-SALAD", "鸡胸肉沙拉", FRESH, "鲜果厨房", "1 盒", "245", "8.0", 1890, 2, "690123400019"),
    _p(
        "DR-COFFEE-268",
        "雀巢咖啡丝滑拿铁 268ml",
        DRINKS,
        "雀巢",
        "268 ml",
        "305",
        "3.0",
        700,
        270,
        "690123400020",
    ),
)
