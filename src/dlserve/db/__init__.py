"""The relational database: schema (:mod:`.tables`), engine (:mod:`.engine`), migrations (:mod:`.migrate`)."""

from dlserve.db.engine import Database, is_postgres

__all__ = ["Database", "is_postgres"]
