"""Records of one data type, deterministic per seed, composable block by block.

Record ``i`` depends only on the seed and on the records before it in its block of ``BLOCK``, never
on ``count``: a small dataset is a prefix of a large one, and any run of whole blocks can be
generated alone (what :mod:`dlserve.demo.writer` splits between processes).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from dlserve.demo import businesses, people, products, properties
from dlserve.demo.ids import M64, mix64, record_id
from dlserve.demo.tables import Record
from dlserve.records.schema import SCHEMAS

# Re-seeding a Random costs ~5 µs, a quarter of a record's budget; one seeding per block keeps
# record i independent of count while making that cost negligible.
BLOCK = 256

Maker = Callable[[random.Random, str, int], Record]
# data type → (salt, maker(seed) → make(rng, record_id, index))
_TYPES: dict[str, tuple[int, Callable[[int], Maker]]] = {
    "businesses": (businesses.SALT, businesses.maker),
    "products": (products.SALT, products.maker),
    "properties": (properties.SALT, properties.maker),
    "people": (people.SALT, people.maker),
}


def generate_records(data_type: str, count: int, seed: int = 0) -> Iterator[dict[str, object]]:
    """Yield ``count`` demo records of ``data_type``; the same arguments always yield the same records."""
    check_arguments(data_type, count)
    return generate_range(data_type, seed, 0, count)


def check_arguments(data_type: str, count: int) -> None:
    if data_type not in _TYPES:
        raise ValueError(f"unknown data type {data_type!r}; expected one of {', '.join(_TYPES)}")
    if count < 0:
        raise ValueError("count must not be negative")


def generate_range(data_type: str, seed: int, start: int, stop: int) -> Iterator[Record]:
    """Records ``start`` to ``stop``; ``start`` must begin a block, the unit of random streams."""
    if start % BLOCK:
        raise ValueError(f"start {start} is not a multiple of {BLOCK}")
    type_salt, maker = _TYPES[data_type]
    seed64 = seed & M64
    id_salt = mix64(seed64 * 8 + type_salt)
    make = maker(seed64)
    field_order = [spec.name for spec in SCHEMAS[data_type].fields]
    rng = random.Random()
    for index in range(start, stop):
        if index % BLOCK == 0:
            # Random(int) is seeded by every bit of the int, so this key is unique per (seed, type, block).
            rng.seed((seed64 << 80) | (type_salt << 64) | (index // BLOCK))
        yield in_schema_order(make(rng, record_id(index, id_salt), index), field_order)


def in_schema_order(record: Record, field_order: list[str]) -> Record:
    """The record with its fields in schema order (others after them): the spelling the snapshot's
    typed columns rebuild byte for byte, so demo data takes the exporter's typed-column fast path."""
    ordered = {name: record[name] for name in field_order if name in record}
    if len(ordered) < len(record):
        ordered.update((name, value) for name, value in record.items() if name not in ordered)
    return ordered
