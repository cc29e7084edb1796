"""Places: real cities with their state, ZIP range, area codes and centre, weighted by how often they
appear, and a rough local house price so that a condo in Manhattan costs more than one in Tulsa
(``data/cities.csv``); street names and suffixes (``data/places.json``)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from dlserve.demo.tables import Bits, read_csv, read_json, slug, weighted


@dataclass(frozen=True)
class City:
    name: str
    state: str
    lat_micro: int  # degrees x 1e6: jittered as integers, so coordinates print with 6 decimals
    lon_micro: int
    postal_codes: tuple[str, ...]
    area_codes: tuple[str, ...]
    price_per_sqft: int
    slug: str


def _cities() -> list[tuple[City, int]]:
    cities = []
    for row in read_csv("cities.csv"):
        zips = tuple(f"{z:05d}" for z in range(int(row["first_zip"]), int(row["last_zip"]) + 1))
        city = City(
            row["name"],
            row["state"],
            round(float(row["latitude"]) * 1e6),
            round(float(row["longitude"]) * 1e6),
            zips,
            tuple(row["area_codes"].split()),
            int(row["price_per_sqft"]),
            slug(row["name"]),
        )
        cities.append((city, int(row["weight"])))
    return cities


_STREETS = read_json("places.json")
CITIES: tuple[City, ...] = weighted(_cities(), 10)
STREET_BASES: tuple[str, ...] = tuple(_STREETS["street_bases"])
STREET_SUFFIXES: tuple[str, ...] = weighted(_STREETS["street_suffixes"], 6)
_EXCHANGES = tuple(str(n) for n in range(201, 201 + 512))
_LINES = tuple(f"{n:04d}" for n in random.Random(7).sample(range(10_000), 4096))


def coordinates(bits: Bits, city: City) -> tuple[float, float]:
    # About ±7 km north-south and ±11 km east-west around the centre.
    return (city.lat_micro + bits(17) - 65_536) / 1e6, (city.lon_micro + bits(18) - 131_072) / 1e6


def phone(bits: Bits, city: City) -> str:
    codes = city.area_codes
    return "(" + codes[bits(4) % len(codes)] + ") " + _EXCHANGES[bits(9)] + "-" + _LINES[bits(12)]


def location(bits: Bits, addresses: tuple[str, ...]) -> tuple[City, str, str]:
    """(city, address, postal code); ``addresses`` is the seed's pool of street addresses."""
    city = CITIES[bits(10)]
    zips = city.postal_codes
    return city, addresses[bits(12)], zips[bits(16) % len(zips)]
