"""Realistic, deterministic demo datasets in the shape of Datafiniti's records.

Every field of each declared schema (:mod:`dlserve.records.schema`) is filled with plausible US
data: real cities with their state, ZIP range, area code and coordinates; business names and
categories that demo queries such as ``categories:hotels`` or ``name:hilton`` find; nested reviews,
prices, hours, statuses and features.

Two requirements shape the implementation:

- **Determinism.** The same ``(data_type, count, seed)`` always gives byte-identical output: nothing
  reads the clock, iterates a set or depends on ``hash()``. Record ``i`` depends only on the seed and
  on the records before it in its block of ``_BLOCK``, never on ``count``, so a small dataset is a
  prefix of a large one.
- **Speed** (a million businesses in seconds, not minutes). Faker needs 50-250 µs per value, so it
  only fills pools of names, once per seed. Records are then composed by indexing power-of-two
  tables with ``getrandbits`` (about a quarter of the cost of ``int(random() * n)``); dates, prices
  and coordinates are integer arithmetic or table look-ups, never ``strftime`` or ``round``. That
  still leaves ~20 µs of Python per business, so :func:`write_jsonl` splits a large dataset between
  worker processes, which blocks make possible: any run of whole blocks can be generated alone.

Records may share the strings and tuples of those tables, but every dict and list in a record is
its own, so a caller can change a record without changing another.
"""

from __future__ import annotations

import gc
import os
import random
import re
import shutil
import subprocess
import sys
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
_Bits = Callable[[int], int]

# Re-seeding a Random costs ~5 µs, a quarter of a record's budget; one seeding per block keeps
# record i independent of count while making that cost negligible.
_BLOCK = 256
_M64 = (1 << 64) - 1
# Chance that one given optional field is left out of a record, so `-field:*` queries find something.
_OMIT_RATE = 0.03


def _split(text: str) -> tuple[str, ...]:
    """``"a | b | c"`` → ``("a", "b", "c")``: keeps the long tables below readable and compact."""
    return tuple(part.strip() for part in text.split("|"))


def _table(pairs: Sequence[tuple[_T, int]], bits: int) -> tuple[_T, ...]:
    """(value, weight) pairs spread over ``2**bits`` slots, so ``table[getrandbits(bits)]`` samples
    by weight. Every value gets a slot; leftover slots go to the values rounding shortchanged most."""
    size = 1 << bits
    if len(pairs) > size:
        raise ValueError(f"{len(pairs)} values do not fit a table of {size}")
    total = sum(weight for _, weight in pairs)
    exact = [weight * size / total for _, weight in pairs]
    counts = [max(1, int(x)) for x in exact]
    by_shortfall = sorted(range(len(pairs)), key=lambda k: counts[k] - exact[k])
    for k in range(size - sum(counts)):
        counts[by_shortfall[k % len(pairs)]] += 1
    while sum(counts) > size:  # only when the one-slot minimum overbooked the table
        counts[counts.index(max(counts))] -= 1
    return tuple(value for (value, _), n in zip(pairs, counts, strict=True) for _ in range(n))


def _uniform(values: Sequence[_T], bits: int) -> tuple[_T, ...]:
    return _table([(value, 1) for value in values], bits)


def _bits_for(n: int) -> int:
    """Table size for ``n`` values: at least 4 slots per value, so the rounding bias stays small."""
    return max(2, (4 * n - 1).bit_length())


# --------------------------------------------------------------------------------------------------
# Dates are day numbers since 2015-01-01 plus a time of day drawn from a fixed table.

_FIRST_DAY = date(2015, 1, 1)
_NUM_DAYS = (date(2026, 1, 1) - _FIRST_DAY).days
_LAST_ADDED_DAY = (date(2024, 6, 30) - _FIRST_DAY).days  # leaves room for later updates
_DAY_PREFIX = tuple((_FIRST_DAY + timedelta(days=d)).isoformat() + "T" for d in range(_NUM_DAYS))
_MIDNIGHT = tuple(prefix + "00:00:00Z" for prefix in _DAY_PREFIX)
_TIMES = tuple(  # "HH:MM:SSZ", drawn once; records pick one with 12 random bits
    f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
    for seconds in random.Random(2015).sample(range(86_400), 4096)
)
_REVIEW_LAGS = _uniform([int(d * d / 90) for d in range(256)], 8)  # days from review to crawl, mostly short


def _date_range(bits: _Bits) -> tuple[int, int]:
    """(dateAdded day, dateUpdated day), at least two days apart: whatever happens in between
    (reviews seen, prices seen, status changes) falls on a day of its own, so every date of a
    record sorts between its dateAdded and dateUpdated whatever the times of day."""
    added = bits(12) % _LAST_ADDED_DAY
    return added, added + 2 + bits(12) % (_NUM_DAYS - 2 - added)


def _day_between(bits: _Bits, added: int, updated: int) -> int:
    return added + 1 + bits(12) % (updated - added - 1)


# --------------------------------------------------------------------------------------------------
# Places: real cities with their state, ZIP range, area codes and centre, weighted by how often they
# appear, and a rough local house price so that a condo in Manhattan costs more than one in Tulsa.

_CITY_TABLE = """
New York|NY|40.7128|-74.0060|10001|10282|212 646 917|1100|12
Los Angeles|CA|34.0522|-118.2437|90001|90089|213 323 310|750|10
Chicago|IL|41.8781|-87.6298|60601|60661|312 773|300|8
Houston|TX|29.7604|-95.3698|77001|77099|713 281 832|180|7
Phoenix|AZ|33.4484|-112.0740|85001|85054|602 480|280|6
Philadelphia|PA|39.9526|-75.1652|19102|19154|215 267|230|6
San Antonio|TX|29.4241|-98.4936|78201|78266|210|170|5
San Diego|CA|32.7157|-117.1611|92101|92154|619 858|700|5
Dallas|TX|32.7767|-96.7970|75201|75254|214 469 972|240|5
San Jose|CA|37.3382|-121.8863|95110|95139|408 669|900|4
Austin|TX|30.2672|-97.7431|78701|78759|512 737|350|5
Jacksonville|FL|30.3322|-81.6557|32202|32258|904|190|3
Fort Worth|TX|32.7555|-97.3308|76102|76179|817 682|180|3
Columbus|OH|39.9612|-82.9988|43201|43240|614 380|190|3
Charlotte|NC|35.2271|-80.8431|28202|28288|704 980|230|3
San Francisco|CA|37.7749|-122.4194|94102|94134|415 628|1000|6
Indianapolis|IN|39.7684|-86.1581|46201|46260|317 463|150|3
Seattle|WA|47.6062|-122.3321|98101|98199|206|550|5
Denver|CO|39.7392|-104.9903|80202|80249|303 720|400|4
Washington|DC|38.9072|-77.0369|20001|20037|202|550|5
Boston|MA|42.3601|-71.0589|02108|02137|617 857|700|5
El Paso|TX|31.7619|-106.4850|79901|79938|915|130|2
Nashville|TN|36.1627|-86.7816|37201|37221|615 629|300|4
Detroit|MI|42.3314|-83.0458|48201|48235|313|90|3
Oklahoma City|OK|35.4676|-97.5164|73102|73179|405|140|2
Portland|OR|45.5152|-122.6784|97201|97236|503 971|380|4
Las Vegas|NV|36.1699|-115.1398|89101|89149|702 725|260|5
Memphis|TN|35.1495|-90.0490|38103|38135|901|110|2
Louisville|KY|38.2527|-85.7585|40202|40299|502|150|2
Baltimore|MD|39.2904|-76.6122|21201|21239|410 443|160|3
Milwaukee|WI|43.0389|-87.9065|53202|53233|414|140|2
Albuquerque|NM|35.0844|-106.6504|87102|87123|505|190|2
Tucson|AZ|32.2226|-110.9747|85701|85756|520|210|2
Fresno|CA|36.7378|-119.7871|93650|93730|559|250|2
Sacramento|CA|38.5816|-121.4944|95811|95838|916 279|320|2
Kansas City|MO|39.0997|-94.5786|64101|64157|816|160|2
Atlanta|GA|33.7490|-84.3880|30303|30363|404 678 470|250|5
Miami|FL|25.7617|-80.1918|33125|33196|305 786|450|5
Raleigh|NC|35.7796|-78.6382|27601|27617|919 984|230|2
Omaha|NE|41.2565|-95.9345|68102|68164|402 531|150|2
Minneapolis|MN|44.9778|-93.2650|55401|55455|612|220|3
Tulsa|OK|36.1540|-95.9928|74103|74137|918 539|130|2
Cleveland|OH|41.4993|-81.6944|44101|44135|216|100|2
Wichita|KS|37.6872|-97.3301|67202|67235|316|120|1
New Orleans|LA|29.9511|-90.0715|70112|70131|504|220|4
Tampa|FL|27.9506|-82.4572|33602|33647|813 656|260|3
Orlando|FL|28.5383|-81.3792|32801|32839|407 321|240|5
Pittsburgh|PA|40.4406|-79.9959|15201|15235|412|140|3
Cincinnati|OH|39.1031|-84.5120|45202|45255|513|150|2
St. Louis|MO|38.6270|-90.1994|63101|63147|314|130|2
Salt Lake City|UT|40.7608|-111.8910|84101|84124|801 385|320|2
Buffalo|NY|42.8864|-78.8784|14201|14228|716|120|2
Richmond|VA|37.5407|-77.4360|23219|23236|804|200|2
Birmingham|AL|33.5186|-86.8104|35203|35244|205 659|120|2
Charleston|SC|32.7765|-79.9311|29401|29492|843 854|380|3
Savannah|GA|32.0809|-81.0912|31401|31419|912|220|2
Boise|ID|43.6150|-116.2023|83702|83716|208 986|280|2
Spokane|WA|47.6588|-117.4260|99201|99224|509|210|1
Des Moines|IA|41.5868|-93.6250|50309|50321|515|140|1
Madison|WI|43.0731|-89.4012|53703|53726|608|230|1
Burlington|VT|44.4759|-73.2121|05401|05408|802|290|1
Portland|ME|43.6591|-70.2568|04101|04112|207|330|1
Providence|RI|41.8240|-71.4128|02903|02909|401|260|1
Hartford|CT|41.7658|-72.6734|06103|06120|860 959|150|1
Newark|NJ|40.7357|-74.1724|07102|07114|973 862|250|2
Santa Fe|NM|35.6870|-105.9378|87501|87508|505|330|1
Scottsdale|AZ|33.4942|-111.9261|85250|85262|480|420|2
Palm Springs|CA|33.8303|-116.5453|92262|92264|760 442|400|1
Santa Barbara|CA|34.4208|-119.6982|93101|93111|805|1000|1
Anaheim|CA|33.8366|-117.9143|92801|92825|714 657|550|3
Asheville|NC|35.5951|-82.5515|28801|28806|828|290|1
Little Rock|AR|34.7465|-92.2896|72201|72227|501|120|1
Jackson|MS|32.2988|-90.1848|39201|39216|601 769|80|1
Billings|MT|45.7833|-108.5007|59101|59106|406|200|1
Fargo|ND|46.8772|-96.7898|58102|58104|701|160|1
Sioux Falls|SD|43.5446|-96.7311|57103|57110|605|170|1
Cheyenne|WY|41.1400|-104.8202|82001|82009|307|180|1
Charleston|WV|38.3498|-81.6326|25301|25315|304 681|90|1
Wilmington|DE|39.7391|-75.5398|19801|19810|302|160|1
Manchester|NH|42.9956|-71.4548|03101|03111|603|250|1
Reno|NV|39.5296|-119.8138|89501|89523|775|300|1
"""

