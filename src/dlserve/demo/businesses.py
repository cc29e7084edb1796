"""Businesses: kinds (hotels, cuisines, dentists...) from ``data/businesses.json``, each with names,
categories, hours and features that go together, so "Koi Sushi" is never filed under Pizza."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from dlserve.demo.dates import DAY_PREFIX, TIMES, date_range, day_between
from dlserve.demo.features import Feature, Hours, feature, features, hours, runs
from dlserve.demo.places import City, coordinates, location, phone
from dlserve.demo.pools import Pools, pools
from dlserve.demo.reviews import reviews
from dlserve.demo.tables import Bits, Record, omit_one, read_json, slug, uniform, weighted

SALT = 1


@dataclass(frozen=True)
class _BusinessKind:
    weight: int
    primary: str
    category: str  # every business of the kind has it: what demo queries such as categories:hotels find
    extra_categories: tuple[str, ...]
    names: tuple[str, ...]  # str.format templates over {city} {last} {last2} {first} {street} {word}
    words: tuple[str, ...]
    hours: tuple[Hours, ...]
    features: tuple[Feature, ...]
    topic: str
    branded: tuple[tuple[str, str], ...]  # (name template, website)
    branded_share: float


def _kind(spec: dict[str, Any]) -> _BusinessKind:
    return _BusinessKind(
        weight=spec["weight"],
        primary=spec["primary"],
        category=spec["category"],
        extra_categories=tuple(spec["extra_categories"]),
        names=tuple(spec["names"]),
        words=tuple(spec["words"]),
        hours=tuple(hours(h) for h in spec["hours"]),
        features=tuple(feature(f) for f in spec["features"]),
        topic=spec["topic"],
        branded=tuple((template, "https://www." + site) for template, site in spec["branded"]),
        branded_share=spec["branded_share"],
    )


_DATA = read_json("businesses.json")
_BUSINESS_KINDS = tuple(_kind(spec) for spec in _DATA["kinds"])
_DESCRIPTIONS: tuple[str, ...] = uniform(_DATA["descriptions"], 3)
_OTHER_PAYMENT_TYPES: list[str] = _DATA["other_payment_types"]
_NEIGHBORHOODS: tuple[str, ...] = uniform(read_json("places.json")["neighborhoods"], 4)
_KIND_INDEX: tuple[int, ...] = weighted([(n, kind.weight) for n, kind in enumerate(_BUSINESS_KINDS)], 10)
_KIND_CATEGORIES = tuple(
    uniform([(kind.category, *run) for run in runs(kind.extra_categories, 1, 3)], 6)
    for kind in _BUSINESS_KINDS
)


@dataclass(frozen=True)
class _BusinessLook:
    """The parts of a business that do not depend on its record: kind, name and website, with
    ``{city}`` filled in per record (so a brand's hotels carry their own city's name)."""

    kind: _BusinessKind
    categories: tuple[tuple[str, ...], ...]  # 2**6 choices
    name_head: str  # the whole name if the template has no {city}
    name_tail: str | None  # None: no {city}
    slug_head: str
    slug_tail: str
    site: str  # a brand's website, or "" for an independent business


def _split_on_city(text: str) -> tuple[str, str | None, str, str]:
    head, sep, tail = text.partition("{city}")
    if not sep:
        return head, None, slug(head), ""
    slug_head, slug_tail = slug(head), slug(tail)
    return head, tail, slug_head + "-" if slug_head else "", "-" + slug_tail if slug_tail else ""


@lru_cache(maxsize=4)
def _business_looks(seed: int) -> tuple[_BusinessLook, ...]:
    """2**14 looks, in proportion to kind weights: a record is then one index and a city away."""
    names = pools(seed)
    rng = random.Random(seed + 1)
    looks = []
    for kind_index in uniform(_KIND_INDEX, 14):
        kind = _BUSINESS_KINDS[kind_index]
        site = ""
        if kind.branded and rng.random() < kind.branded_share:
            template, site = rng.choice(kind.branded)
        else:
            template = rng.choice(kind.names)
        name = template.format(
            city="{city}",
            last=rng.choice(names.last_names),
            last2=rng.choice(names.last_names),
            first=rng.choice(names.people).first,
            street=f"{rng.choice(names.street_names)} {rng.choice(('Street', 'Street', 'Avenue', 'Square'))}",
            word=rng.choice(kind.words),
        )
        looks.append(_BusinessLook(kind, _KIND_CATEGORIES[kind_index], *_split_on_city(name), site))
    return tuple(looks)


_OPTIONAL = (
    "postalCode",
    "websites",
    "phones",
    "hours",
    "features",
    "primaryCategories",
    "sourceURLs",
    "emails",
    "neighborhoods",
    "descriptions",
)


def maker(seed: int) -> partial[Record]:
    """``make(rng, record_id, index)`` for this seed's businesses."""
    return partial(_business, pools(seed), _business_looks(seed))


