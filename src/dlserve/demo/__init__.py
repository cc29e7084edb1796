"""Realistic, deterministic demo datasets in the shape of Datafiniti's records.

Every field of each declared schema (:mod:`dlserve.records.schema`) is filled with plausible US
data: real cities with their state, ZIP range, area code and coordinates; business names and
categories that demo queries such as ``categories:hotels`` or ``name:hilton`` find; nested reviews,
prices, hours, statuses and features. The vocabularies are data files under ``data/``; one module
per data type composes records from them.

Two requirements shape the implementation:

- **Determinism.** The same ``(data_type, count, seed)`` always gives byte-identical output: nothing
  reads the clock, iterates a set or depends on ``hash()``. Record ``i`` depends only on the seed and
  on the records before it in its block, never on ``count``, so a small dataset is a prefix of a
  large one.
- **Speed** (a million businesses in seconds, not minutes). Faker needs 50-250 µs per value, so it
  only fills pools of names, once per seed (:mod:`~dlserve.demo.pools`). Records are then composed
  by indexing power-of-two tables with ``getrandbits`` (about a quarter of the cost of
  ``int(random() * n)``); dates, prices and coordinates are integer arithmetic or table look-ups,
  never ``strftime`` or ``round``. :func:`write_jsonl` splits a large dataset between processes.

Records may share the strings and tuples of those tables, but every dict and list in a record is
its own, so a caller can change a record without changing another.
"""

from dlserve.demo.generate import generate_records
from dlserve.demo.writer import write_jsonl

__all__ = ["generate_records", "write_jsonl"]