_SLUG_RE = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _SLUG_RE.sub("-", text.lower().replace("'", "")).strip("-")


@dataclass(frozen=True)
class _City:
    name: str
    state: str
    lat_micro: int  # degrees x 1e6: jittered as integers, so coordinates print with 6 decimals
    lon_micro: int
    postal_codes: tuple[str, ...]
    area_codes: tuple[str, ...]
    price_per_sqft: int
    slug: str


def _parse_cities(table: str) -> list[tuple[_City, int]]:
    cities = []
    for line in table.strip().splitlines():
        name, state, lat, lon, first_zip, last_zip, area_codes, price, weight = line.split("|")
        zips = tuple(f"{z:05d}" for z in range(int(first_zip), int(last_zip) + 1))
        city = _City(
            name,
            state,
            round(float(lat) * 1e6),
            round(float(lon) * 1e6),
            zips,
            tuple(area_codes.split()),
            int(price),
            _slug(name),
        )
        cities.append((city, int(weight)))
    return cities


_CITIES = _table(_parse_cities(_CITY_TABLE), 10)
_STREET_BASES = _split(
    "Main | Oak | Maple | Park | Pine | Cedar | Elm | Washington | Lake | Hill | Sunset | Lincoln |"
    " Jefferson | Madison | Franklin | Highland | Church | Walnut | Spring | Ridge | Market | Broadway |"
    " Center | River | Chestnut | Willow | Meadow | Forest | Jackson | Adams | Union | Mill | Pleasant |"
    " Prospect | Grant | Riverside | Valley | Cherry | 1st | 2nd | 3rd | 4th | 5th | 6th | 7th | 8th | 9th"
    " | 10th | 12th | 14th"
)
_STREET_SUFFIXES = _table(
    [("St", 8), ("Ave", 7), ("Rd", 4), ("Blvd", 2), ("Dr", 4), ("Ln", 2), ("Way", 1), ("Ct", 1), ("Pl", 1)], 6
)
_EXCHANGES = tuple(str(n) for n in range(201, 201 + 512))
_LINES = tuple(f"{n:04d}" for n in random.Random(7).sample(range(10_000), 4096))


def _coordinates(bits: _Bits, city: _City) -> tuple[float, float]:
    # About ±7 km north-south and ±11 km east-west around the centre.
    return (city.lat_micro + bits(17) - 65_536) / 1e6, (city.lon_micro + bits(18) - 131_072) / 1e6


def _phone(bits: _Bits, city: _City) -> str:
    codes = city.area_codes
    return "(" + codes[bits(4) % len(codes)] + ") " + _EXCHANGES[bits(9)] + "-" + _LINES[bits(12)]


def _omit_one(rnd: Callable[[], float], record: Record, optional: tuple[str, ...]) -> None:
    # One draw decides whether and which: each optional field is missing from ~3% of the records.
    r = rnd() / _OMIT_RATE
    if r < len(optional):
        record.pop(optional[int(r)], None)


# --------------------------------------------------------------------------------------------------
# Reviews: sentences by topic and sentiment, composed into texts once per seed.

_SENTENCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # topic → (positive, negative)
    "hotel": (
        _split(
            "The room was spotless and the bed was very comfortable. | Staff at the front desk were"
            " friendly and helpful. | Great location, walking distance to restaurants and shops. |"
            " Breakfast had plenty of options and the coffee was good. | Check-in was quick and our room"
            " was ready early. | The pool area was clean and relaxing. | Quiet at night and the shower had"
            " great water pressure. | We would definitely stay here again on our next trip."
        ),
        _split(
            "The room smelled musty and the carpet was stained. | Front desk staff seemed uninterested in"
            " helping. | Street noise kept us up most of the night. | The air conditioning barely worked. |"
            " Parking was expensive and hard to find. | Breakfast was cold and ran out early. | The"
            " bathroom needed a good cleaning. | The Wi-Fi kept dropping all weekend."
        ),
    ),
    "food": (
        _split(
            "The food came out hot and full of flavor. | Our server was attentive and knew the menu well. |"
            " Portions were generous for the price. | The dessert was worth saving room for. | Cozy"
            " atmosphere and great music. | Everything tasted fresh and homemade. | Drinks were well made"
            " and reasonably priced. | We were seated right away even on a Friday night."
        ),
        _split(
            "We waited almost an hour for our food. | The dish arrived lukewarm and underseasoned. | Our"
            " order was wrong twice. | Tables were sticky and the floor was dirty. | Way too expensive for"
            " what you get. | The server forgot about us after taking our order. | The music was so loud we"
            " could not talk. | The menu online did not match what they served."
        ),
    ),
    "service": (
        _split(
            "They fit me in the same day and finished on time. | Prices were fair and explained up front."
            " | Very professional and knowledgeable staff. | They took the time to answer all my questions."
            " | The place was clean and well organized. | I have been coming here for years and they never"
            " disappoint. | Booking an appointment online was easy. | Highly recommend to anyone in the area."
        ),
        _split(
            "They kept me waiting well past my appointment time. | The final bill was much higher than the"
            " quote. | Nobody returned my calls for days. | The work had to be redone a week later. | Staff"
            " were rude when I asked a simple question. | They tried to upsell me on things I did not need."
            " | The office was disorganized and lost my paperwork. | I will not be going back."
        ),
    ),
    "shop": (
        _split(
            "Great selection and the shelves were well stocked. | The cashier was friendly and checkout was"
            " fast. | Prices are better than the big chains. | Staff helped me find exactly what I needed."
            " | Clean store with plenty of parking. | They had items I could not find anywhere else. | Fresh"
            " products and good weekly specials. | Always a pleasant place to shop."
        ),
        _split(
            "Half the items I wanted were out of stock. | Only one register open and a long line. | Prices"
            " have gone up a lot lately. | Employees were hard to find when I needed help. | The store was"
            " messy and poorly lit. | They would not accept my return without a receipt. | The parking lot is"
            " always full. | The hours posted online were wrong."
        ),
    ),
    "product": (
        _split(
            "Works exactly as described and was easy to set up. | Great quality for the price. | I have"
            " used it every day for months with no problems. | Arrived quickly and well packaged. | My"
            " whole family loves it. | Much better than the one I had before. | Feels solid and well made."
            " | I would buy this again without hesitation."
        ),
        _split(
            "Stopped working after two weeks. | Cheaply made and smaller than it looks in the pictures. | The"
            " instructions were confusing and parts were missing. | Not worth the money. | Customer service"
            " never responded to my emails. | Arrived damaged and had to be returned. | Does not do what the"
            " description claims. | The battery life is terrible."
        ),
    ),
}
_NEUTRAL = _split(
    "It was okay overall. | Nothing special but it did the job. | Some good and some bad."
    " | An average experience for the price."
)
_TITLES = (  # by sentiment: 0 negative (1-2 stars), 1 mixed (3), 2 positive (4-5)
    _split("Disappointed | Would not recommend | Terrible experience | Never again | Not worth it"),
    _split("It was okay | Decent | Average | Mixed feelings | Not bad | Could be better"),
    _split("Excellent! | Highly recommend | Loved it | Great experience | Five stars | Will be back"),
)
_RATINGS = _table([(1, 4), (2, 4), (3, 7), (4, 15), (5, 20)], 6)
_REVIEW_COUNTS = _table([(0, 2), (1, 3), (2, 4), (3, 4), (4, 3), (5, 4)], 5)

_ReviewBody = tuple[int, str, str]  # rating, text, title


