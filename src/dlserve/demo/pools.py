"""Pools built once per seed: Faker names and everything composed from them. Faker needs 50-250 µs
per value, so it only fills these; records then index them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

from dlserve.demo.places import STREET_BASES, STREET_SUFFIXES
from dlserve.demo.reviews import TOPICS, ReviewBody, compose_review
from dlserve.demo.tables import handle


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    first_handle: str  # lower-case letters only, for e-mail addresses
    last_handle: str


@dataclass(frozen=True)
class Pools:
    people: tuple[Person, ...]  # 2**12
    last_names: tuple[str, ...]  # 2**10
    addresses: tuple[str, ...]  # 2**12, "1234 Maple St"
    street_names: tuple[str, ...]  # 2**10, "Maple"
    companies: tuple[tuple[str, str], ...]  # 2**8, (name, domain)
    usernames: tuple[str, ...]  # 2**11
    reviews: dict[str, tuple[ReviewBody, ...]]  # topic → 2**11


@lru_cache(maxsize=4)
def pools(seed: int) -> Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    # Faker's name lists are frequency-weighted, so repeats are kept: Michael should be common.
    first = [fake.first_name() for _ in range(512)]
    last = [fake.last_name() for _ in range(1024)]
    people = tuple(
        Person(f, ln, handle(f), handle(ln))
        for f, ln in ((rng.choice(first), rng.choice(last)) for _ in range(4096))
    )
    street_names = tuple(
        rng.choice(STREET_BASES) if rng.random() < 0.6 else rng.choice(last) for _ in range(1024)
    )
    addresses = tuple(
        f"{1 + int(rng.random() ** 2 * 9900)} {rng.choice(street_names)} {rng.choice(STREET_SUFFIXES)}"
        for _ in range(4096)
    )
    companies = []
    for _ in range(256):
        name = fake.company()
        domain = handle(name.split(",")[0].lower().replace(" and ", ""))[:24] + ".com"
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
    reviews = {topic: tuple(compose_review(rng, topic) for _ in range(2048)) for topic in TOPICS}
    return Pools(people, tuple(last), addresses, street_names, tuple(companies), tuple(usernames), reviews)