def _business(
    names: Pools, looks: tuple[_BusinessLook, ...], rng: random.Random, record_id: str, index: int
) -> Record:
    bits, rnd = rng.getrandbits, rng.random
    look = looks[bits(14)]
    kind = look.kind
    city, address, postal_code = location(bits, names.addresses)
    if look.name_tail is None:
        name, name_slug = look.name_head, look.slug_head
    else:
        name = look.name_head + city.name + look.name_tail
        name_slug = look.slug_head + city.slug + look.slug_tail
    lat, lon = coordinates(bits, city)
    added, updated = date_range(bits)
    website = (
        look.site + "/" + name_slug
        if look.site
        else "https://www." + name_slug.replace("-", "")[:30] + ".com"
    )
    sources = ["https://www.yelp.com/biz/" + name_slug + "-" + city.slug]
    if rnd() < 0.6:
        sources.append(
            f"https://www.yellowpages.com/{city.slug}-{city.state.lower()}/mip/{name_slug}-{index}"
        )
    if kind.topic == "hotel" and rnd() < 0.7:
        sources.append(f"https://www.tripadvisor.com/Hotel_Review-d{1_000_000 + index}-{name_slug}.html")
    record: Record = {
        "id": record_id,
        "name": name,
        "address": address,
        "city": city.name,
        "province": city.state,
        "postalCode": postal_code,
        "country": "US",
        "latitude": lat,
        "longitude": lon,
        "categories": list(look.categories[bits(6)]),
        "primaryCategories": [kind.primary],
        "websites": [website],
        "phones": [phone(bits, city)],
        "dateAdded": DAY_PREFIX[added] + TIMES[bits(12)],
        "dateUpdated": DAY_PREFIX[updated] + TIMES[bits(12)],
        "sourceURLs": sources,
    }
    found = reviews(bits, names.reviews[kind.topic], names.usernames, added, updated)
    if found:  # Datafiniti leaves a list out rather than sending it empty
        record["reviews"] = found
    week = kind.hours
    record["hours"] = [{"day": day, "hour": hour} for day, hour in week[bits(4) % len(week)]]
    record["features"] = found_features = features(bits, kind.features)
    _add_listing_details(bits, record, website, found_features, look, city, added, updated)
    omit_one(rnd, record, _OPTIONAL)
    return record


def _add_listing_details(
    bits: Bits,
    record: Record,
    website: str,
    found_features: list[Record],
    look: _BusinessLook,
    city: City,
    added: int,
    updated: int,
) -> None:
    """E-mail, neighbourhood, payment types, photo and a description, consistent with the rest."""
    record["emails"] = ["info@" + website.split("/")[2].removeprefix("www.")]
    neighborhood = _NEIGHBORHOODS[bits(4)]
    record["neighborhoods"] = [neighborhood]
    payment = next((f["value"] for f in found_features if f["key"] == "Payment Accepted"), None)
    record["paymentTypes"] = list(payment) if isinstance(payment, list) else list(_OTHER_PAYMENT_TYPES)
    record["imageURLs"] = ["https://s3-media1.fl.yelpcdn.com/bphoto/" + str(record["id"])[8:] + "/o.jpg"]
    text = _DESCRIPTIONS[bits(3)].format(
        name=record["name"],
        neighborhood=neighborhood,
        city=city.name,
        state=city.state,
        category=look.kind.category.lower(),
        year=1960 + bits(6),
    )
    seen = DAY_PREFIX[day_between(bits, added, updated)] + TIMES[bits(12)]
    record["descriptions"] = [{"dateSeen": seen, "value": text}]
