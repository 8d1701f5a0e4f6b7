"""The retailer's product catalogue and stores: categories, brands, CHF prices, popularity."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

__all__ = ["CATEGORIES", "Catalog", "Product", "Store", "build_catalog", "build_stores"]


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    names: dict[str, str]  # language -> display name
    price_range: tuple[float, float]  # CHF, log-uniform
    nouns: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "outdoor",
        {"de": "Outdoor", "fr": "Plein air", "it": "Outdoor", "en": "Outdoor"},
        (19.0, 480.0),
        ("Trekking-Rucksack", "Wanderschuh", "Zelt", "Schlafsack", "Regenjacke", "Stirnlampe"),
    ),
    Category(
        "winter",
        {"de": "Wintersport", "fr": "Sports d'hiver", "it": "Sport invernali", "en": "Winter"},
        (29.0, 890.0),
        ("Skihelm", "Skibrille", "Tourenski", "Daunenjacke", "Schneeschuh", "Skihandschuh"),
    ),
    Category(
        "home",
        {"de": "Wohnen", "fr": "Maison", "it": "Casa", "en": "Home"},
        (9.9, 650.0),
        ("Kissen", "Stehlampe", "Wolldecke", "Teppich", "Vase", "Bettwäsche"),
    ),
    Category(
        "kitchen",
        {"de": "Küche", "fr": "Cuisine", "it": "Cucina", "en": "Kitchen"},
        (7.5, 420.0),
        ("Fonduecaquelon", "Raclette-Ofen", "Bratpfanne", "Messerset", "Kaffeemaschine"),
    ),
    Category(
        "electronics",
        {"de": "Elektronik", "fr": "Électronique", "it": "Elettronica", "en": "Electronics"},
        (15.0, 1490.0),
        ("Kopfhörer", "Bluetooth-Lautsprecher", "Smartwatch", "Powerbank", "E-Reader"),
    ),
    Category(
        "fashion",
        {"de": "Mode", "fr": "Mode", "it": "Moda", "en": "Fashion"},
        (12.0, 320.0),
        ("Pullover", "Jeans", "Sneaker", "Hemd", "Mütze", "Schal", "Jacke"),
    ),
    Category(
        "kids",
        {"de": "Kinder", "fr": "Enfants", "it": "Bambini", "en": "Kids"},
        (6.9, 260.0),
        ("Plüschtier", "Kindervelo", "Bauklötze", "Puzzle", "Schulrucksack"),
    ),
    Category(
        "garden",
        {"de": "Garten", "fr": "Jardin", "it": "Giardino", "en": "Garden"},
        (8.5, 980.0),
        ("Gartenschlauch", "Rasenmäher", "Pflanzkübel", "Grill", "Liegestuhl"),
    ),
)

_BRANDS = ("Alpina", "Bergwerk", "Lacustre", "Ticinella", "Helvetix", "Nordwand", "Jura", "Piz")
_VARIANTS = ("Classic", "Pro", "Light", "Plus", "Eco", "Mini", "XL", "Comfort", "Sport", "Edition")


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    sku: str
    name: str
    brand: str
    category: str
    price: float  # CHF


@dataclass(frozen=True, slots=True)
class Store:
    id: str
    city: str
    postcode: str
    canton: str


def _swiss_price(value: float) -> float:
    """Round to a shelf price: .90 or .95 endings (CHF 0.05 steps)."""
    whole = int(value)
    return whole + (0.9 if whole % 2 else 0.95)


class Catalog:
    """Products with a Zipf-like popularity so a few items sell most."""

    def __init__(self, products: list[Product]) -> None:
        self.products = tuple(products)
        weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(products))]
        self._cum = tuple(itertools.accumulate(weights))
        self.by_category: dict[str, tuple[Product, ...]] = {
            c.id: tuple(p for p in products if p.category == c.id) for c in CATEGORIES
        }

    def pick(self, rng: random.Random) -> Product:
        return rng.choices(self.products, cum_weights=self._cum)[0]


def build_catalog(seed: int, size: int) -> Catalog:
    """Return ``size`` products with CHF prices, deterministically for ``seed``."""
    rng = random.Random(f"catalog:{seed}")
    products = []
    for index in range(size):
        category = CATEGORIES[index % len(CATEGORIES)]
        low, high = category.price_range
        price = _swiss_price(low * (high / low) ** rng.random())
        noun = rng.choice(category.nouns)
        brand = rng.choice(_BRANDS)
        products.append(
            Product(
                id=f"P{index + 1:05d}",
                sku=f"{category.id[:3].upper()}-{rng.randrange(10**6):06d}",
                name=f"{brand} {noun} {rng.choice(_VARIANTS)}",
                brand=brand,
                category=category.id,
                price=price,
            )
        )
    rng.shuffle(products)  # popularity rank independent of the category cycle
    return Catalog(products)


def build_stores(seed: int, count: int, cities: list[tuple[str, str, str]]) -> tuple[Store, ...]:
    """Return ``count`` stores placed in the given (postcode, city, canton) cities."""
    rng = random.Random(f"stores:{seed}")
    chosen = [cities[i % len(cities)] for i in range(count)]
    rng.shuffle(chosen)
    return tuple(
        Store(id=f"S{n + 1:03d}", postcode=postcode, city=city, canton=canton)
        for n, (postcode, city, canton) in enumerate(chosen)
    )
