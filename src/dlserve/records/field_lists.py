"""Field lists: ``view`` given as field names rather than a view's name.

A v4 body may send ``"view": ["id", "name", "reviews.rating"]``; any ``view`` string — v3's
``view=id,name,city``, v4's and the by-id route's — is read the same way:

1. a string that names a view (v4 or v3 spelling) is that view, so every existing name keeps its
   meaning;
2. any other string is a comma-separated field list (``name`` alone is a list of one field).

A field list becomes a :class:`~dlserve.records.views.View` that every renderer consumes as it
consumes a named view:

- JSON: the listed fields, in the list's order; a dotted name (``reviews.rating``) keeps the
  nesting, each element keeping only the listed sub-fields (``"reviews": [{"rating": 5}, …]``);
- CSV: one column per listed name, in the list's order. A nested field listed whole is one cell of
  JSON (as in ``*_all_nested``); dotted names flatten their list as ``*_flat_<nested>`` views do:
  one row per element, the ``reviews.rating`` column holding that element's rating, the other
  columns repeated. One CSV file flattens one list, so CSV takes dotted names of one nested
  field only.

Unknown names, duplicates, a field listed both whole and by sub-field, and lists past the limits
below are a 400 naming them. A download stores its field list as a JSON array in ``downloads.view``
(a view's name never starts with ``[``).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from dlserve.errors import ErrorDetail, Invalid
from dlserve.records.schema import SCHEMAS, DataTypeSchema, Kind
from dlserve.records.views import VIEWS, View, find_view, named_view

MAX_FIELDS = 64  # more names than any type's fields and sub-fields: a bound, never a nuisance
MAX_NAME_LENGTH = 64
MAX_TEXT_LENGTH = 4096  # a ``view`` string, before it is split

RequestedView = str | Sequence[str] | None


def resolve_view(data_type: str, requested: RequestedView) -> View:
    """The view a request asks for: a view's name, a field list (array or comma string), or None."""
    if requested is None or (isinstance(requested, str) and not requested.strip()):
        return find_view(data_type, None)
    if not isinstance(requested, str):
        return field_list(data_type, list(requested))
    if len(requested) > MAX_TEXT_LENGTH:
        raise Invalid(
            f"view is longer than {MAX_TEXT_LENGTH} characters",
            [ErrorDetail("view", f"at most {MAX_TEXT_LENGTH} characters")],
        )
    view = named_view(data_type, requested.strip())
    if view is not None:
        return view
    names = requested.split(",")
    single = names[0].strip()
    # One word that is no field was most likely meant as a view's name: say both.
    if len(names) == 1 and "." not in single and SCHEMAS[data_type].resolve(single) is None:
        raise _unknown_view(data_type, single)
    return field_list(data_type, names)


def field_list(data_type: str, names: Sequence[str]) -> View:
    """A view of exactly ``names`` (see the module docstring), or Invalid naming what is wrong."""
    schema = SCHEMAS[data_type]
    if not names:
        raise Invalid("A field list needs at least one field", [ErrorDetail("view", "no field listed")])
    if len(names) > MAX_FIELDS:
        raise Invalid(
            f"A field list has at most {MAX_FIELDS} fields; this one has {len(names)}",
            [ErrorDetail("view", f"at most {MAX_FIELDS} fields")],
        )
    cleaned = [name.strip() for name in names]
    _check_names(schema, cleaned)
    include: list[str] = []
    whole: set[str] = set()
    subs: dict[str, list[str]] = {}
    for name in cleaned:
        head, _, child = name.partition(".")
        if head not in include:
            include.append(head)
        if child:
            subs.setdefault(head, []).append(child)
        else:
            whole.add(head)
    overlap = [head for head in subs if head in whole]
    if overlap:
        raise Invalid(
            f"A field is listed both whole and by sub-field: {', '.join(overlap)}",
            [
                ErrorDetail(
                    "view",
                    f"'{head}' is listed whole and as {', '.join(f'{head}.{c}' for c in subs[head])}: "
                    "list one or the other",
                )
                for head in overlap
            ],
        )
    return View(
        name=",".join(cleaned),
        data_type=data_type,
        include=tuple(include),
        flatten=next(iter(subs), None),  # CSV only: the list whose elements make the rows
        paths=tuple(cleaned),
        sub_fields=tuple((head, tuple(children)) for head, children in subs.items()),
    )


