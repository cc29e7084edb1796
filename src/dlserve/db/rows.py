"""Domain records from database rows: a dataclass's fields taken from the row's columns of the
same names, so a model and its table are not spelled out twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

Model = TypeVar("Model")


_INIT_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def _init_fields(cls: type[Any]) -> tuple[str, ...]:
    """The fields ``cls(...)`` takes, computed once a class (some models are read per request)."""
    names = _INIT_FIELDS.get(cls)
    if names is None:
        names = _INIT_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return names


def from_row(cls: type[Model], row: Mapping[Any, Any], **values: Any) -> Model:
    """``cls`` built from ``row``'s columns of the same names (a field the row does not hold keeps
    its default); ``values`` (converted columns such as enums, and fields the row does not hold)
    take precedence."""
    taken = {name: row[name] for name in _init_fields(cls) if name not in values and name in row}
    return cls(**taken, **values)