def _compose_review(rng: random.Random, topic: str) -> _ReviewBody:
    rating = rng.choice(_RATINGS)
    sentiment = 0 if rating <= 2 else 1 if rating == 3 else 2
    positive, negative = _SENTENCES[topic]
    if sentiment == 1:
        parts = [rng.choice(positive), rng.choice(negative), rng.choice(_NEUTRAL)]
        rng.shuffle(parts)
    else:
        parts = rng.sample(positive if sentiment == 2 else negative, rng.randint(2, 4))
    return rating, " ".join(parts), rng.choice(_TITLES[sentiment])


def _reviews(bits: _Bits, pools: _Pools, topic: str, added: int, updated: int) -> list[Record]:
    bodies, usernames = pools.reviews[topic], pools.usernames
    reviews: list[Record] = []
    for _ in range(_REVIEW_COUNTS[bits(5)]):
        rating, text, title = bodies[bits(11)]
        seen = _day_between(bits, added, updated)
        written = seen - _REVIEW_LAGS[bits(8)] % (seen + 1)  # never before the first day of the tables
        reviews.append(
            {
                "date": _MIDNIGHT[written],
                "dateSeen": _DAY_PREFIX[seen] + _TIMES[bits(12)],
                "rating": rating,
                "text": text,
                "title": title,
                "username": usernames[bits(11)],
            }
        )
    return reviews


# --------------------------------------------------------------------------------------------------
# Pools built once per seed: Faker names and everything composed from them.


@dataclass(frozen=True)
class _Person:
    first: str
    last: str
    first_handle: str  # lower-case letters only, for e-mail addresses
    last_handle: str


@dataclass(frozen=True)
class _Pools:
    people: tuple[_Person, ...]  # 2**12
    last_names: tuple[str, ...]  # 2**10
    addresses: tuple[str, ...]  # 2**12, "1234 Maple St"
    street_names: tuple[str, ...]  # 2**10, "Maple"
    companies: tuple[tuple[str, str], ...]  # 2**8, (name, domain)
    usernames: tuple[str, ...]  # 2**11
    reviews: dict[str, tuple[_ReviewBody, ...]]  # topic → 2**11


@lru_cache(maxsize=4)
def _pools(seed: int) -> _Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    # Faker's name lists are frequency-weighted, so repeats are kept: Michael should be common.
    first = [fake.first_name() for _ in range(512)]
    last = [fake.last_name() for _ in range(1024)]
    handle = _SLUG_RE.sub
    people = tuple(
        _Person(f, ln, handle("", f.lower()), handle("", ln.lower()))
        for f, ln in ((rng.choice(first), rng.choice(last)) for _ in range(4096))
    )
    street_names = tuple(
        rng.choice(_STREET_BASES) if rng.random() < 0.6 else rng.choice(last) for _ in range(1024)
    )
    addresses = tuple(
        f"{1 + int(rng.random() ** 2 * 9900)} {rng.choice(street_names)} {rng.choice(_STREET_SUFFIXES)}"
        for _ in range(4096)
    )
    companies = []
    for _ in range(256):
        name = fake.company()
        domain = _SLUG_RE.sub("", name.split(",")[0].lower().replace(" and ", ""))[:24] + ".com"
        companies.append((name, domain))
    usernames = []
    for person in rng.sample(people, 2048):
        style = rng.random()
        if style < 0.5:
            usernames.append(f"{person.first} {person.last[0]}.")
        elif style < 0.8:
            usernames.append(f"{person.first_handle}{person.last_handle[:1]}{rng.randint(1, 99)}")
        else:
            usernames.append(f"{person.last_handle}_{person.first_handle}")
    reviews = {topic: tuple(_compose_review(rng, topic) for _ in range(2048)) for topic in _SENTENCES}
    return _Pools(people, tuple(last), addresses, street_names, tuple(companies), tuple(usernames), reviews)


def _location(bits: _Bits, pools: _Pools) -> tuple[_City, str, str]:
    """(city, address, postal code)."""
    city = _CITIES[bits(10)]
    zips = city.postal_codes
    return city, pools.addresses[bits(12)], zips[bits(16) % len(zips)]


