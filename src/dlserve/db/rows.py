"""Domain records from database rows: a dataclass's fields taken from the row's columns of the
same names, so a model and its table are not spelled out twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

Model = TypeVar("Model")


_ROW_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def _row_fields(cls: type[Any]) -> tuple[str, ...]:
    """The fields a row fills: every init field without a default (those with one are filled by
    the caller or left to their default). Computed once a class: some models are read per request."""
    names = _ROW_FIELDS.get(cls)
    if names is None:
        names = _ROW_FIELDS[cls] = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
    return names


def from_row(cls: type[Model], row: Mapping[Any, Any], **values: Any) -> Model:
    """``cls`` built from ``row``'s columns of the same names; ``values`` (converted columns such as
    enums, and fields the row does not hold) take precedence."""
    taken = {name: row[name] for name in _row_fields(cls) if name not in values}
    return cls(**taken, **values)
