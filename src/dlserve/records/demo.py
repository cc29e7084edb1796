"""Realistic, deterministic demo datasets in the shape of Datafiniti's records.

Every field of each declared schema (:mod:`dlserve.records.schema`) is filled with plausible US
data: real cities with their state, ZIP range, area code and coordinates; business names and
categories that demo queries such as ``categories:hotels`` or ``name:hilton`` find; nested reviews,
prices, hours, statuses and features.

Two things shape the implementation:

- **Determinism.** The same ``(data_type, count, seed)`` always gives byte-identical output: nothing
  reads the clock, iterates a set or depends on ``hash()``. Record ``i`` depends only on the seed and
  on the records of its own block (see ``_BLOCK``), never on ``count``, so a small dataset is a prefix
  of a large one.
- **Speed.** Faker needs 50-250 µs per value, so it is only used to build pools of names once per
  seed; records are composed from those pools and the hand-written tables below with one cheap
  ``random.Random`` per block of records.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import orjson
from faker import Faker

Record = dict[str, object]
_T = TypeVar("_T")

# Re-seeding a Random costs ~5 µs, a quarter of the budget of one record; seeding once per block
# keeps record i independent of count while making that cost negligible.
_BLOCK = 256
_M64 = (1 << 64) - 1
# Chance that one of a type's optional fields is left out of a record, so `-field:*` finds something.
_OMIT_RATE = 0.03

# --------------------------------------------------------------------------------------------------
# Dates: seconds since 2015-01-01T00:00:00Z, formatted from precomputed pieces because strftime is
# the slowest thing a record would otherwise do.

_FIRST_DAY = date(2015, 1, 1)
_NUM_DAYS = (date(2026, 1, 1) - _FIRST_DAY).days
_DAY = 86_400
_YEAR = 365 * _DAY
_SPAN = _NUM_DAYS * _DAY
_DAY_PREFIX = tuple((_FIRST_DAY + timedelta(days=d)).isoformat() + "T" for d in range(_NUM_DAYS))
_HOUR_MINUTE = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECOND = tuple(f"{s:02d}Z" for s in range(60))


def _timestamp(offset: int) -> str:
    days, rest = divmod(offset, _DAY)
    minutes, seconds = divmod(rest, 60)
    return _DAY_PREFIX[days] + _HOUR_MINUTE[minutes] + _SECOND[seconds]


def _weighted(*pairs: tuple[_T, int]) -> tuple[_T, ...]:
    """Expand (value, weight) pairs into a tuple that a uniform index samples by weight."""
    return tuple(value for value, weight in pairs for _ in range(weight))


# --------------------------------------------------------------------------------------------------
# Places


@dataclass(frozen=True)
class _City:
    name: str
    state: str
    lat: float
    lon: float
    zip_low: int
    zip_high: int
    area_codes: tuple[str, ...]
    price_per_sqft: int  # rough local house price, so a Manhattan condo costs more than one in Tulsa
    slug: str = ""


# (name, state, lat, lon, first ZIP, last ZIP, area codes, $/sq ft, weight ~ how often it appears)
_CITY_ROWS: tuple[tuple[str, str, float, float, int, int, str, int, int], ...] = (
    ("New York", "NY", 40.7128, -74.0060, 10001, 10282, "212 646 917", 1100, 12),
    ("Los Angeles", "CA", 34.0522, -118.2437, 90001, 90089, "213 323 310", 750, 10),
    ("Chicago", "IL", 41.8781, -87.6298, 60601, 60661, "312 773", 300, 8),
    ("Houston", "TX", 29.7604, -95.3698, 77001, 77099, "713 281 832", 180, 7),
    ("Phoenix", "AZ", 33.4484, -112.0740, 85001, 85054, "602 480", 280, 6),
    ("Philadelphia", "PA", 39.9526, -75.1652, 19102, 19154, "215 267", 230, 6),
    ("San Antonio", "TX", 29.4241, -98.4936, 78201, 78266, "210", 170, 5),
    ("San Diego", "CA", 32.7157, -117.1611, 92101, 92154, "619 858", 700, 5),
    ("Dallas", "TX", 32.7767, -96.7970, 75201, 75254, "214 469 972", 240, 5),
    ("San Jose", "CA", 37.3382, -121.8863, 95110, 95139, "408 669", 900, 4),
    ("Austin", "TX", 30.2672, -97.7431, 78701, 78759, "512 737", 350, 5),
    ("Jacksonville", "FL", 30.3322, -81.6557, 32202, 32258, "904", 190, 3),
    ("Fort Worth", "TX", 32.7555, -97.3308, 76102, 76179, "817 682", 180, 3),
    ("Columbus", "OH", 39.9612, -82.9988, 43201, 43240, "614 380", 190, 3),
    ("Charlotte", "NC", 35.2271, -80.8431, 28202, 28288, "704 980", 230, 3),
    ("San Francisco", "CA", 37.7749, -122.4194, 94102, 94134, "415 628", 1000, 6),
    ("Indianapolis", "IN", 39.7684, -86.1581, 46201, 46260, "317 463", 150, 3),
    ("Seattle", "WA", 47.6062, -122.3321, 98101, 98199, "206", 550, 5),
    ("Denver", "CO", 39.7392, -104.9903, 80202, 80249, "303 720", 400, 4),
    ("Washington", "DC", 38.9072, -77.0369, 20001, 20037, "202", 550, 5),
    ("Boston", "MA", 42.3601, -71.0589, 2108, 2137, "617 857", 700, 5),
    ("El Paso", "TX", 31.7619, -106.4850, 79901, 79938, "915", 130, 2),
    ("Nashville", "TN", 36.1627, -86.7816, 37201, 37221, "615 629", 300, 4),
    ("Detroit", "MI", 42.3314, -83.0458, 48201, 48235, "313", 90, 3),
    ("Oklahoma City", "OK", 35.4676, -97.5164, 73102, 73179, "405", 140, 2),
    ("Portland", "OR", 45.5152, -122.6784, 97201, 97236, "503 971", 380, 4),
    ("Las Vegas", "NV", 36.1699, -115.1398, 89101, 89149, "702 725", 260, 5),
    ("Memphis", "TN", 35.1495, -90.0490, 38103, 38135, "901", 110, 2),
    ("Louisville", "KY", 38.2527, -85.7585, 40202, 40299, "502", 150, 2),
    ("Baltimore", "MD", 39.2904, -76.6122, 21201, 21239, "410 443", 160, 3),
    ("Milwaukee", "WI", 43.0389, -87.9065, 53202, 53233, "414", 140, 2),
    ("Albuquerque", "NM", 35.0844, -106.6504, 87102, 87123, "505", 190, 2),
    ("Tucson", "AZ", 32.2226, -110.9747, 85701, 85756, "520", 210, 2),
    ("Fresno", "CA", 36.7378, -119.7871, 93650, 93730, "559", 250, 2),
    ("Sacramento", "CA", 38.5816, -121.4944, 95811, 95838, "916 279", 320, 2),
    ("Kansas City", "MO", 39.0997, -94.5786, 64101, 64157, "816", 160, 2),
    ("Atlanta", "GA", 33.7490, -84.3880, 30303, 30363, "404 678 470", 250, 5),
    ("Miami", "FL", 25.7617, -80.1918, 33125, 33196, "305 786", 450, 5),
    ("Raleigh", "NC", 35.7796, -78.6382, 27601, 27617, "919 984", 230, 2),
    ("Omaha", "NE", 41.2565, -95.9345, 68102, 68164, "402 531", 150, 2),
    ("Minneapolis", "MN", 44.9778, -93.2650, 55401, 55455, "612", 220, 3),
    ("Tulsa", "OK", 36.1540, -95.9928, 74103, 74137, "918 539", 130, 2),
    ("Cleveland", "OH", 41.4993, -81.6944, 44101, 44135, "216", 100, 2),
    ("Wichita", "KS", 37.6872, -97.3301, 67202, 67235, "316", 120, 1),
    ("New Orleans", "LA", 29.9511, -90.0715, 70112, 70131, "504", 220, 4),
    ("Tampa", "FL", 27.9506, -82.4572, 33602, 33647, "813 656", 260, 3),
    ("Orlando", "FL", 28.5383, -81.3792, 32801, 32839, "407 321", 240, 5),
    ("Pittsburgh", "PA", 40.4406, -79.9959, 15201, 15235, "412", 140, 3),
    ("Cincinnati", "OH", 39.1031, -84.5120, 45202, 45255, "513", 150, 2),
    ("St. Louis", "MO", 38.6270, -90.1994, 63101, 63147, "314", 130, 2),
    ("Salt Lake City", "UT", 40.7608, -111.8910, 84101, 84124, "801 385", 320, 2),
    ("Buffalo", "NY", 42.8864, -78.8784, 14201, 14228, "716", 120, 2),
    ("Richmond", "VA", 37.5407, -77.4360, 23219, 23236, "804", 200, 2),
    ("Birmingham", "AL", 33.5186, -86.8104, 35203, 35244, "205 659", 120, 2),
    ("Charleston", "SC", 32.7765, -79.9311, 29401, 29492, "843 854", 380, 3),
    ("Savannah", "GA", 32.0809, -81.0912, 31401, 31419, "912", 220, 2),
    ("Boise", "ID", 43.6150, -116.2023, 83702, 83716, "208 986", 280, 2),
    ("Spokane", "WA", 47.6588, -117.4260, 99201, 99224, "509", 210, 1),
    ("Des Moines", "IA", 41.5868, -93.6250, 50309, 50321, "515", 140, 1),
    ("Madison", "WI", 43.0731, -89.4012, 53703, 53726, "608", 230, 1),
    ("Burlington", "VT", 44.4759, -73.2121, 5401, 5408, "802", 290, 1),
    ("Portland", "ME", 43.6591, -70.2568, 4101, 4112, "207", 330, 1),
    ("Providence", "RI", 41.8240, -71.4128, 2903, 2909, "401", 260, 1),
    ("Hartford", "CT", 41.7658, -72.6734, 6103, 6120, "860 959", 150, 1),
    ("Newark", "NJ", 40.7357, -74.1724, 7102, 7114, "973 862", 250, 2),
    ("Santa Fe", "NM", 35.6870, -105.9378, 87501, 87508, "505", 330, 1),
    ("Scottsdale", "AZ", 33.4942, -111.9261, 85250, 85262, "480", 420, 2),
    ("Palm Springs", "CA", 33.8303, -116.5453, 92262, 92264, "760 442", 400, 1),
    ("Santa Barbara", "CA", 34.4208, -119.6982, 93101, 93111, "805", 1000, 1),
    ("Anaheim", "CA", 33.8366, -117.9143, 92801, 92825, "714 657", 550, 3),
    ("Asheville", "NC", 35.5951, -82.5515, 28801, 28806, "828", 290, 1),
    ("Little Rock", "AR", 34.7465, -92.2896, 72201, 72227, "501", 120, 1),
    ("Jackson", "MS", 32.2988, -90.1848, 39201, 39216, "601 769", 80, 1),
    ("Billings", "MT", 45.7833, -108.5007, 59101, 59106, "406", 200, 1),
    ("Fargo", "ND", 46.8772, -96.7898, 58102, 58104, "701", 160, 1),
    ("Sioux Falls", "SD", 43.5446, -96.7311, 57103, 57110, "605", 170, 1),
    ("Cheyenne", "WY", 41.1400, -104.8202, 82001, 82009, "307", 180, 1),
    ("Charleston", "WV", 38.3498, -81.6326, 25301, 25315, "304 681", 90, 1),
    ("Wilmington", "DE", 39.7391, -75.5398, 19801, 19810, "302", 160, 1),
    ("Manchester", "NH", 42.9956, -71.4548, 3101, 3111, "603", 250, 1),
    ("Reno", "NV", 39.5296, -119.8138, 89501, 89523, "775", 300, 1),
)

_SLUG_RE = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _SLUG_RE.sub("-", text.lower()).strip("-")


_CITIES = tuple(
    _City(name, st, lat, lon, lo, hi, tuple(codes.split()), ppsf, _slug(name))
    for name, st, lat, lon, lo, hi, codes, ppsf, _ in _CITY_ROWS
)
_CITY_BY_WEIGHT: tuple[_City, ...] = tuple(
    city for city, row in zip(_CITIES, _CITY_ROWS, strict=True) for _ in range(row[8])
)

_STREET_BASES = (
    "Main", "Oak", "Maple", "Park", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Sunset",
    "Lincoln", "Jefferson", "Madison", "Franklin", "Highland", "Church", "Walnut", "Spring", "Ridge",
    "Market", "Broadway", "Center", "River", "Chestnut", "Willow", "Meadow", "Forest", "Jackson",
    "Adams", "Union", "Mill", "Pleasant", "Prospect", "Grant", "Riverside", "Valley", "Cherry",
    "1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "12th", "14th",
)  # fmt: skip
_STREET_SUFFIXES = _weighted(
    ("St", 8), ("Ave", 7), ("Rd", 4), ("Blvd", 2), ("Dr", 4), ("Ln", 2), ("Way", 1), ("Ct", 1), ("Pl", 1)
)

# --------------------------------------------------------------------------------------------------
# Pools of Faker-made names, built once per seed.


@dataclass(frozen=True)
class _Pools:
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    companies: tuple[tuple[str, str], ...]  # (name, domain)
    usernames: tuple[str, ...]
    review_texts: dict[tuple[str, int], tuple[str, ...]]  # (topic, sentiment) → texts


@lru_cache(maxsize=4)
def _pools(seed: int) -> _Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    # Faker's name lists are frequency-weighted, so repeats are kept: Michael should be common.
    first = tuple(fake.first_name() for _ in range(600))
    last = tuple(fake.last_name() for _ in range(600))
    companies = []
    for _ in range(250):
        name = fake.company()
        domain = _SLUG_RE.sub("", name.lower().split(",")[0].replace(" and ", ""))[:24] + ".com"
        companies.append((name, domain))
    streets = tuple(
        f"{rng.choice(_STREET_BASES) if rng.random() < 0.6 else rng.choice(last)} {rng.choice(_STREET_SUFFIXES)}"
        for _ in range(1500)
    )
    usernames = []
    for _ in range(1500):
        f, ln = rng.choice(first), rng.choice(last)
        style = rng.random()
        if style < 0.5:
            usernames.append(f"{f} {ln[0]}.")
        elif style < 0.8:
            usernames.append(f"{f.lower()}{ln.lower()[:1]}{rng.randint(1, 99)}")
        else:
            usernames.append(f"{ln.lower()}_{f.lower()}")
    texts = {
        (topic, sentiment): tuple(_compose_review(rng, topic, sentiment) for _ in range(120))
        for topic in _SENTENCES
        for sentiment in (0, 1, 2)
    }
    return _Pools(first, last, streets, tuple(companies), tuple(usernames), texts)


# --------------------------------------------------------------------------------------------------
# Reviews

_SENTENCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # topic → (positive, negative)
    "hotel": (
        (
            "The room was spotless and the bed was very comfortable.",
            "Staff at the front desk were friendly and helpful.",
            "Great location, walking distance to restaurants and shops.",
            "Breakfast had plenty of options and the coffee was good.",
            "Check-in was quick and our room was ready early.",
            "The pool area was clean and relaxing.",
            "Quiet at night and the shower had great water pressure.",
            "We would definitely stay here again on our next trip.",
        ),
        (
            "The room smelled musty and the carpet was stained.",
            "Front desk staff seemed uninterested in helping.",
            "Street noise kept us up most of the night.",
            "The air conditioning barely worked.",
            "Parking was expensive and hard to find.",
            "Breakfast was cold and ran out early.",
            "The bathroom needed a good cleaning.",
            "The Wi-Fi kept dropping all weekend.",
        ),
    ),
    "food": (
        (
            "The food came out hot and full of flavor.",
            "Our server was attentive and knew the menu well.",
            "Portions were generous for the price.",
            "The dessert was worth saving room for.",
            "Cozy atmosphere and great music.",
            "Everything tasted fresh and homemade.",
            "Drinks were well made and reasonably priced.",
            "We were seated right away even on a Friday night.",
        ),
        (
            "We waited almost an hour for our food.",
            "The dish arrived lukewarm and underseasoned.",
            "Our order was wrong twice.",
            "Tables were sticky and the floor was dirty.",
            "Way too expensive for what you get.",
            "The server forgot about us after taking our order.",
            "The music was so loud we could not talk.",
            "The menu online did not match what they served.",
        ),
    ),
    "service": (
        (
            "They fit me in the same day and finished on time.",
            "Prices were fair and explained up front.",
            "Very professional and knowledgeable staff.",
            "They took the time to answer all my questions.",
            "The place was clean and well organized.",
            "I have been coming here for years and they never disappoint.",
            "Booking an appointment online was easy.",
            "Highly recommend to anyone in the area.",
        ),
        (
            "They kept me waiting well past my appointment time.",
            "The final bill was much higher than the quote.",
            "Nobody returned my calls for days.",
            "The work had to be redone a week later.",
            "Staff were rude when I asked a simple question.",
            "They tried to upsell me on things I did not need.",
            "The office was disorganized and lost my paperwork.",
            "I will not be going back.",
        ),
    ),
    "shop": (
        (
            "Great selection and the shelves were well stocked.",
            "The cashier was friendly and checkout was fast.",
            "Prices are better than the big chains.",
            "Staff helped me find exactly what I needed.",
            "Clean store with plenty of parking.",
            "They had items I could not find anywhere else.",
            "Fresh products and good weekly specials.",
            "Always a pleasant place to shop.",
        ),
        (
            "Half the items I wanted were out of stock.",
            "Only one register open and a long line.",
            "Prices have gone up a lot lately.",
            "Employees were hard to find when I needed help.",
            "The store was messy and poorly lit.",
            "They would not accept my return without a receipt.",
            "The parking lot is always full.",
            "The hours posted online were wrong.",
        ),
    ),
    "product": (
        (
            "Works exactly as described and was easy to set up.",
            "Great quality for the price.",
            "I have used it every day for months with no problems.",
            "Arrived quickly and well packaged.",
            "My whole family loves it.",
            "Much better than the one I had before.",
            "Feels solid and well made.",
            "I would buy this again without hesitation.",
        ),
        (
            "Stopped working after two weeks.",
            "Cheaply made and smaller than it looks in the pictures.",
            "The instructions were confusing and parts were missing.",
            "Not worth the money.",
            "Customer service never responded to my emails.",
            "Arrived damaged and had to be returned.",
            "Does not do what the description claims.",
            "The battery life is terrible.",
        ),
    ),
}
_NEUTRAL_SENTENCES = (
    "It was okay overall.",
    "Nothing special but it did the job.",
    "Some good and some bad.",
    "An average experience for the price.",
)
_TITLES = (  # by sentiment: 0 negative (1-2 stars), 1 mixed (3), 2 positive (4-5)
    ("Disappointed", "Would not recommend", "Terrible experience", "Never again", "Not worth it"),
    ("It was okay", "Decent", "Average", "Mixed feelings", "Not bad", "Could be better"),
    ("Excellent!", "Highly recommend", "Loved it", "Great experience", "Five stars", "Will be back"),
)
_SENTIMENT_OF_RATING = (0, 0, 0, 1, 2, 2)  # index = rating
_RATINGS: tuple[int, ...] = (1,) * 4 + (2,) * 4 + (3,) * 7 + (4,) * 15 + (5,) * 20
_REVIEW_COUNTS: tuple[int, ...] = (0,) * 2 + (1,) * 3 + (2,) * 4 + (3,) * 4 + (4,) * 3 + (5,) * 4


def _compose_review(rng: random.Random, topic: str, sentiment: int) -> str:
    positive, negative = _SENTENCES[topic]
    if sentiment == 1:
        parts = [rng.choice(positive), rng.choice(negative), rng.choice(_NEUTRAL_SENTENCES)]
        rng.shuffle(parts)
    else:
        parts = rng.sample(positive if sentiment == 2 else negative, rng.randint(2, 4))
    return " ".join(parts)


def _reviews(rnd: Callable[[], float], pools: _Pools, topic: str, added: int, updated: int) -> list[Record]:
    reviews: list[Record] = []
    usernames = pools.usernames
    for _ in range(_REVIEW_COUNTS[int(rnd() * len(_REVIEW_COUNTS))]):
        rating = _RATINGS[int(rnd() * len(_RATINGS))]
        sentiment = _SENTIMENT_OF_RATING[rating]
        texts = pools.review_texts[topic, sentiment]
        titles = _TITLES[sentiment]
        seen = added + int(rnd() * (updated - added + 1))
        written = max(0, seen - int(rnd() * rnd() * 2 * _YEAR))
        reviews.append(
            {
                "date": _timestamp(written),
                "dateSeen": _timestamp(seen),
                "rating": rating,
                "text": texts[int(rnd() * len(texts))],
                "title": titles[int(rnd() * len(titles))],
                "username": usernames[int(rnd() * len(usernames))],
            }
        )
    return reviews


# --------------------------------------------------------------------------------------------------
# Shared pieces of a record


@dataclass(frozen=True)
class _Feature:
    key: str
    options: tuple[str, ...]
    min_values: int = 1
    max_values: int = 1

    def pick(self, rnd: Callable[[], float]) -> Record:
        # A slice of the options repeated twice: distinct values without the cost of rng.sample.
        n = len(self.options)
        start = int(rnd() * n)
        k = self.min_values + int(rnd() * (self.max_values - self.min_values + 1))
        return {"key": self.key, "value": list((self.options * 2)[start : start + k])}


def _record_id(ident: int, salt: int) -> str:
    """A 20-character Datafiniti-looking id; the last 11 characters encode a bijection of ``ident``."""
    z = _mix64((ident + salt) & _M64)
    w = _mix64(z ^ salt)
    pairs = _BASE62_PAIRS
    unique = _BASE62[z % 62]
    z //= 62
    for _ in range(5):
        z, r = divmod(z, 3844)
        unique += pairs[r]
    noise = _ID_PREFIXES[w & 3]
    w >>= 2
    for _ in range(3):
        w, r = divmod(w, 3844)
        noise += pairs[r]
    return noise + _BASE62[w % 62] + unique


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_PAIRS = tuple(a + b for a in _BASE62 for b in _BASE62)
_ID_PREFIXES = ("AV", "AW", "AX", "AV")


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a bijection on 64-bit integers that scatters consecutive inputs."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _dates(rnd: Callable[[], float]) -> tuple[int, int]:
    # Leave the last part of the range for updates, so dateUpdated is usually later than dateAdded.
    added = int(rnd() * _SPAN * 0.85)
    return added, added + int(rnd() * (_SPAN - added))


def _location(rnd: Callable[[], float], pools: _Pools) -> tuple[_City, Record]:
    city = _CITY_BY_WEIGHT[int(rnd() * len(_CITY_BY_WEIGHT))]
    streets = pools.streets
    number = 1 + int(rnd() * rnd() * 9900)
    fields: Record = {
        "address": f"{number} {streets[int(rnd() * len(streets))]}",
        "city": city.name,
        "province": city.state,
        "postalCode": f"{city.zip_low + int(rnd() * (city.zip_high - city.zip_low + 1)):05d}",
        "country": "US",
    }
    return city, fields


def _coordinates(rnd: Callable[[], float], city: _City) -> tuple[float, float]:
    # A triangular jitter of about ±10 km keeps points clustered around the city centre.
    return (
        round(city.lat + (rnd() - rnd()) * 0.09, 6),
        round(city.lon + (rnd() - rnd()) * 0.11, 6),
    )


def _phone(rnd: Callable[[], float], city: _City) -> str:
    codes = city.area_codes
    return f"({codes[int(rnd() * len(codes))]}) {200 + int(rnd() * 800)}-{int(rnd() * 10000):04d}"


def _omit_one(rnd: Callable[[], float], record: Record, optional: tuple[str, ...]) -> None:
    # One draw decides both whether and which field goes: each optional field is missing ~3% of the time.
    r = rnd() / _OMIT_RATE
    if r < len(optional):
        record.pop(optional[int(r)], None)


# --------------------------------------------------------------------------------------------------
# Businesses

_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _hours(*days: str | None) -> tuple[tuple[str, str], ...]:
    """Opening hours from one entry per weekday (None = closed); a single entry means every day."""
    week = days * 7 if len(days) == 1 else days
    return tuple((day, hour) for day, hour in zip(_WEEK, week, strict=True) if hour)


_PAYMENT = _Feature(
    "Payment Accepted",
    ("Visa", "MasterCard", "American Express", "Discover", "Apple Pay", "Google Pay", "Cash"),
    2,
    5,
)
_PRICE_RANGE = _Feature("Price Range", ("$", "$$", "$$", "$$$", "$$$$"))
_WIFI = _Feature("Wi-Fi", ("Free", "Free", "Paid", "No"))
_PARKING = _Feature("Parking", ("Private Lot", "Street", "Garage", "Valet", "Validated"), 1, 2)


@dataclass(frozen=True)
class _BusinessKind:
    weight: int
    primary: tuple[str, ...]
    categories: tuple[str, ...]  # always present; the first is the one demo queries use
    extra_categories: tuple[str, ...]
    names: tuple[str, ...]  # str.format templates: {city} {last} {last2} {first} {street} {word}
    words: tuple[str, ...]
    hours: tuple[tuple[tuple[str, str], ...], ...]
    features: tuple[_Feature, ...]
    topic: str
    branded: tuple[tuple[str, str], ...] = ()  # (name template, website)
    branded_share: float = 0.0


_OFFICE_HOURS = (
    _hours("8:00-17:00", "8:00-17:00", "8:00-17:00", "8:00-17:00", "8:00-17:00", None, None),
    _hours("9:00-18:00", "9:00-18:00", "9:00-18:00", "9:00-18:00", "9:00-17:00", "9:00-13:00", None),
    _hours("7:30-16:30", "7:30-16:30", "7:30-16:30", "7:30-16:30", "7:30-16:30", "8:00-12:00", None),
)
_STORE_HOURS = (
    _hours("9:00-21:00", "9:00-21:00", "9:00-21:00", "9:00-21:00", "9:00-21:00", "9:00-21:00", "10:00-18:00"),
    _hours(
        "10:00-20:00",
        "10:00-20:00",
        "10:00-20:00",
        "10:00-20:00",
        "10:00-21:00",
        "10:00-21:00",
        "11:00-18:00",
    ),
    _hours("7:00-22:00"),
)

_BUSINESS_KINDS: tuple[_BusinessKind, ...] = (
    _BusinessKind(
        15,
        ("Accommodation & Food Services",),
        ("Hotels",),
        ("Lodging", "Hotels and Motels", "Resorts", "Extended Stay Hotels", "Event Venues"),
        (
            "The {last} Hotel",
            "{city} {word} Inn",
            "Hotel {last}",
            "{word} Suites {city}",
            "{city} Motor Lodge",
            "The {word} Hotel",
            "{street} Inn & Suites",
            "{last} House Hotel",
        ),  # fmt: skip
        ("Grand", "Harbor", "Park", "Plaza", "Royal", "Capitol", "Heritage", "Station", "Crown", "Union"),
        (_hours("0:00-24:00"),),
        (
            _Feature(
                "Amenities",
                (
                    "Free WiFi",
                    "Pool",
                    "Fitness Center",
                    "Free Parking",
                    "Restaurant",
                    "Room Service",
                    "Airport Shuttle",
                    "Pet Friendly",
                    "Business Center",
                    "Spa",
                    "Free Breakfast",
                    "Bar",
                ),  # fmt: skip
                3,
                7,
            ),
            _Feature("Check-in", ("3:00 PM", "3:00 PM", "4:00 PM", "2:00 PM")),
            _Feature("Check-out", ("11:00 AM", "11:00 AM", "12:00 PM", "10:00 AM")),
            _PAYMENT,
        ),
        "hotel",
        (
            ("Hilton Garden Inn {city} Downtown", "https://www.hilton.com"),
            ("Hampton Inn & Suites by Hilton {city}", "https://www.hilton.com"),
            ("DoubleTree by Hilton Hotel {city}", "https://www.hilton.com"),
            ("Courtyard by Marriott {city} Airport", "https://www.marriott.com"),
            ("Residence Inn by Marriott {city}", "https://www.marriott.com"),
            ("{city} Marriott Downtown", "https://www.marriott.com"),
            ("Hyatt Place {city}", "https://www.hyatt.com"),
            ("Hyatt Regency {city}", "https://www.hyatt.com"),
            ("Best Western Plus {city} Inn", "https://www.bestwestern.com"),
            ("Holiday Inn Express & Suites {city}", "https://www.ihg.com"),
            ("La Quinta Inn & Suites by Wyndham {city}", "https://www.wyndhamhotels.com"),
            ("Comfort Inn & Suites {city}", "https://www.choicehotels.com"),
            ("Days Inn by Wyndham {city}", "https://www.wyndhamhotels.com"),
            ("Motel 6 {city}", "https://www.motel6.com"),
            ("Super 8 by Wyndham {city}", "https://www.wyndhamhotels.com"),
            ("Sheraton {city} Hotel", "https://www.marriott.com"),
        ),
        0.2,
    ),
    _BusinessKind(
        4,
        ("Accommodation & Food Services",),
        ("Bed & Breakfast",),
        ("Lodging", "Inns", "Guest Houses", "Hotels"),
        (
            "{last} House Bed & Breakfast",
            "The {word} Inn",
            "{street} Inn B&B",
            "{last} Manor",
            "{word} Cottage B&B",
        ),
        ("Ivy", "Magnolia", "Rose", "Willow", "Garden", "Lighthouse", "Victorian", "Orchard"),
        (_hours("8:00-20:00"),),
        (
            _Feature(
                "Amenities",
                ("Free Breakfast", "Free WiFi", "Garden", "Fireplace", "Free Parking", "Porch"),
                2,
                5,
            ),
            _Feature("Check-in", ("3:00 PM", "4:00 PM")),
            _PAYMENT,
        ),
        "hotel",
    ),
    _BusinessKind(
        22,
        ("Accommodation & Food Services",),
        ("Restaurants",),
        (
            "Italian Restaurants",
            "Mexican Restaurants",
            "Pizza",
            "American Restaurants",
            "Sushi Bars",
            "Thai Restaurants",
            "Barbecue",
            "Seafood",
            "Steakhouses",
            "Burgers",
            "Diners",
            "Chinese Restaurants",
            "Indian Restaurants",
            "Vietnamese Restaurants",
            "Mediterranean Restaurants",
        ),  # fmt: skip
        (
            "{last}'s Pizzeria",
            "Trattoria {word}",
            "{city} Taqueria",
            "The {word} Kitchen",
            "{first}'s Diner",
            "{last} Steakhouse",
            "{word} Sushi",
            "Pho {word}",
            "{street} Grill",
            "{last}'s BBQ",
            "The {word} Table",
        ),  # fmt: skip
        (
            "Rustic",
            "Golden",
            "Olive",
            "Copper",
            "Saffron",
            "Bamboo",
            "Blue Plate",
            "Harvest",
            "Ember",
            "Salt",
        ),
        (
            _hours(
                "11:00-22:00",
                "11:00-22:00",
                "11:00-22:00",
                "11:00-22:00",
                "11:00-23:00",
                "11:00-23:00",
                "11:00-21:00",
            ),
            _hours(
                None, "17:00-22:00", "17:00-22:00", "17:00-22:00", "17:00-23:00", "17:00-23:00", "16:00-21:00"
            ),
            _hours("6:00-15:00"),
        ),
        (
            _PRICE_RANGE,
            _Feature("Good For", ("Lunch", "Dinner", "Groups", "Kids", "Brunch", "Late Night"), 1, 3),
            _Feature("Alcohol", ("Full Bar", "Beer & Wine Only", "No")),
            _Feature("Takes Reservations", ("Yes", "No")),
            _PAYMENT,
        ),
        "food",
    ),
    _BusinessKind(
        6,
        ("Accommodation & Food Services",),
        ("Coffee Shops",),
        ("Cafes", "Coffee & Tea", "Bakeries", "Breakfast & Brunch"),
        (
            "{word} Bean Coffee",
            "{last}'s Coffee House",
            "{street} Espresso Bar",
            "{city} Roasters",
            "Cafe {word}",
        ),
        ("Blue", "Daily", "Common", "Black Dog", "Red Door", "Little", "Sunrise", "Corner"),
        (
            _hours("6:00-18:00"),
            _hours(
                "7:00-19:00",
                "7:00-19:00",
                "7:00-19:00",
                "7:00-19:00",
                "7:00-19:00",
                "8:00-17:00",
                "8:00-15:00",
            ),
        ),
        (_PRICE_RANGE, _WIFI, _PAYMENT),
        "food",
        (("Starbucks", "https://www.starbucks.com"), ("Dunkin'", "https://www.dunkindonuts.com")),
        0.15,
    ),
    _BusinessKind(
        5,
        ("Accommodation & Food Services",),
        ("Bars",),
        ("Pubs", "Nightlife", "Breweries", "Cocktail Bars", "Sports Bars", "Wine Bars"),
        (
            "The {word} Tavern",
            "{last}'s Pub",
            "{city} Brewing Company",
            "{street} Taproom",
            "The {word} Lounge",
        ),
        ("Rusty", "Copper", "Tipsy", "Lucky", "Red Lion", "Anchor", "Velvet", "Local"),
        (
            _hours("16:00-2:00"),
            _hours(
                None, "17:00-24:00", "17:00-24:00", "17:00-24:00", "16:00-2:00", "12:00-2:00", "12:00-22:00"
            ),
        ),
        (_PRICE_RANGE, _Feature("Happy Hour", ("Yes", "No")), _PAYMENT),
        "food",
    ),
    _BusinessKind(
        5,
        ("Other Services",),
        ("Auto Repair",),
        ("Automotive", "Oil Change Stations", "Tires", "Brake Service", "Auto Body Shops"),
        (
            "{last} Auto Repair",
            "{city} Tire & Brake",
            "{street} Automotive",
            "{last} & Sons Garage",
            "{word} Auto Care",
        ),
        ("Precision", "Quality", "Express", "Honest", "Certified", "Pro"),
        _OFFICE_HOURS,
        (
            _Feature(
                "Services",
                ("Oil Change", "Brakes", "Tires", "Diagnostics", "Transmission", "Alignment"),
                2,
                5,
            ),
            _PAYMENT,
        ),
        "service",
    ),
    _BusinessKind(
        4,
        ("Health Care & Social Assistance",),
        ("Dentists",),
        ("General Dentistry", "Cosmetic Dentists", "Orthodontists", "Pediatric Dentists"),
        ("{last} Family Dentistry", "{city} Dental Care", "{word} Smiles Dental", "Dr. {first} {last}, DDS"),
        ("Bright", "Gentle", "Happy", "Premier", "Modern"),
        _OFFICE_HOURS,
        (_Feature("Accepts Insurance", ("Yes", "Yes", "No")), _PAYMENT),
        "service",
    ),
    _BusinessKind(
        5,
        ("Other Services",),
        ("Hair Salons",),
        ("Beauty Salons", "Barbers", "Nail Salons", "Hair Stylists"),
        ("{word} Hair Studio", "{first}'s Barber Shop", "Salon {last}", "{street} Cuts", "The {word} Salon"),
        ("Shear", "Mane", "Urban", "Glow", "Velvet", "Luxe"),
        _STORE_HOURS,
        (_Feature("Appointments", ("Walk-ins Welcome", "By Appointment Only")), _PAYMENT),
        "service",
    ),
    _BusinessKind(
        4,
        ("Arts, Entertainment & Recreation",),
        ("Gyms",),
        ("Fitness Centers", "Yoga Studios", "Personal Trainers", "Boxing Gyms"),
        ("{city} Fitness", "{word} Yoga", "{last} Strength & Conditioning", "{word} CrossFit"),
        ("Iron", "Core", "Flow", "Peak", "Summit", "Anytime"),
        (_hours("5:00-23:00"), _hours("0:00-24:00")),
        (
            _Feature(
                "Amenities", ("Showers", "Lockers", "Sauna", "Group Classes", "Childcare", "Pool"), 2, 4
            ),
            _PAYMENT,
        ),
        "service",
        (
            ("Planet Fitness", "https://www.planetfitness.com"),
            ("Anytime Fitness", "https://www.anytimefitness.com"),
        ),
        0.25,
    ),
    _BusinessKind(
        4,
        ("Retail",),
        ("Grocery Stores",),
        ("Supermarkets", "Organic Stores", "Specialty Food", "Butchers"),
        ("{last}'s Market", "{city} Food Co-op", "{word} Grocery", "{street} Market"),
        ("Fresh", "Green", "Family", "Harvest", "Neighborhood"),
        _STORE_HOURS,
        (_Feature("Services", ("Delivery", "Curbside Pickup", "Pharmacy", "Deli", "Bakery"), 1, 4), _PAYMENT),
        "shop",
        (
            ("Whole Foods Market", "https://www.wholefoodsmarket.com"),
            ("Trader Joe's", "https://www.traderjoes.com"),
        ),
        0.2,
    ),
    _BusinessKind(
        3,
        ("Retail",),
        ("Pharmacies",),
        ("Drugstores", "Convenience Stores"),
        ("{last} Family Pharmacy", "{city} Drug", "{street} Apothecary"),
        ("Care",),
        _STORE_HOURS,
        (
            _Feature(
                "Services", ("Flu Shots", "Drive-Thru", "Photo Printing", "Prescription Delivery"), 1, 3
            ),
            _PAYMENT,
        ),
        "shop",
        (("CVS Pharmacy", "https://www.cvs.com"), ("Walgreens", "https://www.walgreens.com")),
        0.5,
    ),
    _BusinessKind(
        3,
        ("Finance & Insurance",),
        ("Banks",),
        ("Credit Unions", "Mortgage Lenders", "ATMs"),
        ("{city} Community Bank", "{word} Federal Credit Union", "First {word} Bank of {city}"),
        ("Heritage", "Pioneer", "Citizens", "Liberty", "Summit"),
        _OFFICE_HOURS,
        (_Feature("Services", ("ATM", "Drive-Thru", "Safe Deposit Boxes", "Notary"), 1, 3),),
        "service",
        (("Chase Bank", "https://www.chase.com"), ("Wells Fargo Bank", "https://www.wellsfargo.com")),
        0.3,
    ),
    _BusinessKind(
        3,
        ("Construction",),
        ("Plumbers",),
        ("Home Services", "Water Heater Installation", "Drain Cleaning", "Contractors"),
        ("{last} Plumbing", "{city} Rooter & Plumbing", "{word} Plumbing & Heating"),
        ("Reliable", "Express", "Ace", "Affordable", "All Pro"),
        _OFFICE_HOURS,
        (_Feature("Service Area", ("Residential", "Commercial", "Emergency Service"), 1, 3), _PAYMENT),
        "service",
    ),
    _BusinessKind(
        3,
        ("Professional, Scientific & Technical Services",),
        ("Lawyers",),
        ("Attorneys", "Personal Injury Law", "Family Law", "Estate Planning Law", "Criminal Defense Law"),
        (
            "{last} & {last2} LLP",
            "Law Offices of {first} {last}",
            "{last} Law Group",
            "{last}, {last2} & Associates",
        ),
        ("",),
        _OFFICE_HOURS,
        (_Feature("Consultation", ("Free Consultation", "Paid Consultation")),),
        "service",
    ),
    _BusinessKind(
        3,
        ("Real Estate",),
        ("Real Estate Agents",),
        ("Real Estate", "Property Management", "Real Estate Services"),
        ("{last} Realty", "{city} Home Team", "{word} Properties", "{last} Real Estate Group"),
        ("Keystone", "Landmark", "Cornerstone", "Premier", "Gateway"),
        _OFFICE_HOURS,
        (_Feature("Specialties", ("Buyers", "Sellers", "Rentals", "Relocation", "Luxury Homes"), 1, 3),),
        "service",
    ),
    _BusinessKind(
        4,
        ("Retail",),
        ("Clothing Stores",),
        ("Women's Clothing", "Men's Clothing", "Shoe Stores", "Vintage Clothing", "Accessories"),
        ("{word} Boutique", "{first} & Co.", "{street} Outfitters", "{last} Clothiers"),
        ("Thread", "Willow", "Indigo", "Stitch", "Maven"),
        _STORE_HOURS,
        (_PRICE_RANGE, _PAYMENT),
        "shop",
    ),
    _BusinessKind(
        3,
        ("Accommodation & Food Services",),
        ("Bakeries",),
        ("Desserts", "Cupcakes", "Donuts", "Coffee Shops"),
        ("{last}'s Bakery", "{word} Bakeshop", "{city} Donut Co.", "{street} Patisserie"),
        ("Sweet", "Flour", "Golden Crust", "Sugar", "Rise"),
        (
            _hours("6:00-15:00"),
            _hours(None, "7:00-17:00", "7:00-17:00", "7:00-17:00", "7:00-17:00", "7:00-17:00", "8:00-14:00"),
        ),
        (_PRICE_RANGE, _PAYMENT),
        "food",
    ),
    _BusinessKind(
        2,
        ("Health Care & Social Assistance",),
        ("Veterinarians",),
        ("Pet Services", "Pet Groomers", "Animal Hospitals"),
        ("{city} Animal Hospital", "{word} Veterinary Clinic", "{last} Pet Care"),
        ("Companion", "Paws", "Banfield", "Friendly"),
        _OFFICE_HOURS,
        (
            _Feature("Services", ("Vaccinations", "Surgery", "Dental Care", "Grooming", "Boarding"), 1, 4),
            _PAYMENT,
        ),
        "service",
    ),
)
_KIND_BY_WEIGHT: tuple[_BusinessKind, ...] = tuple(k for k in _BUSINESS_KINDS for _ in range(k.weight))
_BUSINESS_OPTIONAL = (
    "postalCode",
    "websites",
    "phones",
    "hours",
    "features",
    "primaryCategories",
    "sourceURLs",
)


def _business(rng: random.Random, pools: _Pools, record_id: str, ident: int) -> Record:
    rnd = rng.random
    kind = _KIND_BY_WEIGHT[int(rnd() * len(_KIND_BY_WEIGHT))]
    city, location = _location(rnd, pools)
    last, first = pools.last_names, pools.first_names
    website = ""
    if kind.branded and rnd() < kind.branded_share:
        template, website = kind.branded[int(rnd() * len(kind.branded))]
    else:
        template = kind.names[int(rnd() * len(kind.names))]
    name = template.format(
        city=city.name,
        last=last[int(rnd() * len(last))],
        last2=last[int(rnd() * len(last))],
        first=first[int(rnd() * len(first))],
        street=pools.streets[int(rnd() * len(pools.streets))].rsplit(" ", 1)[0],
        word=kind.words[int(rnd() * len(kind.words))],
    )
    slug = _slug(name)
    lat, lon = _coordinates(rnd, city)
    extras = kind.extra_categories
    start = int(rnd() * len(extras))
    categories = [*kind.categories, *(extras * 2)[start : start + 1 + int(rnd() * 3)]]
    added, updated = _dates(rnd)
    sources = [f"https://www.yelp.com/biz/{slug}-{city.slug}"]
    if rnd() < 0.6:
        sources.append(
            f"https://www.yellowpages.com/{city.slug}-{city.state.lower()}/mip/{slug}-{ident % 999_983}"
        )
    if kind.topic == "hotel" and rnd() < 0.7:
        sources.append(f"https://www.tripadvisor.com/Hotel_Review-d{ident % 9_999_991}-{slug}.html")
    record: Record = {
        "id": record_id,
        "name": name,
        **location,
        "latitude": lat,
        "longitude": lon,
        "categories": categories,
        "primaryCategories": list(kind.primary),
        "websites": [
            f"{website}/{slug[:40]}" if website else f"https://www.{slug[:30].replace('-', '')}.com"
        ],
        "phones": [_phone(rnd, city)],
        "dateAdded": _timestamp(added),
        "dateUpdated": _timestamp(updated),
        "sourceURLs": sources,
    }
    reviews = _reviews(rnd, pools, kind.topic, added, updated)
    if reviews:
        record["reviews"] = reviews
    record["hours"] = [{"day": day, "hour": hour} for day, hour in kind.hours[int(rnd() * len(kind.hours))]]
    record["features"] = [feature.pick(rnd) for feature in kind.features]
    _omit_one(rnd, record, _BUSINESS_OPTIONAL)
    return record


# --------------------------------------------------------------------------------------------------
# Products


@dataclass(frozen=True)
class _ProductKind:
    primary: str
    categories: tuple[str, ...]
    extra_categories: tuple[str, ...]
    nouns: tuple[str, ...]
    adjectives: tuple[str, ...]
    brands: tuple[str, ...]
    variants: tuple[str, ...]
    price_low: float
    price_high: float


_PRODUCT_KINDS: tuple[_ProductKind, ...] = (
    _ProductKind(
        "Electronics",
        ("Electronics", "Audio", "Headphones"),
        (
            "Over-Ear Headphones",
            "Wireless Headphones",
            "Earbuds",
            "Bluetooth Headphones",
            "Noise Cancelling Headphones",
        ),
        ("Headphones", "Earbuds", "Over-Ear Headphones", "True Wireless Earbuds", "Bluetooth Speaker"),
        ("Wireless", "Bluetooth", "Noise Cancelling", "Sport", "Studio", "Portable"),
        ("Sony", "Bose", "JBL", "Beats", "Sennheiser", "Skullcandy", "Audio-Technica", "Anker"),
        ("Black", "White", "Silver", "Navy Blue", "Rose Gold"),
        19.99,
        399.99,
    ),
    _ProductKind(
        "Electronics",
        ("Electronics", "TV & Video", "Televisions"),
        ("4K TVs", "Smart TVs", "OLED TVs", "LED TVs"),
        ("4K UHD Smart TV", "OLED TV", "LED HDTV", "QLED Smart TV"),
        ('43"', '50"', '55"', '65"', '75"'),
        ("Samsung", "LG", "Sony", "TCL", "Vizio", "Hisense"),
        ("2022 Model", "2023 Model", "2024 Model"),
        199.99,
        2499.99,
    ),
    _ProductKind(
        "Electronics",
        ("Electronics", "Computers", "Laptops"),
        ("Traditional Laptops", "2-in-1 Laptops", "Gaming Laptops", "Chromebooks"),
        ("Laptop", "Chromebook", "2-in-1 Laptop", "Gaming Laptop"),
        ('13.3"', '14"', '15.6"', '17.3"'),
        ("Dell", "HP", "Lenovo", "Asus", "Acer", "Apple", "Microsoft"),
        ("8GB RAM, 256GB SSD", "16GB RAM, 512GB SSD", "32GB RAM, 1TB SSD"),
        249.0,
        2499.0,
    ),
    _ProductKind(
        "Electronics",
        ("Electronics", "Computers", "Computer Accessories"),
        ("Mice", "Keyboards", "USB Hubs", "Webcams", "External Drives"),
        ("Wireless Mouse", "Mechanical Keyboard", "USB-C Hub", "HD Webcam", "Portable SSD"),
        ("Ergonomic", "Compact", "RGB", "Slim", "Pro"),
        ("Logitech", "Corsair", "Razer", "Anker", "SanDisk", "Samsung"),
        ("Black", "Graphite", "White", "1TB", "2TB"),
        14.99,
        199.99,
    ),
    _ProductKind(
        "Home & Kitchen",
        ("Home & Kitchen", "Kitchen & Dining", "Small Appliances"),
        ("Coffee Makers", "Blenders", "Air Fryers", "Mixers", "Toasters", "Electric Kettles"),
        ("Coffee Maker", "Blender", "Air Fryer", "Stand Mixer", "Toaster", "Electric Kettle", "Slow Cooker"),
        ("12-Cup Programmable", "Digital", "Stainless Steel", "5.8-Quart", "Compact", "4-Slice"),
        ("KitchenAid", "Cuisinart", "Hamilton Beach", "Ninja", "Instant Pot", "Keurig", "Breville", "Oster"),
        ("Black", "Stainless Steel", "Empire Red", "White"),
        19.99,
        449.99,
    ),
    _ProductKind(
        "Home & Kitchen",
        ("Home & Kitchen", "Bedding"),
        ("Sheets & Pillowcases", "Comforters", "Bed Pillows", "Bath Towels", "Blankets"),
        ("Sheet Set", "Comforter", "Bed Pillow", "Bath Towel Set", "Throw Blanket"),
        ("Queen", "King", "Full", "Twin", "100% Cotton", "Microfiber"),
        ("Mainstays", "Better Homes & Gardens", "Threshold", "Amazon Basics", "Pinzon"),
        ("White", "Gray", "Navy", "Sage", "Ivory"),
        12.99,
        149.99,
    ),
    _ProductKind(
        "Health & Beauty",
        ("Health & Beauty", "Personal Care"),
        ("Hair Care", "Shampoo", "Skin Care", "Body Wash", "Sun Care"),
        ("Shampoo", "Conditioner", "Body Wash", "Moisturizing Lotion", "Facial Cleanser", "Sunscreen SPF 50"),
        ("Daily", "Hydrating", "Sensitive Skin", "Fragrance Free", "Ultra Sheer"),
        ("Dove", "Neutrogena", "Olay", "Pantene", "CeraVe", "Aveeno", "L'Oreal Paris", "Head & Shoulders"),
        ("12 fl oz", "16.9 fl oz", "Pack of 2", "8 oz"),
        3.99,
        39.99,
    ),
    _ProductKind(
        "Health & Beauty",
        ("Health & Beauty", "Vitamins & Supplements"),
        ("Multivitamins", "Vitamin D", "Fish Oil & Omega", "Probiotics", "Vitamin C"),
        (
            "Multivitamin Gummies",
            "Vitamin D3 Softgels",
            "Fish Oil",
            "Probiotic Capsules",
            "Vitamin C Tablets",
        ),
        ("Adult", "Women's", "Men's", "Extra Strength", "Daily"),
        ("Nature Made", "Centrum", "Vitafusion", "Garden of Life", "One A Day"),
        ("60 Count", "120 Count", "200 Count"),
        5.99,
        34.99,
    ),
    _ProductKind(
        "Toys & Games",
        ("Toys & Games", "Toys"),
        (
            "Building Toys",
            "Action Figures",
            "Board Games",
            "Stuffed Animals",
            "Puzzles",
            "Remote Control Toys",
        ),
        ("Building Set", "Action Figure", "Board Game", "Plush Toy", "Jigsaw Puzzle", "Remote Control Car"),
        ("Classic", "Deluxe", "Starter", "Collector's", "Family"),
        ("LEGO", "Hasbro", "Mattel", "Fisher-Price", "Melissa & Doug", "Nerf", "Hot Wheels"),
        ("Ages 3+", "Ages 8+", "1000 Pieces", "Ages 6+"),
        7.99,
        129.99,
    ),
    _ProductKind(
        "Sports & Outdoors",
        ("Sports & Outdoors", "Exercise & Fitness"),
        ("Yoga", "Strength Training", "Camping & Hiking", "Water Bottles", "Running"),
        ("Yoga Mat", "Adjustable Dumbbells", "Camping Tent", "Insulated Water Bottle", "Running Shoes"),
        ("Non-Slip", "Lightweight", "4-Person", "32 oz", "Men's", "Women's"),
        ("Nike", "Adidas", "Under Armour", "Coleman", "Hydro Flask", "Bowflex", "Gaiam"),
        ("Black", "Blue", "Olive", "Size 9", "Size 10"),
        9.99,
        349.99,
    ),
    _ProductKind(
        "Grocery",
        ("Grocery & Gourmet Food", "Snack Foods"),
        ("Chips", "Granola Bars", "Coffee", "Nuts", "Tea"),
        ("Potato Chips", "Granola Bars", "Ground Coffee", "K-Cup Pods", "Mixed Nuts", "Green Tea"),
        ("Classic", "Family Size", "Medium Roast", "Lightly Salted", "Organic"),
        ("Lay's", "Nature Valley", "Folgers", "Starbucks", "Planters", "KIND", "Lipton"),
        ("Pack of 6", "12 oz", "24 Count", "Party Size"),
        2.49,
        29.99,
    ),
    _ProductKind(
        "Pet Supplies",
        ("Pet Supplies", "Dogs & Cats"),
        ("Dog Food", "Cat Litter", "Dog Toys", "Cat Treats", "Pet Beds"),
        ("Dry Dog Food", "Clumping Cat Litter", "Dog Chew Toy", "Cat Treats", "Orthopedic Pet Bed"),
        ("Adult", "Grain Free", "Chicken & Rice", "Large Breed", "Indoor"),
        ("Purina", "Blue Buffalo", "Pedigree", "KONG", "Tidy Cats", "Greenies"),
        ("5 lb", "15 lb", "30 lb", "Large", "Medium"),
        4.99,
        79.99,
    ),
    _ProductKind(
        "Office Products",
        ("Office Products", "Office Supplies"),
        ("Pens", "Paper", "Sticky Notes", "Desk Accessories", "Printers"),
        ("Ballpoint Pens", "Printer Paper", "Sticky Notes", "Desk Organizer", "Inkjet Printer"),
        ("Assorted Colors", "8.5 x 11", "Mesh", "Wireless All-in-One", "Fine Point"),
        ("BIC", "Post-it", "Sharpie", "HP", "Epson", "Canon", "Staples"),
        ("12 Pack", "500 Sheets", "24 Pads", "Black"),
        2.99,
        299.99,
    ),
    _ProductKind(
        "Baby Products",
        ("Baby Products", "Baby Care"),
        ("Diapers", "Baby Wipes", "Feeding", "Car Seats", "Strollers"),
        ("Diapers", "Baby Wipes", "Baby Bottle", "Convertible Car Seat", "Lightweight Stroller"),
        ("Size 3", "Newborn", "Sensitive", "Anti-Colic", "Travel"),
        ("Pampers", "Huggies", "Graco", "Chicco", "Dr. Brown's"),
        ("Pack of 3", "Mega Pack", "Gray", "Black"),
        8.99,
        349.99,
    ),
)
_MANUFACTURERS = {
    "Beats": "Apple Inc.", "Pantene": "Procter & Gamble", "Head & Shoulders": "Procter & Gamble",
    "Olay": "Procter & Gamble", "Pampers": "Procter & Gamble", "Dove": "Unilever", "Lipton": "Unilever",
    "Neutrogena": "Johnson & Johnson", "Aveeno": "Johnson & Johnson", "Lay's": "PepsiCo",
    "Nature Valley": "General Mills", "Hot Wheels": "Mattel", "Fisher-Price": "Mattel", "Nerf": "Hasbro",
    "Tidy Cats": "Nestle Purina PetCare", "Purina": "Nestle Purina PetCare", "Huggies": "Kimberly-Clark",
    "Post-it": "3M", "Sharpie": "Newell Brands", "Planters": "Hormel Foods", "Centrum": "Haleon",
    "KitchenAid": "Whirlpool Corporation", "Threshold": "Target Corporation", "Mainstays": "Walmart Inc.",
    "Better Homes & Gardens": "Walmart Inc.", "Amazon Basics": "Amazon.com", "CeraVe": "L'Oreal",
    "Vitafusion": "Church & Dwight", "Greenies": "Mars Petcare", "Pedigree": "Mars Petcare",
}  # fmt: skip
_MERCHANTS = _weighted(
    ("Amazon.com", 8), ("Walmart.com", 6), ("Target", 4), ("Bestbuy.com", 3), ("eBay", 3), ("Costco", 1),
    ("Kohl's", 1), ("Newegg.com", 1), ("Macy's", 1),
)  # fmt: skip
_CONDITIONS = _weighted(("New", 17), ("Used", 2), ("Refurbished", 1))
_PRODUCT_OPTIONAL = ("manufacturer", "ean", "upc", "imageURLs", "primaryCategories")


def _upc(company: int, item: int) -> str:
    digits = f"{company:06d}{item:05d}"
    odd = sum(int(d) for d in digits[0::2])
    even = sum(int(d) for d in digits[1::2])
    return digits + str((10 - (odd * 3 + even) % 10) % 10)


def _product(rng: random.Random, pools: _Pools, record_id: str, ident: int) -> Record:
    rnd = rng.random
    kind = _PRODUCT_KINDS[int(rnd() * len(_PRODUCT_KINDS))]
    brand_index = int(rnd() * len(kind.brands))
    brand = kind.brands[brand_index]
    name = (
        f"{brand} {kind.adjectives[int(rnd() * len(kind.adjectives))]} {kind.nouns[int(rnd() * len(kind.nouns))]}"
        f", {kind.variants[int(rnd() * len(kind.variants))]}"
    )
    slug = _slug(name)
    extras = kind.extra_categories
    start = int(rnd() * len(extras))
    # The company prefix comes from the brand's name, so every product of a brand shares it.
    upc = _upc(10_000 + sum(map(ord, brand)) * 97 % 890_000, ident % 100_000)
    added, updated = _dates(rnd)
    code = record_id[9:20]
    asin = "B0" + record_id[12:20].upper()
    sources = [f"https://www.amazon.com/dp/{asin}"]
    if rnd() < 0.6:
        sources.append(f"https://www.walmart.com/ip/{slug}/{ident % 999_999_937}")
    if rnd() < 0.3:
        sources.append(f"https://www.target.com/p/{slug}/-/A-{10_000_000 + ident % 89_999_999}")
    base = kind.price_low + (kind.price_high - kind.price_low) * rnd() * rnd()
    prices: list[Record] = []
    for _ in range(1 + int(rnd() * 4)):
        amount = round(base * (0.85 + rnd() * 0.25), 2)
        on_sale = rnd() < 0.2
        prices.append(
            {
                "amountMin": round(amount * 0.8, 2) if on_sale else amount,
                "amountMax": amount,
                "currency": "USD",
                "isSale": on_sale,
                "merchant": _MERCHANTS[int(rnd() * len(_MERCHANTS))],
                "condition": _CONDITIONS[int(rnd() * len(_CONDITIONS))],
                "dateSeen": _timestamp(added + int(rnd() * (updated - added + 1))),
            }
        )
    record: Record = {
        "id": record_id,
        "name": name,
        "brand": brand,
        "manufacturer": _MANUFACTURERS.get(brand, brand),
        "categories": [*kind.categories, *(extras * 2)[start : start + 1 + int(rnd() * 2)]],
        "primaryCategories": [kind.primary],
        "upc": [upc],
        "ean": ["0" + upc],
        "imageURLs": [f"https://i5.walmartimages.com/asr/{code.lower()}.jpeg"]
        + ([f"https://images-na.ssl-images-amazon.com/images/I/{code}.jpg"] if rnd() < 0.5 else []),
        "dateAdded": _timestamp(added),
        "dateUpdated": _timestamp(updated),
        "sourceURLs": sources,
        "prices": prices,
    }
    reviews = _reviews(rnd, pools, "product", added, updated)
    if reviews:
        record["reviews"] = reviews
    _omit_one(rnd, record, _PRODUCT_OPTIONAL)
    return record


# --------------------------------------------------------------------------------------------------
# Properties

_PROPERTY_TYPES = _weighted(
    ("Single Family Dwelling", 55), ("Condominium", 15), ("Townhouse", 10), ("Multi-Family Dwelling", 8),
    ("Apartment", 6), ("Land", 4), ("Mobile Home", 2),
)  # fmt: skip
# Whole status histories, oldest first, so the sequence always makes sense (no "Sold" then "Rented").
_HISTORIES: tuple[tuple[str, ...], ...] = _weighted(
        (("For Sale",), 14), (("Sold", "For Sale"), 5), (("Off Market", "For Sale"), 3),
        (("For Sale", "Sold"), 10), (("For Sale", "Pending", "Sold"), 10), (("Sold", "For Sale", "Pending", "Sold"), 4),
        (("Sold",), 4), (("For Sale", "Pending"), 8), (("For Rent",), 10), (("Rented", "For Rent"), 5),
        (("For Rent", "Rented"), 5), (("For Sale", "Off Market"), 8), (("Sold", "Off Market"), 4),
)  # fmt: skip
_RENTAL_HISTORIES: tuple[tuple[str, ...], ...] = (
    ("For Rent",),
    ("Rented", "For Rent"),
    ("For Rent", "Rented"),
)
_SALE_STATUSES = frozenset({"For Sale", "Sold", "Pending"})
_RENT_STATUSES = frozenset({"For Rent", "Rented"})
_BEDROOMS = (0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 5, 5, 6)
_PROPERTY_FEATURES = (
    _Feature("Parking", ("Garage - Attached", "Garage - Detached", "Driveway", "Carport", "Street"), 1, 2),
    _Feature("Heating", ("Forced Air", "Heat Pump", "Radiant", "Baseboard", "Gas")),
    _Feature("Cooling", ("Central Air", "Central Air", "Window Unit", "Ceiling Fans", "Evaporative Cooler")),
    _Feature(
        "Appliances",
        ("Dishwasher", "Refrigerator", "Range / Oven", "Microwave", "Washer", "Dryer", "Garbage Disposal"),
        2,
        6,
    ),
    _Feature("Flooring", ("Hardwood", "Carpet", "Tile", "Laminate", "Vinyl"), 1, 3),
    _Feature("Exterior", ("Brick", "Vinyl Siding", "Stucco", "Wood", "Stone")),
)
_PROPERTY_OPTIONAL = ("postalCode", "yearBuilt", "floorSizeValue", "features", "numBathroom")


def _property(rng: random.Random, pools: _Pools, record_id: str, ident: int) -> Record:
    rnd = rng.random
    ptype = _PROPERTY_TYPES[int(rnd() * len(_PROPERTY_TYPES))]
    city, location = _location(rnd, pools)
    if ptype in ("Condominium", "Apartment"):
        location["address"] = (
            f"{location['address']} {'Unit' if rnd() < 0.5 else 'Apt'} {1 + int(rnd() * 40)}"
        )
    lat, lon = _coordinates(rnd, city)
    added, updated = _dates(rnd)
    history = (
        _RENTAL_HISTORIES[int(rnd() * 3)]
        if ptype == "Apartment"
        else _HISTORIES[int(rnd() * len(_HISTORIES))]
    )
    is_land = ptype == "Land"
    bedrooms = 0 if is_land else _BEDROOMS[int(rnd() * len(_BEDROOMS))]
    floor = 0 if is_land else int((450 + bedrooms * 420) * (0.75 + rnd() * 0.6))
    # Land is priced as if it were a small house: good enough for a demo, and never zero.
    value = max(floor, 900) * city.price_per_sqft * (0.7 + rnd() * 0.6)
    step = (updated - added) // len(history)
    statuses: list[Record] = []
    prices: list[Record] = []
    price = 0.0
    for n, status in enumerate(history):
        when = _timestamp(added + n * step + int(rnd() * step))
        statuses.append({"type": status, "date": when})
        if status in _SALE_STATUSES:
            price = float(round(value * (0.95 + rnd() * 0.1), -3))
            prices.append(
                {"amountMin": price, "amountMax": price, "currency": "USD", "isSale": True, "dateSeen": when}
            )
        elif status in _RENT_STATUSES:
            price = float(round(value * (0.004 + rnd() * 0.003) / 50) * 50)
            prices.append(
                {"amountMin": price, "amountMax": price, "currency": "USD", "isSale": False, "dateSeen": when}
            )
    record: Record = {
        "id": record_id,
        **location,
        "latitude": lat,
        "longitude": lon,
        "propertyType": ptype,
        "mostRecentStatus": history[-1],
        "mostRecentStatusDate": statuses[-1]["date"],
        "mostRecentPriceAmount": price,
    }
    if not is_land:
        record["numBedroom"] = bedrooms
        record["numBathroom"] = max(1.0, bedrooms - 1 + int(rnd() * 4) * 0.5)
        record["floorSizeValue"] = floor
        record["yearBuilt"] = 2024 - int(rnd() * rnd() * 125)
    record["dateAdded"] = _timestamp(added)
    record["dateUpdated"] = _timestamp(updated)
    record["prices"] = prices
    record["statuses"] = statuses
    features = [f.pick(rnd) for f in _PROPERTY_FEATURES] if not is_land else []
    features.append({"key": "Lot Size", "value": [f"{0.08 + rnd() * rnd() * 2:.2f} acres"]})
    record["features"] = features
    _omit_one(rnd, record, _PROPERTY_OPTIONAL)
    return record


# --------------------------------------------------------------------------------------------------
# People

_JOB_FUNCTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # function → (C-level title, noun for "VP/Director of …", individual-contributor titles)
    "Engineering": (
        "Chief Technology Officer",
        "Engineering",
        ("Software Engineer", "Senior Software Engineer", "QA Engineer", "DevOps Engineer", "Data Engineer"),
    ),
    "Sales": (
        "Chief Revenue Officer",
        "Sales",
        ("Account Executive", "Sales Development Representative", "Account Manager", "Sales Representative"),
    ),
    "Marketing": (
        "Chief Marketing Officer",
        "Marketing",
        ("Marketing Specialist", "Content Writer", "SEO Specialist", "Brand Strategist"),
    ),
    "Finance": (
        "Chief Financial Officer",
        "Finance",
        ("Accountant", "Financial Analyst", "Senior Accountant", "Payroll Specialist"),
    ),
    "Human Resources": (
        "Chief People Officer",
        "Human Resources",
        ("Recruiter", "HR Generalist", "Talent Acquisition Specialist", "Benefits Coordinator"),
    ),
    "Operations": (
        "Chief Operating Officer",
        "Operations",
        ("Operations Analyst", "Logistics Coordinator", "Project Coordinator", "Office Administrator"),
    ),
    "Information Technology": (
        "Chief Information Officer",
        "Information Technology",
        ("Systems Administrator", "Help Desk Technician", "Network Engineer", "IT Support Specialist"),
    ),
    "Legal": ("Chief Legal Officer", "Legal", ("Paralegal", "Corporate Counsel", "Contracts Specialist")),
    "Customer Service": (
        "Chief Customer Officer",
        "Customer Success",
        ("Customer Service Representative", "Customer Success Manager", "Support Specialist"),
    ),
}
_FUNCTION_NAMES = tuple(_JOB_FUNCTIONS)
_JOB_LEVELS = _weighted(("Non-Manager", 55), ("Manager", 25), ("Director", 12), ("VP", 6), ("C-Level", 2))
_EMAIL_DOMAINS = _weighted(
    ("gmail.com", 10),
    ("yahoo.com", 4),
    ("outlook.com", 3),
    ("hotmail.com", 2),
    ("icloud.com", 2),
    ("aol.com", 1),
)
_PEOPLE_OPTIONAL = ("phones", "address", "postalCode", "jobTitle", "businessName", "emails")


def _job_title(rnd: Callable[[], float], function: str, level: str) -> str:
    chief, noun, staff = _JOB_FUNCTIONS[function]
    if level == "C-Level":
        return chief
    if level == "VP":
        return f"VP of {noun}" if rnd() < 0.7 else f"Senior Vice President, {noun}"
    if level == "Director":
        return f"Director of {noun}" if rnd() < 0.7 else f"Senior Director, {noun}"
    if level == "Manager":
        return f"{noun} Manager" if rnd() < 0.6 else f"Senior {noun} Manager"
    return staff[int(rnd() * len(staff))]


def _person(rng: random.Random, pools: _Pools, record_id: str, ident: int) -> Record:
    rnd = rng.random
    first = pools.first_names[int(rnd() * len(pools.first_names))]
    last = pools.last_names[int(rnd() * len(pools.last_names))]
    city, location = _location(rnd, pools)
    company, domain = pools.companies[int(rnd() * len(pools.companies))]
    function = _FUNCTION_NAMES[int(rnd() * len(_FUNCTION_NAMES))]
    level = _JOB_LEVELS[int(rnd() * len(_JOB_LEVELS))]
    handle_first, handle_last = _SLUG_RE.sub("", first.lower()), _SLUG_RE.sub("", last.lower())
    style = rnd()
    if style < 0.4:
        personal = f"{handle_first}.{handle_last}"
    elif style < 0.7:
        personal = f"{handle_first}{handle_last}{int(rnd() * 100)}"
    else:
        personal = f"{handle_first[0]}{handle_last}{1950 + int(rnd() * 55)}"
    emails = [f"{personal}@{_EMAIL_DOMAINS[int(rnd() * len(_EMAIL_DOMAINS))]}"]
    if rnd() < 0.6:
        emails.insert(0, f"{handle_first[0]}{handle_last}@{domain}")
    phones = [_phone(rnd, city)]
    if rnd() < 0.25:
        phones.append(_phone(rnd, city))
    added, updated = _dates(rnd)
    record: Record = {
        "id": record_id,
        "firstName": first,
        "lastName": last,
        "emails": emails,
        "phones": phones,
        **location,
        "jobTitle": _job_title(rnd, function, level),
        "jobFunction": function,
        "jobLevel": level,
        "businessName": company,
        "dateAdded": _timestamp(added),
        "dateUpdated": _timestamp(updated),
    }
    _omit_one(rnd, record, _PEOPLE_OPTIONAL)
    return record


# --------------------------------------------------------------------------------------------------
# Public API

_Maker = Callable[[random.Random, _Pools, str, int], Record]
_MAKERS: dict[str, tuple[int, _Maker]] = {  # data type → (salt, record maker)
    "businesses": (1, _business),
    "products": (2, _product),
    "properties": (3, _property),
    "people": (4, _person),
}


def generate_records(data_type: str, count: int, seed: int = 0) -> Iterator[dict[str, object]]:
    """Yield ``count`` demo records of ``data_type``; the same arguments always yield the same records."""
    if data_type not in _MAKERS:
        raise ValueError(f"unknown data type {data_type!r}; expected one of {', '.join(_MAKERS)}")
    if count < 0:
        raise ValueError("count must not be negative")
    type_salt, make = _MAKERS[data_type]
    seed64 = seed & _M64
    pools = _pools(seed64)
    id_salt = _mix64(seed64 * 8 + type_salt)
    rng = random.Random()
    for i in range(count):
        if i % _BLOCK == 0:
            # Random(int) seeds from all the bits of the int, so this key is unique per (seed, type, block).
            rng.seed((seed64 << 80) | (type_salt << 64) | (i // _BLOCK))
        yield make(rng, pools, _record_id(i, id_salt), i)


def write_jsonl(path: Path, data_type: str, count: int, seed: int = 0) -> int:
    """Write ``count`` demo records to ``path`` as JSON Lines; returns the number written."""
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    written = 0
    batch: list[bytes] = []
    with path.open("wb") as out:
        for record in generate_records(data_type, count, seed):
            batch.append(dumps(record, option=option))
            if len(batch) == 4096:
                out.write(b"".join(batch))
                written += len(batch)
                batch.clear()
        out.write(b"".join(batch))
        written += len(batch)
    return written


def _check_tables(kinds: Sequence[_BusinessKind]) -> None:
    # Templates are only formatted at generation time; fail at import instead of mid-dataset.
    for kind in kinds:
        for template in (*kind.names, *(t for t, _ in kind.branded)):
            template.format(city="c", last="l", last2="m", first="f", street="s", word="w")


_check_tables(_BUSINESS_KINDS)