# --------------------------------------------------------------------------------------------------
# Ids


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a bijection on 64-bit integers that scatters consecutive inputs."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _triples() -> tuple[str, ...]:
    """65536 distinct three-character strings, so 16 bits become three characters with one look-up.
    Stepping through all 62**3 triples by a stride coprime to their number keeps neighbours unalike."""
    out = []
    for k in range(1 << 16):
        n = k * 100_003 % 62**3
        out.append(_ALPHANUMERIC[n // 3844] + _ALPHANUMERIC[n // 62 % 62] + _ALPHANUMERIC[n % 62])
    return tuple(out)


_TRIPLES = _triples()


def _record_id(index: int, salt: int) -> str:
    """A 20-character Datafiniti-looking id. Its last 12 characters encode ``_mix64(index + salt)``,
    a bijection, so ids within a dataset never collide."""
    z = _mix64((index + salt) & _M64)
    w = (z * 0x9E3779B97F4A7C15) & _M64
    t = _TRIPLES
    return (
        ("AV", "AW", "AX", "AV")[w >> 62]
        + t[w & 0xFFFF]
        + t[(w >> 16) & 0xFFFF]
        + t[z & 0xFFFF]
        + t[(z >> 16) & 0xFFFF]
        + t[(z >> 32) & 0xFFFF]
        + t[z >> 48]
    )


# --------------------------------------------------------------------------------------------------
# Features and hours


@dataclass(frozen=True)
class _Feature:
    key: str
    choices: tuple[tuple[str, ...], ...]  # every allowed value list, as a power-of-two table
    bits: int


def _runs(values: tuple[str, ...], shortest: int, longest: int) -> list[tuple[str, ...]]:
    """Every run of consecutive values (wrapping around) of the given lengths: a record picks one of
    these instead of paying for rng.sample, and still never repeats a value."""
    doubled = values * 2
    lengths = range(shortest, min(longest, len(values)) + 1)
    return [doubled[start : start + k] for start in range(len(values)) for k in lengths]


def _feature(key: str, options: str, min_values: int = 1, max_values: int = 1) -> _Feature:
    choices = _runs(_split(options), min_values, max_values)
    bits = _bits_for(len(choices))
    return _Feature(key, _uniform(choices, bits), bits)


def _features(bits: _Bits, features: tuple[_Feature, ...]) -> list[Record]:
    return [{"key": f.key, "value": list(f.choices[bits(f.bits)])} for f in features]


_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_Hours = tuple[tuple[str, str], ...]


def _hours(weekdays: str, saturday: str | None = "", sunday: str | None = "") -> _Hours:
    """Opening hours: ``""`` repeats the weekday hours, None means closed."""
    week = [weekdays] * 5 + [weekdays if saturday == "" else saturday, weekdays if sunday == "" else sunday]
    return tuple((day, hour) for day, hour in zip(_WEEK, week, strict=True) if hour)


_PAYMENT = _feature(
    "Payment Accepted",
    "Visa | MasterCard | American Express | Discover | Apple Pay | Google Pay | Cash",
    2,
    5,
)
_PRICE_RANGE = _feature("Price Range", "$ | $$ | $$ | $$$ | $$$$")
_OFFICE_HOURS = (
    _hours("8:00-17:00", None, None),
    _hours("9:00-18:00", "9:00-13:00", None),
    _hours("7:30-16:30", "8:00-12:00", None),
)
_STORE_HOURS = (
    _hours("9:00-21:00", "9:00-21:00", "10:00-18:00"),
    _hours("10:00-20:00", "10:00-21:00", "11:00-18:00"),
    _hours("7:00-22:00"),
)

# --------------------------------------------------------------------------------------------------
# Businesses


@dataclass(frozen=True)
class _BusinessKind:
    weight: int
    primary: str
    category: str  # every business of the kind has it: what demo queries such as categories:hotels find
    extra_categories: tuple[str, ...]
    names: tuple[str, ...]  # str.format templates over {city} {last} {last2} {first} {street} {word}
    words: tuple[str, ...]
    hours: tuple[_Hours, ...]
    features: tuple[_Feature, ...]
    topic: str
    branded: tuple[tuple[str, str], ...] = ()  # (name template, website)
    branded_share: float = 0.0


def _brands(text: str) -> tuple[tuple[str, str], ...]:
    """``"Hilton Garden Inn {city} @ hilton.com | ..."`` → ((template, website), ...)."""
    pairs = (entry.split("@") for entry in _split(text))
    return tuple((template.strip(), "https://www." + site.strip()) for template, site in pairs)


def _restaurant(weight: int, extras: str, names: str, words: str) -> _BusinessKind:
    """One cuisine: names and categories that go together, so "Koi Sushi" is never filed under Pizza."""
    return _BusinessKind(
        weight=weight,
        primary="Accommodation & Food Services",
        category="Restaurants",
        extra_categories=_split(extras),
        names=_split(names),
        words=_split(words),
        hours=_RESTAURANT_HOURS,
        features=_RESTAURANT_FEATURES,
        topic="food",
    )


_RESTAURANT_HOURS = (
    _hours("11:00-22:00", "11:00-23:00", "11:00-21:00"),
    _hours("17:00-22:00", "17:00-23:00", "16:00-21:00"),
    _hours("6:00-15:00"),
)
_RESTAURANT_FEATURES = (
    _PRICE_RANGE,
    _feature("Good For", "Lunch | Dinner | Groups | Kids | Brunch | Late Night", 1, 3),
    _feature("Alcohol", "Full Bar | Beer & Wine Only | No"),
    _feature("Takes Reservations", "Yes | No"),
    _PAYMENT,
)
_BUSINESS_KINDS = (
    _BusinessKind(
        weight=15,
        primary="Accommodation & Food Services",
        category="Hotels",
        extra_categories=_split(
            "Lodging | Hotels and Motels | Resorts | Extended Stay Hotels | Event Venues"
        ),
        names=_split(
            "The {last} Hotel | {city} {word} Inn | Hotel {last} | {word} Suites {city} | {city} Motor Lodge"
            " | The {word} Hotel | {street} Inn & Suites | {last} House Hotel"
        ),
        words=_split("Grand | Harbor | Park | Plaza | Royal | Capitol | Heritage | Station | Crown | Union"),
        hours=(_hours("0:00-24:00"),),
        features=(
            _feature(
                "Amenities",
                "Free WiFi | Pool | Fitness Center | Free Parking | Restaurant | Room Service | Airport"
                " Shuttle | Pet Friendly | Business Center | Spa | Free Breakfast | Bar",
                3,
                7,
            ),
            _feature("Check-in", "3:00 PM | 3:00 PM | 4:00 PM | 2:00 PM"),
            _feature("Check-out", "11:00 AM | 11:00 AM | 12:00 PM | 10:00 AM"),
            _PAYMENT,
        ),
        topic="hotel",
        # A few percent each of Hilton, Marriott and Hyatt, so name:hilton has answers in a small demo.
        branded=_brands(
            "Hilton Garden Inn {city} Downtown @ hilton.com | Hampton Inn & Suites by Hilton {city} @"
            " hilton.com | DoubleTree by Hilton Hotel {city} @ hilton.com | Courtyard by Marriott {city}"
            " Airport @ marriott.com | Residence Inn by Marriott {city} @ marriott.com | {city} Marriott"
            " Downtown @ marriott.com | Hyatt Place {city} @ hyatt.com | Hyatt Regency {city} @ hyatt.com |"
            " Best Western Plus {city} Inn @ bestwestern.com | Holiday Inn Express & Suites {city} @"
            " ihg.com | La Quinta Inn & Suites by Wyndham {city} @ wyndhamhotels.com | Comfort Inn & Suites"
            " {city} @ choicehotels.com | Days Inn by Wyndham {city} @ wyndhamhotels.com | Motel 6 {city} @"
            " motel6.com | Super 8 by Wyndham {city} @ wyndhamhotels.com | Sheraton {city} Hotel @"
            " marriott.com"
        ),
        branded_share=0.2,
    ),
    _BusinessKind(
        weight=4,
        primary="Accommodation & Food Services",
        category="Bed & Breakfast",
        extra_categories=_split("Lodging | Inns | Guest Houses | Hotels"),
        names=_split(
            "{last} House Bed & Breakfast | The {word} Inn | {street} Inn B&B | {last} Manor | {word}"
            " Cottage B&B"
        ),
        words=_split("Ivy | Magnolia | Rose | Willow | Garden | Lighthouse | Victorian | Orchard"),
        hours=(_hours("8:00-20:00"),),
        features=(
            _feature(
                "Amenities", "Free Breakfast | Free WiFi | Garden | Fireplace | Free Parking | Porch", 2, 5
            ),
            _feature("Check-in", "3:00 PM | 4:00 PM"),
            _PAYMENT,
        ),
        topic="hotel",
    ),
    _restaurant(
        4,
        "Pizza | Italian Restaurants | Delivery",
        "{last}'s Pizzeria | {city} Pizza Company | {word} Pizza | {street} Pizza Kitchen",
        "Brick Oven | Slice of Heaven | Napoli | Hot Spot",
    ),
    _restaurant(
        3,
        "Italian Restaurants | Wine Bars",
        "Trattoria {word} | {last}'s Italian Kitchen | Osteria {word}",
        "Bella | Toscana | Roma | Luna | Olivo",
    ),
    _restaurant(
        3,
        "Mexican Restaurants | Tacos | Tex-Mex",
        "{city} Taqueria | El {word} Cantina | Tacos {word}",
        "Sol | Jalisco | Fuego | Agave | Maya",
    ),
    _restaurant(
        4,
        "American Restaurants | Burgers | Diners | Breakfast & Brunch",
        "{first}'s Diner | The {word} Kitchen | {street} Grill | {word} Burger Bar",
        "Blue Plate | Harvest | Copper | Local",
    ),
    _restaurant(
        2,
        "Barbecue | Steakhouses | Southern Restaurants",
        "{last}'s BBQ | {last} Steakhouse | {city} Smokehouse | The {word} Pit",
        "Smoke | Ember | Hickory | Oak",
    ),
    _restaurant(
        3,
        "Japanese Restaurants | Sushi Bars | Ramen",
        "{word} Sushi | Sushi {word} | {word} Ramen House",
        "Sakura | Koi | Umi | Zen | Kaze",
    ),
    _restaurant(
        2,
        "Chinese Restaurants | Dim Sum | Szechuan",
        "{word} Garden | {word} Palace | Golden {word} Chinese Restaurant",
        "Jade | Dragon | Panda | Lucky | Peking",
    ),
    _restaurant(
        1,
        "Thai Restaurants | Noodles",
        "{word} Thai | Thai {word} Kitchen",
        "Bangkok | Siam | Basil | Orchid",
    ),
    _restaurant(
        1, "Vietnamese Restaurants | Noodles", "Pho {word} | {word} Pho & Grill", "Saigon | Hanoi | Lotus"
    ),
    _restaurant(
        1,
        "Seafood | Oyster Bars",
        "{word} Fish House | {last}'s Crab Shack | The {word} Oyster Bar",
        "Harbor | Salty | Anchor | Pier",
    ),
    _BusinessKind(
        weight=6,
        primary="Accommodation & Food Services",
        category="Coffee Shops",
        extra_categories=_split("Cafes | Coffee & Tea | Bakeries | Breakfast & Brunch"),
        names=_split(
            "{word} Bean Coffee | {last}'s Coffee House | {street} Espresso Bar | {city} Roasters | Cafe"
            " {word}"
        ),
        words=_split("Blue | Daily | Common | Black Dog | Red Door | Little | Sunrise | Corner"),
        hours=(_hours("6:00-18:00"), _hours("7:00-19:00", "8:00-17:00", "8:00-15:00")),
        features=(_PRICE_RANGE, _feature("Wi-Fi", "Free | Free | Paid | No"), _PAYMENT),
        topic="food",
        branded=_brands("Starbucks @ starbucks.com | Dunkin' @ dunkindonuts.com"),
        branded_share=0.15,
    ),
    _BusinessKind(
        weight=5,
        primary="Accommodation & Food Services",
        category="Bars",
        extra_categories=_split("Pubs | Nightlife | Breweries | Cocktail Bars | Sports Bars | Wine Bars"),
        names=_split(
            "The {word} Tavern | {last}'s Pub | {city} Brewing Company | {street} Taproom | The {word} Lounge"
        ),
        words=_split("Rusty | Copper | Tipsy | Lucky | Red Lion | Anchor | Velvet | Local"),
        hours=(_hours("16:00-2:00"), _hours("17:00-24:00", "12:00-2:00", "12:00-22:00")),
        features=(_PRICE_RANGE, _feature("Happy Hour", "Yes | No"), _PAYMENT),
        topic="food",
    ),
    _BusinessKind(
        weight=3,
        primary="Accommodation & Food Services",
        category="Bakeries",
        extra_categories=_split("Desserts | Cupcakes | Donuts | Coffee Shops"),
        names=_split("{last}'s Bakery | {word} Bakeshop | {city} Donut Co. | {street} Patisserie"),
        words=_split("Sweet | Flour | Golden Crust | Sugar | Rise"),
        hours=(_hours("6:00-15:00"), _hours("7:00-17:00", "7:00-17:00", "8:00-14:00")),
        features=(_PRICE_RANGE, _PAYMENT),
        topic="food",
    ),
    _BusinessKind(
        weight=5,
        primary="Other Services",
        category="Auto Repair",
        extra_categories=_split("Automotive | Oil Change Stations | Tires | Brake Service | Auto Body Shops"),
        names=_split(
            "{last} Auto Repair | {city} Tire & Brake | {street} Automotive | {last} & Sons Garage | {word}"
            " Auto Care"
        ),
        words=_split("Precision | Quality | Express | Honest | Certified | Pro"),
        hours=_OFFICE_HOURS,
        features=(
            _feature(
                "Services", "Oil Change | Brakes | Tires | Diagnostics | Transmission | Alignment", 2, 5
            ),
            _PAYMENT,
        ),
        topic="service",
    ),
    _BusinessKind(
        weight=4,
        primary="Health Care & Social Assistance",
        category="Dentists",
        extra_categories=_split("General Dentistry | Cosmetic Dentists | Orthodontists | Pediatric Dentists"),
        names=_split(
            "{last} Family Dentistry | {city} Dental Care | {word} Smiles Dental | Dr. {first} {last}, DDS"
        ),
        words=_split("Bright | Gentle | Happy | Premier | Modern"),
        hours=_OFFICE_HOURS,
        features=(_feature("Accepts Insurance", "Yes | Yes | No"), _PAYMENT),
        topic="service",
    ),
    _BusinessKind(
        weight=2,
        primary="Health Care & Social Assistance",
        category="Veterinarians",
        extra_categories=_split("Pet Services | Pet Groomers | Animal Hospitals"),
        names=_split("{city} Animal Hospital | {word} Veterinary Clinic | {last} Pet Care"),
        words=_split("Companion | Paws | Friendly | Family"),
        hours=_OFFICE_HOURS,
        features=(
            _feature("Services", "Vaccinations | Surgery | Dental Care | Grooming | Boarding", 1, 4),
            _PAYMENT,
        ),
        topic="service",
    ),
    _BusinessKind(
        weight=5,
        primary="Other Services",
        category="Hair Salons",
        extra_categories=_split("Beauty Salons | Barbers | Nail Salons | Hair Stylists"),
        names=_split(
            "{word} Hair Studio | {first}'s Barber Shop | Salon {last} | {street} Cuts | The {word} Salon"
        ),
        words=_split("Shear | Mane | Urban | Glow | Velvet | Luxe"),
        hours=_STORE_HOURS,
        features=(_feature("Appointments", "Walk-ins Welcome | By Appointment Only"), _PAYMENT),
        topic="service",
    ),
    _BusinessKind(
        weight=4,
        primary="Arts, Entertainment & Recreation",
        category="Gyms",
        extra_categories=_split("Fitness Centers | Yoga Studios | Personal Trainers | Boxing Gyms"),
        names=_split("{city} Fitness | {word} Yoga | {last} Strength & Conditioning | {word} CrossFit"),
        words=_split("Iron | Core | Flow | Peak | Summit | Catalyst"),
        hours=(_hours("5:00-23:00"), _hours("0:00-24:00")),
        features=(
            _feature("Amenities", "Showers | Lockers | Sauna | Group Classes | Childcare | Pool", 2, 4),
            _PAYMENT,
        ),
        topic="service",
        branded=_brands("Planet Fitness @ planetfitness.com | Anytime Fitness @ anytimefitness.com"),
        branded_share=0.25,
    ),
    _BusinessKind(
        weight=4,
        primary="Retail",
        category="Grocery Stores",
        extra_categories=_split("Supermarkets | Organic Stores | Specialty Food | Butchers"),
        names=_split("{last}'s Market | {city} Food Co-op | {word} Grocery | {street} Market"),
        words=_split("Fresh | Green | Family | Harvest | Neighborhood"),
        hours=_STORE_HOURS,
        features=(
            _feature("Services", "Delivery | Curbside Pickup | Pharmacy | Deli | Bakery", 1, 4),
            _PAYMENT,
        ),
        topic="shop",
        branded=_brands("Whole Foods Market @ wholefoodsmarket.com | Trader Joe's @ traderjoes.com"),
        branded_share=0.2,
    ),
    _BusinessKind(
        weight=3,
        primary="Retail",
        category="Pharmacies",
        extra_categories=_split("Drugstores | Convenience Stores"),
        names=_split("{last} Family Pharmacy | {city} Drug | {street} Apothecary"),
        words=("",),
        hours=_STORE_HOURS,
        features=(
            _feature("Services", "Flu Shots | Drive-Thru | Photo Printing | Prescription Delivery", 1, 3),
            _PAYMENT,
        ),
        topic="shop",
        branded=_brands("CVS Pharmacy @ cvs.com | Walgreens @ walgreens.com"),
        branded_share=0.5,
    ),
    _BusinessKind(
        weight=4,
        primary="Retail",
        category="Clothing Stores",
        extra_categories=_split(
            "Women's Clothing | Men's Clothing | Shoe Stores | Vintage Clothing | Accessories"
        ),
        names=_split("{word} Boutique | {first} & Co. | {street} Outfitters | {last} Clothiers"),
        words=_split("Thread | Willow | Indigo | Stitch | Maven"),
        hours=_STORE_HOURS,
        features=(_PRICE_RANGE, _PAYMENT),
        topic="shop",
    ),
    _BusinessKind(
        weight=3,
        primary="Finance & Insurance",
        category="Banks",
        extra_categories=_split("Credit Unions | Mortgage Lenders | ATMs"),
        names=_split("{city} Community Bank | {word} Federal Credit Union | First {word} Bank of {city}"),
        words=_split("Heritage | Pioneer | Citizens | Liberty | Summit"),
        hours=_OFFICE_HOURS,
        features=(_feature("Services", "ATM | Drive-Thru | Safe Deposit Boxes | Notary", 1, 3),),
        topic="service",
        branded=_brands("Chase Bank @ chase.com | Wells Fargo Bank @ wellsfargo.com"),
        branded_share=0.3,
    ),
    _BusinessKind(
        weight=3,
        primary="Construction",
        category="Plumbers",
        extra_categories=_split("Home Services | Water Heater Installation | Drain Cleaning | Contractors"),
        names=_split("{last} Plumbing | {city} Rooter & Plumbing | {word} Plumbing & Heating"),
        words=_split("Reliable | Express | Ace | Affordable | All Pro"),
        hours=_OFFICE_HOURS,
        features=(_feature("Service Area", "Residential | Commercial | Emergency Service", 1, 3), _PAYMENT),
        topic="service",
    ),
    _BusinessKind(
        weight=3,
        primary="Professional, Scientific & Technical Services",
        category="Lawyers",
        extra_categories=_split(
            "Attorneys | Personal Injury Law | Family Law | Estate Planning Law | Criminal Defense Law"
        ),
        names=_split(
            "{last} & {last2} LLP | Law Offices of {first} {last} | {last} Law Group | {last}, {last2} &"
            " Associates"
        ),
        words=("",),
        hours=_OFFICE_HOURS,
        features=(_feature("Consultation", "Free Consultation | Paid Consultation"),),
        topic="service",
    ),
    _BusinessKind(
        weight=3,
        primary="Real Estate",
        category="Real Estate Agents",
        extra_categories=_split("Real Estate | Property Management | Real Estate Services"),
        names=_split("{last} Realty | {city} Home Team | {word} Properties | {last} Real Estate Group"),
        words=_split("Keystone | Landmark | Cornerstone | Premier | Gateway"),
        hours=_OFFICE_HOURS,
        features=(_feature("Specialties", "Buyers | Sellers | Rentals | Relocation | Luxury Homes", 1, 3),),
        topic="service",
    ),
)
_KIND_INDEX = _table([(n, kind.weight) for n, kind in enumerate(_BUSINESS_KINDS)], 10)
_KIND_CATEGORIES = tuple(
    _uniform([(kind.category, *run) for run in _runs(kind.extra_categories, 1, 3)], 6)
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
        return head, None, _slug(head), ""
    slug_head, slug_tail = _slug(head), _slug(tail)
    return head, tail, slug_head + "-" if slug_head else "", "-" + slug_tail if slug_tail else ""


@lru_cache(maxsize=4)
def _business_looks(seed: int) -> tuple[_BusinessLook, ...]:
    """2**14 looks, in proportion to kind weights: a record is then one index and a city away."""
    pools = _pools(seed)
    rng = random.Random(seed + 1)
    looks = []
    for kind_index in _uniform(_KIND_INDEX, 14):
        kind = _BUSINESS_KINDS[kind_index]
        site = ""
        if kind.branded and rng.random() < kind.branded_share:
            template, site = rng.choice(kind.branded)
        else:
            template = rng.choice(kind.names)
        name = template.format(
            city="{city}",
            last=rng.choice(pools.last_names),
            last2=rng.choice(pools.last_names),
            first=rng.choice(pools.people).first,
            street=f"{rng.choice(pools.street_names)} {rng.choice(('Street', 'Street', 'Avenue', 'Square'))}",
            word=rng.choice(kind.words),
        )
        looks.append(_BusinessLook(kind, _KIND_CATEGORIES[kind_index], *_split_on_city(name), site))
    return tuple(looks)


_BUSINESS_OPTIONAL = (
    "postalCode",
    "websites",
    "phones",
    "hours",
    "features",
    "primaryCategories",
    "sourceURLs",
)


def _business(rng: random.Random, ctx: _Context, record_id: str, index: int) -> Record:
    bits, rnd = rng.getrandbits, rng.random
    pools = ctx.pools
    look = ctx.business_looks[bits(14)]
    kind = look.kind
    city, address, postal_code = _location(bits, pools)
    if look.name_tail is None:
        name, slug = look.name_head, look.slug_head
    else:
        name = look.name_head + city.name + look.name_tail
        slug = look.slug_head + city.slug + look.slug_tail
    lat, lon = _coordinates(bits, city)
    added, updated = _date_range(bits)
    website = look.site + "/" + slug if look.site else "https://www." + slug.replace("-", "")[:30] + ".com"
    sources = ["https://www.yelp.com/biz/" + slug + "-" + city.slug]
    if rnd() < 0.6:
        sources.append(f"https://www.yellowpages.com/{city.slug}-{city.state.lower()}/mip/{slug}-{index}")
    if kind.topic == "hotel" and rnd() < 0.7:
        sources.append(f"https://www.tripadvisor.com/Hotel_Review-d{1_000_000 + index}-{slug}.html")
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
        "phones": [_phone(bits, city)],
        "dateAdded": _DAY_PREFIX[added] + _TIMES[bits(12)],
        "dateUpdated": _DAY_PREFIX[updated] + _TIMES[bits(12)],
        "sourceURLs": sources,
    }
    reviews = _reviews(bits, pools, kind.topic, added, updated)
    if reviews:  # Datafiniti leaves a list out rather than sending it empty
        record["reviews"] = reviews
    hours = kind.hours
    record["hours"] = [{"day": day, "hour": hour} for day, hour in hours[bits(4) % len(hours)]]
    record["features"] = _features(bits, kind.features)
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
    price_low: int  # whole dollars; prices end in .99
    price_high: int


def _product_kind(primary: str, categories: str, extras: str, nouns: str, adjectives: str, brands: str,
                  variants: str, low: int, high: int) -> _ProductKind:  # fmt: skip
    return _ProductKind(
        primary,
        _split(categories),
        _split(extras),
        _split(nouns),
        _split(adjectives),
        _split(brands),
        _split(variants),
        low,
        high,
    )


_PRODUCT_KINDS = (
    _product_kind(
        "Electronics",
        "Electronics | Audio | Headphones",
        "Over-Ear Headphones | Wireless Headphones | Earbuds | Bluetooth Headphones | Noise Cancelling"
        " Headphones",
        "Headphones | Earbuds | Over-Ear Headphones | True Wireless Earbuds | Bluetooth Speaker",
        "Wireless | Bluetooth | Noise Cancelling | Sport | Studio | Portable",
        "Sony | Bose | JBL | Beats | Sennheiser | Skullcandy | Audio-Technica | Anker",
        "Black | White | Silver | Navy Blue | Rose Gold",
        19,
        399,
    ),
    _product_kind(
        "Electronics",
        "Electronics | TV & Video | Televisions",
        "4K TVs | Smart TVs | OLED TVs | LED TVs",
        "4K UHD Smart TV | OLED TV | LED HDTV | QLED Smart TV",
        '43" | 50" | 55" | 65" | 75"',
        "Samsung | LG | Sony | TCL | Vizio | Hisense",
        "2022 Model | 2023 Model | 2024 Model",
        199,
        2499,
    ),
    _product_kind(
        "Electronics",
        "Electronics | Computers | Laptops",
        "Traditional Laptops | 2-in-1 Laptops | Gaming Laptops | Chromebooks",
        "Laptop | Chromebook | 2-in-1 Laptop | Gaming Laptop",
        '13.3" | 14" | 15.6" | 17.3"',
        "Dell | HP | Lenovo | Asus | Acer | Apple | Microsoft",
        "8GB RAM, 256GB SSD | 16GB RAM, 512GB SSD | 32GB RAM, 1TB SSD",
        249,
        2499,
    ),
    _product_kind(
        "Electronics",
        "Electronics | Computers | Computer Accessories",
        "Mice | Keyboards | USB Hubs | Webcams | External Drives",
        "Wireless Mouse | Mechanical Keyboard | USB-C Hub | HD Webcam | Portable SSD",
        "Ergonomic | Compact | RGB | Slim | Pro",
        "Logitech | Corsair | Razer | Anker | SanDisk | Samsung",
        "Black | Graphite | White | 1TB | 2TB",
        14,
        199,
    ),
    _product_kind(
        "Home & Kitchen",
        "Home & Kitchen | Kitchen & Dining | Small Appliances",
        "Coffee Makers | Blenders | Air Fryers | Mixers | Toasters | Electric Kettles",
        "Coffee Maker | Blender | Air Fryer | Stand Mixer | Toaster | Electric Kettle | Slow Cooker",
        "12-Cup Programmable | Digital | Stainless Steel | 5.8-Quart | Compact | 4-Slice",
        "KitchenAid | Cuisinart | Hamilton Beach | Ninja | Instant Pot | Keurig | Breville | Oster",
        "Black | Stainless Steel | Empire Red | White",
        19,
        449,
    ),
    _product_kind(
        "Home & Kitchen",
        "Home & Kitchen | Bedding",
        "Sheets & Pillowcases | Comforters | Bed Pillows | Bath Towels | Blankets",
        "Sheet Set | Comforter | Bed Pillow | Bath Towel Set | Throw Blanket",
        "Queen | King | Full | Twin | 100% Cotton | Microfiber",
        "Mainstays | Better Homes & Gardens | Threshold | Amazon Basics | Pinzon",
        "White | Gray | Navy | Sage | Ivory",
        12,
        149,
    ),
    _product_kind(
        "Health & Beauty",
        "Health & Beauty | Personal Care",
        "Hair Care | Shampoo | Skin Care | Body Wash | Sun Care",
        "Shampoo | Conditioner | Body Wash | Moisturizing Lotion | Facial Cleanser | Sunscreen SPF 50",
        "Daily | Hydrating | Sensitive Skin | Fragrance Free | Ultra Sheer",
        "Dove | Neutrogena | Olay | Pantene | CeraVe | Aveeno | L'Oreal Paris | Head & Shoulders",
        "12 fl oz | 16.9 fl oz | Pack of 2 | 8 oz",
        3,
        39,
    ),
    _product_kind(
        "Health & Beauty",
        "Health & Beauty | Vitamins & Supplements",
        "Multivitamins | Vitamin D | Fish Oil & Omega | Probiotics | Vitamin C",
        "Multivitamin Gummies | Vitamin D3 Softgels | Fish Oil | Probiotic Capsules | Vitamin C Tablets",
        "Adult | Women's | Men's | Extra Strength | Daily",
        "Nature Made | Centrum | Vitafusion | Garden of Life | One A Day",
        "60 Count | 120 Count | 200 Count",
        5,
        34,
    ),
    _product_kind(
        "Toys & Games",
        "Toys & Games | Toys",
        "Building Toys | Action Figures | Board Games | Stuffed Animals | Puzzles | Remote Control Toys",
        "Building Set | Action Figure | Board Game | Plush Toy | Jigsaw Puzzle | Remote Control Car",
        "Classic | Deluxe | Starter | Collector's | Family",
        "LEGO | Hasbro | Mattel | Fisher-Price | Melissa & Doug | Nerf | Hot Wheels",
        "Ages 3+ | Ages 8+ | 1000 Pieces | Ages 6+",
        7,
        129,
    ),
    _product_kind(
        "Sports & Outdoors",
        "Sports & Outdoors | Exercise & Fitness",
        "Yoga | Strength Training | Camping & Hiking | Water Bottles | Running",
        "Yoga Mat | Adjustable Dumbbells | Camping Tent | Insulated Water Bottle | Running Shoes",
        "Non-Slip | Lightweight | 4-Person | 32 oz | Men's | Women's",
        "Nike | Adidas | Under Armour | Coleman | Hydro Flask | Bowflex | Gaiam",
        "Black | Blue | Olive | Size 9 | Size 10",
        9,
        349,
    ),
    _product_kind(
        "Grocery",
        "Grocery & Gourmet Food | Snack Foods",
        "Chips | Granola Bars | Coffee | Nuts | Tea",
        "Potato Chips | Granola Bars | Ground Coffee | K-Cup Pods | Mixed Nuts | Green Tea",
        "Classic | Family Size | Medium Roast | Lightly Salted | Organic",
        "Lay's | Nature Valley | Folgers | Starbucks | Planters | KIND | Lipton",
        "Pack of 6 | 12 oz | 24 Count | Party Size",
        2,
        29,
    ),
    _product_kind(
        "Pet Supplies",
        "Pet Supplies | Dogs & Cats",
        "Dog Food | Cat Litter | Dog Toys | Cat Treats | Pet Beds",
        "Dry Dog Food | Clumping Cat Litter | Dog Chew Toy | Cat Treats | Orthopedic Pet Bed",
        "Adult | Grain Free | Chicken & Rice | Large Breed | Indoor",
        "Purina | Blue Buffalo | Pedigree | KONG | Tidy Cats | Greenies",
        "5 lb | 15 lb | 30 lb | Large | Medium",
        4,
        79,
    ),
    _product_kind(
        "Office Products",
        "Office Products | Office Supplies",
        "Pens | Paper | Sticky Notes | Desk Accessories | Printers",
        "Ballpoint Pens | Printer Paper | Sticky Notes | Desk Organizer | Inkjet Printer",
        "Assorted Colors | 8.5 x 11 | Mesh | Wireless All-in-One | Fine Point",
        "BIC | Post-it | Sharpie | HP | Epson | Canon | Staples",
        "12 Pack | 500 Sheets | 24 Pads | Black",
        2,
        299,
    ),
    _product_kind(
        "Baby Products",
        "Baby Products | Baby Care",
        "Diapers | Baby Wipes | Feeding | Car Seats | Strollers",
        "Diapers | Baby Wipes | Baby Bottle | Convertible Car Seat | Lightweight Stroller",
        "Size 3 | Newborn | Sensitive | Anti-Colic | Travel",
        "Pampers | Huggies | Graco | Chicco | Dr. Brown's",
        "Pack of 3 | Mega Pack | Gray | Black",
        8,
        349,
    ),
)
_MANUFACTURERS = dict(
    (brand, owner)
    for owner, brands in (
        ("Apple Inc.", "Beats"),
        ("Procter & Gamble", "Pantene | Head & Shoulders | Olay | Pampers"),
        ("Unilever", "Dove | Lipton"),
        ("Johnson & Johnson", "Neutrogena | Aveeno"),
        ("PepsiCo", "Lay's"),
        ("General Mills", "Nature Valley"),
        ("Mattel", "Hot Wheels | Fisher-Price"),
        ("Hasbro", "Nerf"),
        ("Nestle Purina PetCare", "Purina | Tidy Cats"),
        ("Mars Petcare", "Greenies | Pedigree"),
        ("Kimberly-Clark", "Huggies"),
        ("3M", "Post-it"),
        ("Newell Brands", "Sharpie | Graco"),
        ("Hormel Foods", "Planters"),
        ("Haleon", "Centrum"),
        ("Whirlpool Corporation", "KitchenAid"),
        ("Target Corporation", "Threshold"),
        ("Walmart Inc.", "Mainstays | Better Homes & Gardens"),
        ("Amazon.com", "Amazon Basics"),
        ("L'Oreal", "CeraVe | L'Oreal Paris"),
        ("Church & Dwight", "Vitafusion"),
    )
    for brand in _split(brands)
)
_MERCHANTS = _table(
    [
        ("Amazon.com", 8),
        ("Walmart.com", 6),
        ("Target", 4),
        ("Bestbuy.com", 3),
        ("eBay", 3),
        ("Costco", 1),
        ("Kohl's", 1),
        ("Newegg.com", 1),
        ("Macy's", 1),
    ],
    6,
)
_CONDITIONS = _table([("New", 17), ("Used", 2), ("Refurbished", 1)], 5)
_PRICE_FACTORS = _uniform(range(85, 117), 5)  # percent of the product's base price, per merchant


def _upc_digit_sums(digits: int, offset: int) -> tuple[tuple[str, int], ...]:
    """For every ``digits``-digit number at ``offset`` in a UPC-A body: (text, its checksum share),
    so the check digit of a generated UPC is two look-ups and a sum."""
    out = []
    for n in range(10**digits):
        text = f"{n:0{digits}d}"
        out.append((text, sum(int(d) * (3 if (offset + k) % 2 == 0 else 1) for k, d in enumerate(text))))
    return tuple(out)


_PRODUCT_CATEGORIES = {
    kind: _uniform([(*kind.categories, *run) for run in _runs(kind.extra_categories, 1, 2)], 4)
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


@lru_cache(maxsize=4)
def _product_looks(seed: int) -> tuple[_ProductLook, ...]:
    rng = random.Random(seed + 2)
    looks = []
    for _ in range(8192):
        kind = rng.choice(_PRODUCT_KINDS)
        brand = rng.choice(kind.brands)
        name = f"{brand} {rng.choice(kind.adjectives)} {rng.choice(kind.nouns)}, {rng.choice(kind.variants)}"
        # Derived from the brand's name, so every product of a brand has the same UPC company prefix.
        company = f"{sum(map(ord, brand)) * 7919 % 900_000 + 10_000:06d}"
        share = sum(int(d) * (3 if k % 2 == 0 else 1) for k, d in enumerate(company))
        price = kind.price_low + int((kind.price_high - kind.price_low) * rng.random() ** 2)
        manufacturer = _MANUFACTURERS.get(brand, brand)
        looks.append(
            _ProductLook(
                kind,
                _PRODUCT_CATEGORIES[kind],
                name,
                _slug(name),
                brand,
                manufacturer,
                (company, share),
                price,
            )
        )
    return tuple(looks)


_PRODUCT_OPTIONAL = ("manufacturer", "ean", "upc", "imageURLs", "primaryCategories")


def _product(rng: random.Random, ctx: _Context, record_id: str, index: int) -> Record:
    bits, rnd = rng.getrandbits, rng.random
    look = ctx.product_looks[bits(13)]
    slug = look.slug
    company, company_share = look.upc_company
    high, high_share = _UPC_HIGH[index // 100 % 1000]
    low, low_share = _UPC_LOW[index % 100]
    upc = company + high + low + str(-(company_share + high_share + low_share) % 10)
    added, updated = _date_range(bits)
    code = record_id[8:]  # image and listing codes: unique and stable, like the id
    sources = ["https://www.amazon.com/dp/B0" + code[4:].upper()]
    if rnd() < 0.6:
        sources.append(f"https://www.walmart.com/ip/{slug}/{100_000_000 + index}")
    if rnd() < 0.3:
        sources.append(f"https://www.target.com/p/{slug}/-/A-{10_000_000 + index}")
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
                "dateSeen": _DAY_PREFIX[_day_between(bits, added, updated)] + _TIMES[bits(12)],
            }
        )
    record: Record = {
        "id": record_id,
        "name": look.name,
        "brand": look.brand,
        "manufacturer": look.manufacturer,
        "categories": list(look.categories[bits(4)]),
        "primaryCategories": [look.kind.primary],
        "upc": [upc],
        "ean": ["0" + upc],  # a UPC-A is the EAN-13 with a leading zero
        "imageURLs": images,
        "dateAdded": _DAY_PREFIX[added] + _TIMES[bits(12)],
        "dateUpdated": _DAY_PREFIX[updated] + _TIMES[bits(12)],
        "sourceURLs": sources,
        "prices": prices,
    }
    reviews = _reviews(bits, ctx.pools, "product", added, updated)
    if reviews:
        record["reviews"] = reviews
    _omit_one(rnd, record, _PRODUCT_OPTIONAL)
    return record


# --------------------------------------------------------------------------------------------------
# Properties

_PROPERTY_TYPES = _table(
    [
        ("Single Family Dwelling", 55),
        ("Condominium", 15),
        ("Townhouse", 10),
        ("Multi-Family Dwelling", 8),
        ("Apartment", 6),
        ("Land", 4),
        ("Mobile Home", 2),
    ],
    7,
)
# Whole status histories, oldest first, so a sequence always makes sense (never "Sold" then "Rented").
_HISTORIES: tuple[tuple[str, ...], ...] = _table(
    [
        (("For Sale",), 14),
        (("Sold", "For Sale"), 5),
        (("Off Market", "For Sale"), 3),
        (("For Sale", "Sold"), 10),
        (("For Sale", "Pending", "Sold"), 10),
        (("Sold", "For Sale", "Pending", "Sold"), 4),
        (("Sold",), 4),
        (("For Sale", "Pending"), 8),
        (("For Rent",), 10),
        (("Rented", "For Rent"), 5),
        (("For Rent", "Rented"), 5),
        (("For Sale", "Off Market"), 8),
        (("Sold", "Off Market"), 4),
    ],
    7,
)
_RENTAL_HISTORIES: tuple[tuple[str, ...], ...] = _uniform(
    [("For Rent",), ("Rented", "For Rent"), ("For Rent", "Rented")], 2
)
_SMALL_TYPES = frozenset({"Condominium", "Apartment", "Mobile Home"})
_SALE_STATUSES = frozenset({"For Sale", "Sold", "Pending"})
_RENT_STATUSES = frozenset({"For Rent", "Rented"})
_BEDROOMS = _table([(0, 2), (1, 10), (2, 20), (3, 35), (4, 22), (5, 8), (6, 3)], 7)
_BATHROOM_STEPS = (-1.5, -1.0, -1.0, -0.5, -0.5, 0.0, 0.0, 0.5)  # added to the bedrooms, at least 1
_PERCENT_SPREAD = _uniform(range(70, 131), 6)  # a property's price relative to its city's level
_PROPERTY_FEATURES = (
    _feature("Parking", "Garage - Attached | Garage - Detached | Driveway | Carport | Street", 1, 2),
    _feature("Heating", "Forced Air | Heat Pump | Radiant | Baseboard | Gas"),
    _feature("Cooling", "Central Air | Central Air | Window Unit | Ceiling Fans | Evaporative Cooler"),
    _feature(
        "Appliances", "Dishwasher | Refrigerator | Range / Oven | Microwave | Washer | Dryer | Disposal", 2, 6
    ),
    _feature("Flooring", "Hardwood | Carpet | Tile | Laminate | Vinyl", 1, 3),
    _feature("Exterior", "Brick | Vinyl Siding | Stucco | Wood | Stone"),
)
_LOT_SIZES = _uniform([f"{0.08 + (n / 64) ** 2 * 2:.2f} acres" for n in range(64)], 6)
_PROPERTY_OPTIONAL = ("postalCode", "yearBuilt", "floorSizeValue", "features", "numBathroom")


def _property(rng: random.Random, ctx: _Context, record_id: str, index: int) -> Record:
    bits, rnd = rng.getrandbits, rng.random
    ptype = _PROPERTY_TYPES[bits(7)]
    city, address, postal_code = _location(bits, ctx.pools)
    if ptype == "Condominium" or ptype == "Apartment":
        address = f"{address} {'Unit' if rnd() < 0.5 else 'Apt'} {1 + bits(5)}"
    lat, lon = _coordinates(bits, city)
    added, updated = _date_range(bits)
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
    for n, status in enumerate(history):
        # A day inside the n-th of len(history) equal slices of the record's life, so dates ascend.
        day = added + 1 + n * step + bits(16) % step
        when = _DAY_PREFIX[day] + _TIMES[bits(12)]
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
    if not is_land:  # land has no rooms; leaving them out is what the real data does
        record["numBedroom"] = bedrooms
        record["numBathroom"] = max(1.0, bedrooms + _BATHROOM_STEPS[bits(3)])
        record["floorSizeValue"] = floor
        record["yearBuilt"] = 2024 - (bits(7) * bits(7) >> 7)  # mostly recent, some over a century old
    record["dateAdded"] = _DAY_PREFIX[added] + _TIMES[bits(12)]
    record["dateUpdated"] = _DAY_PREFIX[updated] + _TIMES[bits(12)]
    record["prices"] = prices
    record["statuses"] = statuses
    features = [] if is_land else _features(bits, _PROPERTY_FEATURES)
    features.append({"key": "Lot Size", "value": [_LOT_SIZES[bits(6)]]})
    record["features"] = features
    _omit_one(rnd, record, _PROPERTY_OPTIONAL)
    return record


# --------------------------------------------------------------------------------------------------
# People

_JOB_FUNCTIONS = {
    # function → (C-level title, noun in "VP of …", individual contributors' titles)
    "Engineering": (
        "Chief Technology Officer",
        "Engineering",
        "Software Engineer | Senior Software Engineer | QA Engineer | DevOps Engineer | Data Engineer",
    ),
    "Sales": (
        "Chief Revenue Officer",
        "Sales",
        "Account Executive | Sales Development Representative | Account Manager | Sales Representative",
    ),
    "Marketing": (
        "Chief Marketing Officer",
        "Marketing",
        "Marketing Specialist | Content Writer | SEO Specialist | Brand Strategist",
    ),
    "Finance": ("Chief Financial Officer", "Finance", "Accountant | Financial Analyst | Payroll Specialist"),
    "Human Resources": (
        "Chief People Officer",
        "Human Resources",
        "Recruiter | HR Generalist | Talent Acquisition Specialist | Benefits Coordinator",
    ),
    "Operations": (
        "Chief Operating Officer",
        "Operations",
        "Operations Analyst | Logistics Coordinator | Project Coordinator | Office Administrator",
    ),
    "Information Technology": (
        "Chief Information Officer",
        "Information Technology",
        "Systems Administrator | Help Desk Technician | Network Engineer | IT Support Specialist",
    ),
    "Legal": ("Chief Legal Officer", "Legal", "Paralegal | Corporate Counsel | Contracts Specialist"),
    "Customer Service": (
        "Chief Customer Officer",
        "Customer Success",
        "Customer Service Representative | Customer Success Associate | Support Specialist",
    ),
}
_LEVEL_WEIGHTS = {"Non-Manager": 55, "Manager": 25, "Director": 12, "VP": 6, "C-Level": 2}


def _job_titles(level: str, chief: str, noun: str, staff: str) -> tuple[str, ...]:
    return {
        "C-Level": (chief,),
        "VP": (f"VP of {noun}", f"Vice President of {noun}", f"Senior Vice President, {noun}"),
        "Director": (f"Director of {noun}", f"Senior Director, {noun}"),
        "Manager": (f"{noun} Manager", f"Senior {noun} Manager"),
        "Non-Manager": _split(staff),
    }[level]


def _job_table() -> tuple[tuple[str, str, str], ...]:
    """(jobTitle, jobFunction, jobLevel) weighted by level, so a person's job is one look-up."""
    jobs: list[tuple[tuple[str, str, str], int]] = []
    for function, (chief, noun, staff) in _JOB_FUNCTIONS.items():
        for level, level_weight in _LEVEL_WEIGHTS.items():
            titles = _job_titles(level, chief, noun, staff)
            jobs.extend(
                ((title, function, level), max(1, level_weight * 12 // len(titles))) for title in titles
            )
    return _table(jobs, 11)


_JOBS = _job_table()
_EMAIL_DOMAINS = _table(
    [
        ("gmail.com", 10),
        ("yahoo.com", 4),
        ("outlook.com", 3),
        ("hotmail.com", 2),
        ("icloud.com", 2),
        ("aol.com", 1),
    ],
    5,
)
_BIRTH_YEARS = tuple(str(year) for year in range(1952, 1952 + 64))
_PEOPLE_OPTIONAL = ("phones", "address", "postalCode", "jobTitle", "businessName", "emails")


def _person(rng: random.Random, ctx: _Context, record_id: str, index: int) -> Record:
    bits, rnd = rng.getrandbits, rng.random
    pools = ctx.pools
    person = pools.people[bits(12)]
    city, address, postal_code = _location(bits, pools)
    company, domain = pools.companies[bits(8)]
    title, function, level = _JOBS[bits(11)]
    first, last = person.first_handle, person.last_handle
    style = rnd()
    if style < 0.4:
        personal = first + "." + last
    elif style < 0.7:
        personal = first + last + str(bits(7))
    else:
        personal = first[:1] + last + _BIRTH_YEARS[bits(6)]
    emails = [personal + "@" + _EMAIL_DOMAINS[bits(5)]]
    if rnd() < 0.6:
        emails.insert(0, first[:1] + last + "@" + domain)
    phones = [_phone(bits, city)]
    if rnd() < 0.25:
        phones.append(_phone(bits, city))
    added, updated = _date_range(bits)
    record: Record = {
        "id": record_id,
        "firstName": person.first,
        "lastName": person.last,
        "emails": emails,
        "phones": phones,
        "address": address,
        "city": city.name,
        "province": city.state,
        "postalCode": postal_code,
        "country": "US",
        "jobTitle": title,
        "jobFunction": function,
        "jobLevel": level,
        "businessName": company,
        "dateAdded": _DAY_PREFIX[added] + _TIMES[bits(12)],
        "dateUpdated": _DAY_PREFIX[updated] + _TIMES[bits(12)],
    }
    _omit_one(rnd, record, _PEOPLE_OPTIONAL)
    return record


# --------------------------------------------------------------------------------------------------
# Public API


@dataclass(frozen=True)
class _Context:
    """What the records of one (data type, seed) are composed from; built once per dataset."""

    pools: _Pools
    business_looks: tuple[_BusinessLook, ...] = ()
    product_looks: tuple[_ProductLook, ...] = ()


def _context(data_type: str, seed: int) -> _Context:
    if data_type == "businesses":
        return _Context(_pools(seed), business_looks=_business_looks(seed))
    if data_type == "products":
        return _Context(_pools(seed), product_looks=_product_looks(seed))
    return _Context(_pools(seed))


_Maker = Callable[[random.Random, _Context, str, int], Record]
_MAKERS: dict[str, tuple[int, _Maker]] = {  # data type → (salt, record maker)
    "businesses": (1, _business),
    "products": (2, _product),
    "properties": (3, _property),
    "people": (4, _person),
}


def generate_records(data_type: str, count: int, seed: int = 0) -> Iterator[dict[str, object]]:
    """Yield ``count`` demo records of ``data_type``; the same arguments always yield the same records."""
    _check_arguments(data_type, count)
    return _generate(data_type, seed, 0, count)


def write_jsonl(path: Path, data_type: str, count: int, seed: int = 0, *, workers: int | None = None) -> int:
    """Write ``count`` demo records to ``path`` as JSON Lines (orjson, one record per line).

    Returns the number of records written. ``workers`` processes share the work: by default one per
    CPU (at most 4) from ``_PARALLEL_FROM`` records on. The file is the same whatever their number.
    """
    _check_arguments(data_type, count)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if count >= _PARALLEL_FROM else 1
    ranges = _split_range(count, max(1, workers))
    parts = [path.with_name(f".{path.name}.part{n}") for n in range(1, len(ranges))]
    children = [
        _start_writer(part, data_type, seed, *bounds) for part, bounds in zip(parts, ranges[1:], strict=True)
    ]
    try:
        written = _write_range(path, data_type, seed, *ranges[0])
        for child, part, (start, stop) in zip(children, parts, ranges[1:], strict=True):
            _, stderr = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"demo data writer for records {start}-{stop} failed: {stderr.decode()}")
            _append(path, part)
            written += stop - start
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for part in parts:
            part.unlink(missing_ok=True)
    return written


# Below this many records a worker process costs more (about a second to import Faker and build the
# pools) than it saves.
_PARALLEL_FROM = 200_000


def _check_arguments(data_type: str, count: int) -> None:
    if data_type not in _MAKERS:
        raise ValueError(f"unknown data type {data_type!r}; expected one of {', '.join(_MAKERS)}")
    if count < 0:
        raise ValueError("count must not be negative")


def _generate(data_type: str, seed: int, start: int, stop: int) -> Iterator[Record]:
    """Records ``start`` to ``stop``; ``start`` must begin a block, the unit of random streams."""
    if start % _BLOCK:
        raise ValueError(f"start {start} is not a multiple of {_BLOCK}")
    type_salt, make = _MAKERS[data_type]
    seed64 = seed & _M64
    id_salt = _mix64(seed64 * 8 + type_salt)
    ctx = _context(data_type, seed64)
    rng = random.Random()
    for index in range(start, stop):
        if index % _BLOCK == 0:
            # Random(int) is seeded by every bit of the int, so this key is unique per (seed, type, block).
            rng.seed((seed64 << 80) | (type_salt << 64) | (index // _BLOCK))
        yield make(rng, ctx, _record_id(index, id_salt), index)


def _split_range(count: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous ranges of whole blocks, one per worker (fewer if there are fewer blocks)."""
    blocks = -(-count // _BLOCK)
    per_worker = max(1, -(-blocks // workers)) * _BLOCK
    return [(start, min(count, start + per_worker)) for start in range(0, count, per_worker)] or [(0, 0)]


def _write_range(path: Path, data_type: str, seed: int, start: int, stop: int) -> int:
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    # One buffered write per record: batching lines into big joined chunks costs more, because every
    # multi-megabyte chunk is a fresh allocation the kernel has to fault in.
    with path.open("wb", buffering=1 << 16) as out:
        write = out.write
        for record in _generate(data_type, seed, start, stop):
            write(dumps(record, option=option))
    return stop - start


def _append(path: Path, part: Path) -> None:
    with path.open("r+b") as out, part.open("rb") as records:
        out.seek(0, os.SEEK_END)
        size, copied = os.fstat(records.fileno()).st_size, 0
        try:
            # In the kernel: a gigabyte of records appends in well under a second, twice as fast as
            # copying it through Python.
            while copied < size:
                step = os.copy_file_range(records.fileno(), out.fileno(), size - copied)
                if step == 0:
                    break
                copied += step
        except (AttributeError, OSError):  # not Linux, or a file system that refuses: copy by hand
            records.seek(copied)
            out.seek(0, os.SEEK_END)
            shutil.copyfileobj(records, out, 1 << 20)


def _start_writer(part: Path, data_type: str, seed: int, start: int, stop: int) -> subprocess.Popen[bytes]:
    # A fresh interpreter rather than multiprocessing: it never re-imports the caller's __main__
    # module (which spawn does) and is safe to start from a threaded server (which fork is not).
    code = "import sys; from dlserve.records.demo import _writer_main; _writer_main(sys.argv[1:])"
    argv = [sys.executable, "-c", code, str(part), data_type, str(seed), str(start), str(stop)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603


def _writer_main(argv: list[str]) -> None:
    part, data_type, seed, start, stop = argv
    # Records hold no reference cycles, and this process does nothing else: the collector only costs time.
    gc.disable()
    _write_range(Path(part), data_type, int(seed), int(start), int(stop))
