"""Facts about Bramble & Bean, the fictional shop of the demo support dataset.

make_support_chats.py writes every reply from these facts, and README.md states them, so a
chat-test can check a fine-tuned model against them.
"""

from __future__ import annotations

from dataclasses import dataclass

SHOP = "Bramble & Bean"
ASSISTANT = "Pip"
WEBSITE = "brambleandbean.example"
EMAIL = "support@brambleandbean.example"
PHONE = "1-800-555-0142"

SYSTEM_PROMPT = (
    "You are Pip, the customer support assistant of Bramble & Bean, an online shop for coffee "
    "and tea gear. Answer friendly and concisely, stick to the shop's policies, and ask for the "
    "order number (BB- followed by 6 digits) when you need to look up an order."
)


@dataclass(frozen=True)
class Product:
    name: str
    price: float
    kind: str
    blurb: str
    appliance: bool = False  # electrical: 2-year warranty
    consumable: bool = False  # food and supplies: returnable only unopened
    short: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({money(self.price)})"

    @property
    def warranty_years(self) -> int:
        return 0 if self.consumable else (2 if self.appliance else 1)


def money(value: float) -> str:
    return f"${value:,.2f}"


PRODUCTS = [
    Product("Aurora Pour-Over Kettle", 89.00, "kettle",
            "a 1-litre gooseneck kettle with temperature control from 40 to 100 °C and a 30-minute keep-warm mode",
            appliance=True, short="Aurora kettle"),
    Product("Meridian Burr Grinder", 149.00, "grinder",
            "a conical burr grinder with 40 grind settings, from espresso-fine to French-press-coarse",
            appliance=True, short="Meridian grinder"),
    Product("Ember Espresso Machine", 399.00, "espresso machine",
            "a 15-bar espresso machine with a steam wand and a 1.8-litre water tank",
            appliance=True, short="Ember"),
    Product("Fjord Milk Frother", 22.00, "milk frother",
            "a handheld frother that charges over USB-C and froths milk in about 20 seconds",
            appliance=True, short="Fjord frother"),
    Product("Pebble Coffee Scale", 35.00, "scale",
            "a scale that weighs to 0.1 g, with a built-in brew timer",
            appliance=True, short="Pebble scale"),
    Product("Drift French Press", 45.00, "French press",
            "a 1-litre double-wall stainless steel press that keeps coffee hot for an hour",
            short="Drift press"),
    Product("Cascade Cold Brew Jar", 32.00, "cold brew jar",
            "a 1.5-litre glass jar with a removable fine-mesh filter",
            short="Cascade jar"),
    Product("Willow Tea Infuser Mug", 24.00, "tea mug",
            "a 350 ml ceramic mug with a stainless steel infuser and a lid",
            short="Willow mug"),
    Product("Harbor Blend Coffee Beans (1 kg)", 28.00, "coffee beans",
            "a medium roast with notes of milk chocolate and hazelnut",
            consumable=True, short="Harbor Blend"),
    Product("Summit Decaf Beans (500 g)", 16.00, "decaf beans",
            "a Swiss Water Process decaf with a smooth caramel finish",
            consumable=True, short="Summit Decaf"),
    Product("Paper Filters (100 pack)", 6.00, "paper filters",
            "unbleached cone filters that fit the Aurora setup and most size-02 drippers",
            consumable=True, short="filters"),
    Product("Descaling Kit", 12.00, "descaling kit",
            "citric-acid descaler, enough for six descaling cycles",
            consumable=True, short="descaling kit"),
]
BY_NAME = {p.name: p for p in PRODUCTS}
APPLIANCES = [p for p in PRODUCTS if p.appliance]
GEAR = [p for p in PRODUCTS if not p.consumable]
CONSUMABLES = [p for p in PRODUCTS if p.consumable]

# Shipping (USD). Orders ship from the Harborview warehouse.
STANDARD_COST = 5.95
STANDARD_DAYS = (3, 5)  # business days after dispatch
EXPRESS_COST = 14.95
EXPRESS_DAYS = (1, 2)
FREE_SHIPPING_OVER = 60.00  # standard shipping is free when the subtotal is above this
CANADA_COST = 15.95
CANADA_DAYS = (6, 10)
CANADA_FREE_OVER = 150.00
CUTOFF = "2 pm Eastern Time"  # orders before it on a business day ship the same day

# Orders, returns, refunds, warranty.
CANCEL_WINDOW = "1 hour"
RETURN_DAYS = 30
RETURN_SHIPPING = 6.95  # deducted from the refund for change-of-mind returns
REFUND_DAYS = (5, 7)  # business days after the return reaches the warehouse
DAMAGE_REPORT_DAYS = 7
MISSING_PARCEL_HOURS = 48
DELETE_ACCOUNT_DAYS = 7
RESET_LINK_VALID = "1 hour"

PAYMENT_METHODS = ["Visa", "Mastercard", "American Express", "PayPal", "Apple Pay",
                   "Bramble & Bean gift cards"]
WELCOME_CODE = "WELCOME10"  # 10% off a first order, one code per order
GIFT_CARD_AMOUNTS = [25, 50, 100]
POINTS_PER_DOLLAR = 1
POINTS_FOR_5_OFF = 100

HOURS = "Monday to Friday 8 am to 6 pm and Saturday 9 am to 1 pm (Eastern Time); closed on Sundays and public holidays"
EMAIL_REPLY = "within 1 business day"

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def business_day_after(weekday: int, days: int) -> str:
    """Name of the business day `days` business days after weekday index 0..4 (Mon..Fri)."""
    total = weekday + days
    name = WEEKDAYS[total % 5]
    return name if total < 5 else f"the following {name}" if total < 10 else f"{name} the week after"


def shipping_for(subtotal: float) -> float:
    return 0.0 if subtotal > FREE_SHIPPING_OVER else STANDARD_COST
