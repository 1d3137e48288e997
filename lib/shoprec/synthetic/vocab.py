"""Static vocabulary of the synthetic shop: category tree, brands, words, time zones, agents.

Everything here is immutable module-level *data* (no state); generators index into it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Leaf:
    """A leaf category with the words used to title, describe and search its items."""

    path: str  # "top/mid/leaf"
    noun: str  # English product noun used in titles ("smartphone")
    synonyms: tuple[str, ...]  # alternative query words ("phone", "mobile")
    zh: str  # Chinese product noun ("手机")
    median_price: float
    consumable: bool = False

    @property
    def top(self) -> str:
        """The top-level category name."""
        return self.path.split("/", 1)[0]


@dataclass(frozen=True)
class Brand:
    """A brand name, optionally with its Chinese name."""

    name: str
    zh: str | None = None


def _leaf(path: str, noun: str, syn: str, zh: str, price: float, consumable: bool = False) -> Leaf:
    """A leaf from compact arguments (synonyms separated by |)."""
    return Leaf(path, noun, tuple(syn.split("|")), zh, price, consumable)


LEAVES: tuple[Leaf, ...] = (
    _leaf("electronics/phones/smartphones", "smartphone", "phone|mobile|mobile phone", "手机", 420),
    _leaf("electronics/phones/phone_cases", "phone case", "phone cover|case", "手机壳", 15),
    _leaf(
        "electronics/computers/laptops", "laptop", "notebook|notebook computer", "笔记本电脑", 900
    ),
    _leaf("electronics/computers/monitors", "monitor", "display|screen", "显示器", 260),
    _leaf("electronics/audio/headphones", "headphones", "earphones|headset|earbuds", "耳机", 85),
    _leaf("electronics/audio/speakers", "speaker", "bluetooth speaker|loudspeaker", "音箱", 60),
    _leaf("fashion/shoes/sneakers", "sneakers", "trainers|running shoes|kicks", "运动鞋", 95),
    _leaf("fashion/shoes/boots", "boots", "ankle boots|winter boots", "靴子", 120),
    _leaf("fashion/clothing/t_shirts", "t-shirt", "tee|tshirt", "T恤", 22),
    _leaf("fashion/clothing/jackets", "jacket", "coat|parka", "夹克", 110),
    _leaf("fashion/accessories/watches", "watch", "wristwatch|timepiece", "手表", 150),
    _leaf("fashion/accessories/backpacks", "backpack", "rucksack|school bag", "背包", 55),
    _leaf("home/kitchen/cookware", "frying pan", "skillet|pan", "煎锅", 40),
    _leaf(
        "home/kitchen/coffee_makers",
        "coffee maker",
        "coffee machine|espresso machine",
        "咖啡机",
        130,
    ),
    _leaf("home/furniture/office_chairs", "office chair", "desk chair|chair", "办公椅", 160),
    _leaf("home/furniture/lamps", "desk lamp", "lamp|reading light", "台灯", 35),
    _leaf(
        "home/cleaning/detergent",
        "laundry detergent",
        "washing liquid|detergent",
        "洗衣液",
        13,
        True,
    ),
    _leaf("home/cleaning/paper_towels", "paper towels", "kitchen roll|tissue", "厨房纸", 8, True),
    _leaf("grocery/beverages/coffee", "coffee beans", "coffee|espresso beans", "咖啡豆", 14, True),
    _leaf("grocery/beverages/tea", "green tea", "tea|tea bags", "绿茶", 8, True),
    _leaf("grocery/snacks/chips", "potato chips", "crisps|chips", "薯片", 4, True),
    _leaf("grocery/snacks/chocolate", "chocolate bar", "chocolate|candy bar", "巧克力", 3, True),
    _leaf("grocery/pantry/pasta", "pasta", "spaghetti|noodles", "意大利面", 3, True),
    _leaf(
        "grocery/pantry/olive_oil",
        "olive oil",
        "cooking oil|extra virgin olive oil",
        "橄榄油",
        11,
        True,
    ),
    _leaf("pets/dogs/dog_food", "dog food", "dog kibble|puppy food", "狗粮", 38, True),
    _leaf("pets/dogs/dog_toys", "dog toy", "chew toy|squeaky toy", "狗玩具", 11),
    _leaf("pets/cats/cat_food", "cat food", "cat kibble|kitten food", "猫粮", 32, True),
    _leaf("pets/cats/cat_litter", "cat litter", "kitty litter|litter", "猫砂", 19, True),
    _leaf("beauty/skincare/moisturizer", "moisturizer", "face cream|moisturiser", "面霜", 26, True),
    _leaf("beauty/skincare/sunscreen", "sunscreen", "sunblock|spf cream", "防晒霜", 16, True),
    _leaf("beauty/haircare/shampoo", "shampoo", "hair wash|shampoo bottle", "洗发水", 9, True),
    _leaf("beauty/haircare/hair_dryers", "hair dryer", "blow dryer|hairdryer", "吹风机", 48),
)

BRANDS: dict[str, tuple[Brand, ...]] = {
    "electronics": (
        Brand("Xiaomi", "小米"),
        Brand("Huawei", "华为"),
        Brand("Lenovo", "联想"),
        Brand("Samsung"),
        Brand("Sony"),
        Brand("Anker"),
        Brand("Nordtek"),
        Brand("Voltix"),
    ),
    "fashion": (
        Brand("Anta", "安踏"),
        Brand("Li-Ning", "李宁"),
        Brand("Stridewell"),
        Brand("Northpeak"),
        Brand("Urbanthread"),
        Brand("Kestrel"),
    ),
    "home": (
        Brand("Midea", "美的"),
        Brand("Hearthline"),
        Brand("Casaluxe"),
        Brand("Brightnest"),
        Brand("Kleenwell"),
    ),
    "grocery": (
        Brand("Three Squirrels", "三只松鼠"),
        Brand("Harvest Lane"),
        Brand("Bella Oliva"),
        Brand("Roastery Co"),
        Brand("Crunchos"),
    ),
    "pets": (Brand("Pawfect"), Brand("Whisker & Co"), Brand("Barkley"), Brand("Royal Paws")),
    "beauty": (Brand("Lumiere"), Brand("Herborist", "佰草集"), Brand("Glowlab"), Brand("Silkara")),
}

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "electronics": (
        "128GB",
        "256GB",
        "Wireless",
        "Noise Cancelling",
        "4K",
        "Bluetooth 5.3",
        "USB-C",
    ),
    "fashion": ("Black", "White", "Navy", "Red", "Olive", "Grey", "Slim Fit", "Waterproof"),
    "home": ("Stainless Steel", "Compact", "Ergonomic", "Ceramic", "Non-Stick", "LED"),
    "grocery": ("500g", "1kg", "250g", "Organic", "Family Pack", "Sea Salt"),
    "pets": ("Adult", "Puppy", "Grain-Free", "2kg", "Chicken", "Salmon"),
    "beauty": ("SPF 50", "200ml", "Sensitive Skin", "Hydrating", "Fragrance-Free"),
}

SERIES: tuple[str, ...] = ("Pro", "Lite", "Max", "Air", "Plus", "Mini", "Ultra", "Neo", "Go", "One")

DESCRIPTION_TAILS: tuple[str, ...] = (
    "Built to last and easy to use every day.",
    "A customer favourite with great value for money.",
    "Fast shipping and a 30-day return policy.",
    "Designed for comfort and reliability.",
    "Now in an improved version with better materials.",
    "Highly rated by thousands of shoppers.",
)

# Fixed UTC offsets in minutes and how many users live there (weights).
TIME_ZONES: tuple[tuple[int, float], ...] = (
    (-480, 0.12),
    (-300, 0.22),
    (0, 0.12),
    (60, 0.22),
    (330, 0.10),
    (480, 0.15),
    (540, 0.07),
)

# Relative activity per local hour 0..23 (night trough, lunch bump, evening peak).
HOUR_WEIGHTS: tuple[float, ...] = (
    0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.5, 1.0, 1.5, 1.8, 2.0, 2.1,
    2.4, 2.3, 2.0, 1.9, 2.0, 2.3, 2.7, 3.2, 3.6, 3.4, 2.6, 1.5,
)  # fmt: skip

USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
)

BOT_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)

FIRST_NAMES: tuple[str, ...] = (
    "james", "mary", "wei", "li", "anna", "lukas", "sofia", "arjun", "priya", "yuki",
    "haruto", "emma", "noah", "olivia", "liam", "mia", "chen", "fatima", "omar", "lea",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "smith", "wang", "zhang", "muller", "garcia", "patel", "sato", "kim", "brown", "rossi",
    "nguyen", "kowalski", "silva", "jones", "schmidt", "tanaka", "lopez", "ali",
)  # fmt: skip
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "mail.example.org", "inbox.example.net")

UNKNOWN_EVENT_TYPES: tuple[str, ...] = ("wishlist_add", "page_ping", "checkout_start", "share")
WRONG_PRICES: tuple[str, ...] = ("abc", "N/A", "12,99 EUR")
WRONG_QUANTITIES: tuple[str, ...] = ("two", "one", "several")
