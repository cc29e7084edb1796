"""The Lucene-style query language of the Data API, compiled to parameterised DuckDB SQL.

Pipeline, one module per step: :mod:`.rewrite` (hide what luqum cannot read behind placeholders)
→ luqum → :mod:`.parse` and :mod:`.leaves` (check against the schema, build a :mod:`.nodes` tree)
→ :mod:`.compile` (SQL).
"""

from dlserve.query.compile import CompiledQuery, compile_query

__all__ = ["CompiledQuery", "compile_query"]
