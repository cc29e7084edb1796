"""Field lists per data type for the renderer-agreement tests: reordered scalars, and dotted
sub-fields of one nested list (out of order, between parent fields) beside another list whole."""

from __future__ import annotations

from dlserve.records.field_lists import field_list
from dlserve.records.schema import DataTypeSchema, Kind
from dlserve.records.views import View


def sample_field_lists(schema: DataTypeSchema) -> list[View]:
    scalars = [f.name for f in schema.fields if f.kind not in (Kind.NESTED, Kind.GEO) and f.name != "id"]
    nested = [f for f in schema.fields if f.kind is Kind.NESTED]
    lists = [[*reversed(scalars[:6]), "id"]]
    if nested:
        first, others = nested[0], nested[1:2]
        children = [c.name for c in first.children]
        lists.append(
            [
                f"{first.name}.{children[-1]}",
                scalars[0],
                "id",
                *(f"{first.name}.{c}" for c in children[:-1][:2]),
                *(n.name for n in others),
            ]
        )
    return [field_list(schema.name, names) for names in lists]