def check_for_csv(view: View) -> None:
    """One CSV file flattens one nested list: a field list naming sub-fields of two is a 400."""
    if len(view.sub_fields) < 2:
        return
    heads = [head for head, _ in view.sub_fields]
    raise Invalid(
        f"A CSV file flattens one nested list; this field list names sub-fields of {', '.join(heads)}",
        [
            ErrorDetail(
                "view",
                f"in CSV, name sub-fields of one list only (here {heads[0]}) and list the others whole "
                f"({', '.join(heads[1:])}), or ask for JSON",
            )
        ],
    )


def _check_names(schema: DataTypeSchema, names: list[str]) -> None:
    problems: list[ErrorDetail] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for name in names:
        if not name:
            problems.append(ErrorDetail("view", "an empty field name (two commas in a row?)"))
        elif len(name) > MAX_NAME_LENGTH:
            problems.append(ErrorDetail("view", f"a field name is longer than {MAX_NAME_LENGTH} characters"))
        elif name in seen:
            problems.append(ErrorDetail("view", f"'{name}' is listed twice"))
        else:
            seen.add(name)
            resolved = schema.resolve(name)
            if resolved is None or resolved.kind is Kind.GEO:
                unknown.append(name)
    if unknown:
        fields = "field" if len(unknown) == 1 else "fields"
        raise Invalid(
            f"Unknown {fields} for {schema.name}: {', '.join(unknown)}",
            [ErrorDetail("view", _unknown_message(schema, name)) for name in unknown],
        )
    if problems:
        raise Invalid("Invalid field list: " + "; ".join(p.message for p in problems), problems)


def _unknown_message(schema: DataTypeSchema, name: str) -> str:
    if name == "geoLocation" and schema.has_geo:
        return "unknown field 'geoLocation': it is for queries only; list latitude and longitude"
    return f"unknown field '{name}' for {schema.name} (GET /v4/views lists every field)"


def _unknown_view(data_type: str, name: str) -> Invalid:
    known = ", ".join(sorted(VIEWS[data_type]))
    return Invalid(
        f"Unknown view '{name}' for {data_type} (nor is it a field)",
        [
            ErrorDetail(
                "view",
                f"'{name}' is neither a view ({known}) nor a field of {data_type}",
            )
        ],
    )


# -- the downloads row and the wire ---------------------------------------------------------------


def stored_view(view: View, requested: RequestedView) -> str | None:
    """What ``downloads.view`` keeps: a field list as a JSON array, a view's name as it was given."""
    if view.paths is not None:
        return orjson.dumps(list(view.paths)).decode()
    return requested if isinstance(requested, str) and requested.strip() else None


def stored_field_list(stored: str | None) -> list[str] | None:
    """The field list a stored ``view`` holds, or None when it names a view (or none)."""
    if not stored or not stored.startswith("["):
        return None
    names = orjson.loads(stored)
    return [str(name) for name in names]


def view_from_stored(data_type: str, stored: str | None) -> View:
    names = stored_field_list(stored)
    return field_list(data_type, names) if names is not None else find_view(data_type, stored)


def v4_view(stored: str | None) -> str | list[str] | None:
    """``view`` in a v4 download object: the name, or the field list as an array."""
    names = stored_field_list(stored)
    return names if names is not None else stored


def v3_view(stored: str | None, data_type: str) -> str:
    """``view`` in a v3 request object: always a string; a field list comma-separated, as sent."""
    names = stored_field_list(stored)
    if names is not None:
        return ",".join(names)
    return stored or f"{data_type}_all_nested"
