"""The "Fields of each data type" section of docs/query-language.md, generated from the schemas.

Run ``python -m dlserve.records.field_docs`` after changing :mod:`dlserve.records.schema`; a unit
test fails while the doc and the schemas disagree.
"""

from __future__ import annotations

from pathlib import Path

from dlserve.records.schema import SCHEMAS, FieldSpec, Kind

DOC = Path(__file__).resolve().parents[3] / "docs" / "query-language.md"
START, END = "<!-- fields:start (generated: python -m dlserve.records.field_docs) -->", "<!-- fields:end -->"
_KIND_NAMES = {
    Kind.KEYWORD: "keyword",
    Kind.TEXT: "text",
    Kind.NUMBER: "number",
    Kind.DATE: "date",
    Kind.BOOL: "bool",
    Kind.KEYWORD_LIST: "keyword list",
    Kind.TEXT_LIST: "text list",
    Kind.NESTED: "nested list",
}


def _describe(spec: FieldSpec) -> str:
    if spec.kind is not Kind.NESTED:
        return f"`{spec.name}` {_KIND_NAMES[spec.kind]}"
    children = ", ".join(f"`{c.name}` {_KIND_NAMES[c.kind]}" for c in spec.children)
    return f"`{spec.name}` nested list of ({children})"


def field_section() -> str:
    lines = [START, "", "| type | fields (kind) |", "|---|---|"]
    for schema in SCHEMAS.values():
        described = [_describe(spec) for spec in schema.fields]
        if schema.has_geo:
            described.append("`geoLocation` geo (from `latitude`/`longitude`)")
        lines.append(f"| `{schema.name}` | {', '.join(described)} |")
    return "\n".join([*lines, "", END])


def updated_doc(text: str) -> str:
    head, found, rest = text.partition(START)
    if not found:
        raise ValueError(f"{DOC.name} has no {START!r} marker")
    _, found, tail = rest.partition(END)
    if not found:
        raise ValueError(f"{DOC.name} has no {END!r} marker")
    return head + field_section() + tail


def main() -> None:
    DOC.write_text(updated_doc(DOC.read_text("utf-8")), "utf-8")


if __name__ == "__main__":
    main()
