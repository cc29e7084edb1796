"""docs/query-language.md lists exactly the declared fields of every data type.

When this fails, regenerate the section: ``.venv/bin/python -m dlserve.records.field_docs``.
"""

from __future__ import annotations

from dlserve.records.field_docs import DOC, field_section, updated_doc


def test_the_doc_lists_the_current_fields() -> None:
    doc = DOC.read_text("utf-8")
    assert field_section() in doc, (
        "docs/query-language.md is out of date: run python -m dlserve.records.field_docs"
    )
    assert updated_doc(doc) == doc


def test_the_fields_the_datafiniti_sdk_queries_are_listed() -> None:
    section = field_section()
    people = next(line for line in section.splitlines() if line.startswith("| `people`"))
    properties = next(line for line in section.splitlines() if line.startswith("| `properties`"))
    assert "`name` text" in people
    assert "`mostRecentRentalStatus` keyword" in properties
