"""Properties: types, whole status histories that make sense in order, prices that follow the city's
level, rooms and features (``data/properties.json``)."""

from __future__ import annotations

import random
from functools import partial

from dlserve.demo.dates import DAY_PREFIX, TIMES, date_range
from dlserve.demo.features import feature, features
from dlserve.demo.places import coordinates, location
from dlserve.demo.pools import Pools, pools
from dlserve.demo.tables import Record, omit_one, read_json, slug, uniform, weighted

SALT = 3

_DATA = read_json("properties.json")
_PROPERTY_TYPES: tuple[str, ...] = weighted(_DATA["property_types"], 7)
# Whole status histories, oldest first, so a sequence always makes sense (never "Sold" then "Rented").
_HISTORIES: tuple[tuple[str, ...], ...] = weighted([(tuple(h), w) for h, w in _DATA["histories"]], 7)
_RENTAL_HISTORIES: tuple[tuple[str, ...], ...] = uniform([tuple(h) for h in _DATA["rental_histories"]], 2)
_SMALL_TYPES = frozenset({"Condominium", "Apartment", "Mobile Home"})
_SALE_STATUSES = frozenset({"For Sale", "Sold", "Pending"})
_RENT_STATUSES = frozenset({"For Rent", "Rented"})
_BEDROOMS: tuple[int, ...] = weighted(_DATA["bedrooms"], 7)
_BATHROOM_STEPS: tuple[float, ...] = tuple(_DATA["bathroom_steps"])  # added to the bedrooms, at least 1
_PERCENT_SPREAD = uniform(range(70, 131), 6)  # a property's price relative to its city's level
_PROPERTY_FEATURES = tuple(feature(spec) for spec in _DATA["features"])
_LOT_ACRES = uniform([round(0.08 + (n / 64) ** 2 * 2, 2) for n in range(64)], 6)
_LOT_SIZES = tuple(f"{acres:.2f} acres" for acres in _LOT_ACRES)
_BUILDING_NAMES: tuple[str, ...] = uniform(_DATA["building_names"], 3)
_OPTIONAL = (
    "postalCode",
    "yearBuilt",
    "floorSizeValue",
    "features",
    "numBathroom",
    "sourceURLs",
    "lotSizeValue",
)


def maker(seed: int) -> partial[Record]:
    """``make(rng, record_id, index)`` for this seed's properties."""
    return partial(_property, pools(seed))


def _property(names: Pools, rng: random.Random, record_id: str, index: int) -> Record:
    bits, rnd = rng.getrandbits, rng.random
    ptype = _PROPERTY_TYPES[bits(7)]
    city, address, postal_code = location(bits, names.addresses)
    if ptype == "Condominium" or ptype == "Apartment":
        address = f"{address} {'Unit' if rnd() < 0.5 else 'Apt'} {1 + bits(5)}"
    lat, lon = coordinates(bits, city)
    added, updated = date_range(bits)
    history = _RENTAL_HISTORIES[bits(2)] if ptype == "Apartment" else _HISTORIES[bits(7)]
    is_land = ptype == "Land"
    bedrooms = 0 if is_land else _BEDROOMS[bits(7)]
    if ptype in _SMALL_TYPES:
        bedrooms = min(bedrooms, 3)
    floor = 0 if is_land else (450 + bedrooms * 420) * (75 + bits(6)) // 100
    # Land is priced like a small house: good enough for a demo, and never zero.
    value = max(floor, 900) * city.price_per_sqft * _PERCENT_SPREAD[bits(6)] // 100
    interior = updated - added - 1
    if len(history) > interior:  # a record that lived three days cannot have had four statuses
        history = ("For Rent",) if ptype == "Apartment" else ("For Sale",)
    step = interior // len(history)
    statuses: list[Record] = []
    prices: list[Record] = []
    price = 0
    rental: tuple[str, str, int] | None = None  # the last rental status, its date and the rent
    for n, status in enumerate(history):
        # A day inside the n-th of len(history) equal slices of the record's life, so dates ascend.
        day = added + 1 + n * step + bits(16) % step
        when = DAY_PREFIX[day] + TIMES[bits(12)]
        statuses.append({"type": status, "date": when})
        if status in _SALE_STATUSES:
            price = value * (95 + bits(3)) // 100 // 1000 * 1000
            prices.append(
                {"amountMin": price, "amountMax": price, "currency": "USD", "isSale": True, "dateSeen": when}
            )
        elif status in _RENT_STATUSES:
            price = value * (40 + bits(5)) // 10_000 // 50 * 50
            prices.append(
                {"amountMin": price, "amountMax": price, "currency": "USD", "isSale": False, "dateSeen": when}
            )
            rental = (status, when, price)
    record: Record = {
        "id": record_id,
        "address": address,
        "city": city.name,
        "province": city.state,
        "postalCode": postal_code,
        "country": "US",
        "latitude": lat,
        "longitude": lon,
        "propertyType": ptype,
        "mostRecentStatus": history[-1],
        "mostRecentStatusDate": statuses[-1]["date"],
        "mostRecentPriceAmount": price,
    }
    if rental is not None:  # only properties that were ever listed for rent have a rental status
        record["mostRecentRentalStatus"], record["mostRecentRentalStatusDate"] = rental[0], rental[1]
        record["mostRecentRentalPriceAmount"] = rental[2]
    if ptype in _SMALL_TYPES and ptype != "Mobile Home":
        street = address.split(" ", 2)[1]
        record["buildingName"] = _BUILDING_NAMES[bits(3)].format(street=street)
    if not is_land:  # land has no rooms; leaving them out is what the real data does
        record["numBedroom"] = bedrooms
        record["numBathroom"] = max(1.0, bedrooms + _BATHROOM_STEPS[bits(3)])
        record["floorSizeValue"] = floor
        record["yearBuilt"] = 2024 - (bits(7) * bits(7) >> 7)  # mostly recent, some over a century old
    record["dateAdded"] = DAY_PREFIX[added] + TIMES[bits(12)]
    record["dateUpdated"] = DAY_PREFIX[updated] + TIMES[bits(12)]
    record["prices"] = prices
    record["statuses"] = statuses
    found = [] if is_land else features(bits, _PROPERTY_FEATURES)
    lot = bits(6)
    found.append({"key": "Lot Size", "value": [_LOT_SIZES[lot]]})
    record["features"] = found
    record["lotSizeValue"], record["lotSizeUnit"] = _LOT_ACRES[lot], "acres"
    listing = f"{slug(address)}-{city.slug}-{city.state.lower()}-{postal_code}"
    sources = [f"https://www.zillow.com/homedetails/{listing}/{20_000_000 + index}_zpid/"]
    if rnd() < 0.5:
        sources.append(f"https://www.redfin.com/{city.state}/{city.slug}/{listing}/home/{index}")
    record["sourceURLs"] = sources
    omit_one(rnd, record, _OPTIONAL)
    return record
