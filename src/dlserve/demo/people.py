"""People: Faker names, addresses, e-mails that follow from the name and employer, and jobs whose
title, function and level agree (``data/people.json``)."""

from __future__ import annotations

import random
from functools import partial

from dlserve.demo.dates import DAY_PREFIX, TIMES, date_range
from dlserve.demo.places import location, phone
from dlserve.demo.pools import Pools, pools
from dlserve.demo.tables import Record, omit_one, read_json, weighted

SALT = 4

_DATA = read_json("people.json")


def _job_titles(level: str, chief: str, noun: str, staff: list[str]) -> tuple[str, ...]:
    return {
        "C-Level": (chief,),
        "VP": (f"VP of {noun}", f"Vice President of {noun}", f"Senior Vice President, {noun}"),
        "Director": (f"Director of {noun}", f"Senior Director, {noun}"),
        "Manager": (f"{noun} Manager", f"Senior {noun} Manager"),
        "Non-Manager": tuple(staff),
    }[level]


def _job_table() -> tuple[tuple[str, str, str], ...]:
    """(jobTitle, jobFunction, jobLevel) weighted by level, so a person's job is one look-up."""
    jobs: list[tuple[tuple[str, str, str], int]] = []
    for function, spec in _DATA["job_functions"].items():
        for level, level_weight in _DATA["level_weights"].items():
            titles = _job_titles(level, spec["chief"], spec["noun"], spec["staff"])
            jobs.extend(
                ((title, function, level), max(1, level_weight * 12 // len(titles))) for title in titles
            )
    return weighted(jobs, 11)


_JOBS = _job_table()
_EMAIL_DOMAINS: tuple[str, ...] = weighted(_DATA["email_domains"], 5)
_BIRTH_YEARS = tuple(str(year) for year in range(1952, 1952 + 64))
_OPTIONAL = ("phones", "address", "postalCode", "jobTitle", "businessName", "emails", "sourceURLs")


def maker(seed: int) -> partial[Record]:
    """``make(rng, record_id, index)`` for this seed's people."""
    return partial(_person, pools(seed))


def _person(names: Pools, rng: random.Random, record_id: str, index: int) -> Record:
    bits, rnd = rng.getrandbits, rng.random
    person = names.people[bits(12)]
    city, address, postal_code = location(bits, names.addresses)
    company, domain = names.companies[bits(8)]
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
    phones = [phone(bits, city)]
    if rnd() < 0.25:
        phones.append(phone(bits, city))
    added, updated = date_range(bits)
    record: Record = {
        "id": record_id,
        "name": person.first + " " + person.last,
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
        "dateAdded": DAY_PREFIX[added] + TIMES[bits(12)],
        "dateUpdated": DAY_PREFIX[updated] + TIMES[bits(12)],
        "sourceURLs": [f"https://www.linkedin.com/in/{first}-{last}-{record_id[-8:].lower()}"],
    }
    omit_one(rnd, record, _OPTIONAL)
    return record
