"""Reviews: sentences by topic and sentiment (``data/reviews.json``), composed into texts once per
seed, then drawn by records."""

from __future__ import annotations

import random

from dlserve.demo.dates import DAY_PREFIX, MIDNIGHT, REVIEW_LAGS, TIMES, day_between
from dlserve.demo.tables import Bits, Record, read_json, weighted

_DATA = read_json("reviews.json")
TOPICS: tuple[str, ...] = tuple(_DATA["sentences"])
_SENTENCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # topic → (positive, negative)
    topic: (tuple(s["positive"]), tuple(s["negative"])) for topic, s in _DATA["sentences"].items()
}
_NEUTRAL: tuple[str, ...] = tuple(_DATA["neutral"])
_TITLES = tuple(  # by sentiment: 0 negative (1-2 stars), 1 mixed (3), 2 positive (4-5)
    tuple(_DATA["titles"][sentiment]) for sentiment in ("negative", "mixed", "positive")
)
_RATINGS: tuple[int, ...] = weighted(_DATA["ratings"], 6)
_REVIEW_COUNTS: tuple[int, ...] = weighted(_DATA["review_counts"], 5)

ReviewBody = tuple[int, str, str]  # rating, text, title


def compose_review(rng: random.Random, topic: str) -> ReviewBody:
    rating = rng.choice(_RATINGS)
    sentiment = 0 if rating <= 2 else 1 if rating == 3 else 2
    positive, negative = _SENTENCES[topic]
    if sentiment == 1:
        parts = [rng.choice(positive), rng.choice(negative), rng.choice(_NEUTRAL)]
        rng.shuffle(parts)
    else:
        parts = rng.sample(positive if sentiment == 2 else negative, rng.randint(2, 4))
    return rating, " ".join(parts), rng.choice(_TITLES[sentiment])


def reviews(
    bits: Bits, bodies: tuple[ReviewBody, ...], usernames: tuple[str, ...], added: int, updated: int
) -> list[Record]:
    """0-5 reviews seen between ``added`` and ``updated``, from the seed's composed ``bodies``."""
    out: list[Record] = []
    for _ in range(_REVIEW_COUNTS[bits(5)]):
        rating, text, title = bodies[bits(11)]
        seen = day_between(bits, added, updated)
        written = seen - REVIEW_LAGS[bits(8)] % (seen + 1)  # never before the first day of the tables
        out.append(
            {
                "date": MIDNIGHT[written],
                "dateSeen": DAY_PREFIX[seen] + TIMES[bits(12)],
                "rating": rating,
                "text": text,
                "title": title,
                "username": usernames[bits(11)],
            }
        )
    return out
