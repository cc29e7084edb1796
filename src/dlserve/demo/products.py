"""Products: kinds with their categories, brands, names and price ranges (``data/products.json``),
valid UPC/EAN codes shared by a brand, and prices seen at several merchants."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from dlserve.demo.dates import DAY_PREFIX, TIMES, date_range, day_between
from dlserve.demo.features import runs
from dlserve.demo.pools import Pools, pools
from dlserve.demo.reviews import reviews
from dlserve.demo.tables import Record, handle, omit_one, read_json, slug, uniform, weighted

SALT = 2


@dataclass(frozen=True)
class _ProductKind:
    primary: str
    categories: tuple[str, ...]
    extra_categories: tuple[str, ...]
    nouns: tuple[str, ...]
    adjectives: tuple[str, ...]
    brands: tuple[str, ...]
    variants: tuple[str, ...]
    price_low: int  # whole dollars; prices end in .99
    price_high: int


def _kind(spec: dict[str, Any]) -> _ProductKind:
    return _ProductKind(
        spec["primary"],
        tuple(spec["categories"]),
        tuple(spec["extra_categories"]),
        tuple(spec["nouns"]),
        tuple(spec["adjectives"]),
        tuple(spec["brands"]),
        tuple(spec["variants"]),
        spec["price_low"],
        spec["price_high"],
    )


_DATA = read_json("products.json")
_PRODUCT_KINDS = tuple(_kind(spec) for spec in _DATA["kinds"])
_MANUFACTURERS: dict[str, str] = {
    brand: owner for owner, brands in _DATA["manufacturers"].items() for brand in brands
}
_MERCHANTS: tuple[str, ...] = weighted(_DATA["merchants"], 6)
_CONDITIONS: tuple[str, ...] = weighted(_DATA["conditions"], 5)
_PRICE_FACTORS = uniform(range(85, 117), 5)  # percent of the product's base price, per merchant


def _upc_digit_sums(digits: int, offset: int) -> tuple[tuple[str, int], ...]:
    """For every ``digits``-digit number at ``offset`` in a UPC-A body: (text, its checksum share),
    so the check digit of a generated UPC is two look-ups and a sum."""
    out = []
    for n in range(10**digits):
        text = f"{n:0{digits}d}"
        out.append((text, sum(int(d) * (3 if (offset + k) % 2 == 0 else 1) for k, d in enumerate(text))))
    return tuple(out)


_PRODUCT_CATEGORIES = {
    kind: uniform([(*kind.categories, *run) for run in runs(kind.extra_categories, 1, 2)], 4)
    for kind in _PRODUCT_KINDS
}
_UPC_HIGH = _upc_digit_sums(3, 6)
_UPC_LOW = _upc_digit_sums(2, 9)


@dataclass(frozen=True)
class _ProductLook:
    kind: _ProductKind
    categories: tuple[tuple[str, ...], ...]  # 2**4 choices
    name: str
    slug: str
    brand: str
    manufacturer: str
    upc_company: tuple[str, int]  # six digits shared by the brand's products, and their checksum share
    base_price: int  # whole dollars
    model: str  # the manufacturer's part number


@lru_cache(maxsize=4)
def _product_looks(seed: int) -> tuple[_ProductLook, ...]:
    rng = random.Random(seed + 2)
    looks = []
    for n in range(8192):
        kind = rng.choice(_PRODUCT_KINDS)
        brand = rng.choice(kind.brands)
        name = f"{brand} {rng.choice(kind.adjectives)} {rng.choice(kind.nouns)}, {rng.choice(kind.variants)}"
        # Derived from the brand's name, so every product of a brand has the same UPC company prefix.
        company = f"{sum(map(ord, brand)) * 7919 % 900_000 + 10_000:06d}"
        share = sum(int(d) * (3 if k % 2 == 0 else 1) for k, d in enumerate(company))
        price = kind.price_low + int((kind.price_high - kind.price_low) * rng.random() ** 2)
        manufacturer = _MANUFACTURERS.get(brand, brand)
        # Brand letters and a number, e.g. "SO-48213": no random draw, so the looks stay as they were.
        model = f"{handle(brand)[:2].upper()}-{(n * 7919 + len(name)) % 90_000 + 10_000}"
        looks.append(
            _ProductLook(
                kind,
                _PRODUCT_CATEGORIES[kind],
                name,
                slug(name),
                brand,
                manufacturer,
                (company, share),
                price,
                model,
            )
        )
    return tuple(looks)


_OPTIONAL = ("manufacturer", "ean", "upc", "imageURLs", "primaryCategories", "asins", "manufacturerNumber")


def maker(seed: int) -> partial[Record]:
    """``make(rng, record_id, index)`` for this seed's products."""
    return partial(_product, pools(seed), _product_looks(seed))


def _product(
    names: Pools, looks: tuple[_ProductLook, ...], rng: random.Random, record_id: str, index: int
) -> Record:
    bits, rnd = rng.getrandbits, rng.random
    look = looks[bits(13)]
    name_slug = look.slug
    company, company_share = look.upc_company
    high, high_share = _UPC_HIGH[index // 100 % 1000]
    low, low_share = _UPC_LOW[index % 100]
    upc = company + high + low + str(-(company_share + high_share + low_share) % 10)
    added, updated = date_range(bits)
    code = record_id[8:]  # image and listing codes: unique and stable, like the id
    asin = "B0" + code[4:].upper()
    sources = ["https://www.amazon.com/dp/" + asin]
    if rnd() < 0.6:
        sources.append(f"https://www.walmart.com/ip/{name_slug}/{100_000_000 + index}")
    if rnd() < 0.3:
        sources.append(f"https://www.target.com/p/{name_slug}/-/A-{10_000_000 + index}")
    images = ["https://i5.walmartimages.com/asr/" + code.lower() + ".jpeg"]
    if rnd() < 0.5:
        images.append("https://images-na.ssl-images-amazon.com/images/I/" + code[:11] + ".jpg")
    prices: list[Record] = []
    for _ in range(1 + bits(2)):
        cents = (look.base_price * _PRICE_FACTORS[bits(5)] // 100) * 100 + 99
        on_sale = rnd() < 0.2
        prices.append(
            {
                "amountMin": (cents * 4 // 500 * 100 + 99) / 100 if on_sale else cents / 100,
                "amountMax": cents / 100,
                "currency": "USD",
                "isSale": on_sale,
                "merchant": _MERCHANTS[bits(6)],
                "condition": _CONDITIONS[bits(5)],
                "dateSeen": DAY_PREFIX[day_between(bits, added, updated)] + TIMES[bits(12)],
            }
        )
    record: Record = {
        "id": record_id,
        "name": look.name,
        "brand": look.brand,
        "manufacturer": look.manufacturer,
        "manufacturerNumber": look.model,
        "categories": list(look.categories[bits(4)]),
        "primaryCategories": [look.kind.primary],
        "upc": [upc],
        "ean": ["0" + upc],  # a UPC-A is the EAN-13 with a leading zero
        "asins": [asin],  # the Amazon listing among the sources
        "imageURLs": images,
        "dateAdded": DAY_PREFIX[added] + TIMES[bits(12)],
        "dateUpdated": DAY_PREFIX[updated] + TIMES[bits(12)],
        "sourceURLs": sources,
        "prices": prices,
    }
    found = reviews(bits, names.reviews["product"], names.usernames, added, updated)
    if found:
        record["reviews"] = found
    omit_one(rnd, record, _OPTIONAL)
    return record
