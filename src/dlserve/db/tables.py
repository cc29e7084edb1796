"""The relational schema: one SQLAlchemy Core ``MetaData`` shared by every domain.

The migrations in :mod:`dlserve.db.migrations` create exactly these tables; a test compares the two.
Timestamps are :class:`UtcDateTime`: aware UTC datetimes in and out, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so a later migration can drop or alter a constraint by name on
# both databases (SQLite batch mode needs the names too).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only accepts aware datetimes and always returns aware UTC.

    SQLite has no time zones: values are stored as naive UTC text (fixed width, so comparisons in
    SQL still order correctly) and come back marked as UTC. PostgreSQL returns ``timestamptz`` in the
    session time zone; it is normalised to UTC so both databases give the same objects.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column; use an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# ``sqlite_autoincrement=True`` on the tables below: without it SQLite may hand a deleted row's id to
# a new row, and ids are shown to users (download ids, request ids) and kept in logs.

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=True),
    Column("plan_id", String(32), nullable=False, server_default=text("'free'")),
    Column("created_at", UtcDateTime, nullable=False),
    # Signs the account's webhook deliveries (``whsec_`` + base64 of 32 random bytes); NULL until
    # first needed (dlserve.webhooks.secrets creates it lazily, rotation replaces it).
    Column("webhook_secret", String(64), nullable=True),
    sqlite_autoincrement=True,
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
    # sha256 hex of the token: tokens are 256-bit random, so a fast hash is enough (argon2 is for
    # low-entropy passwords) and lets us look a token up by its hash.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("token_prefix", String(12), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    # NULL: never expires (tokens issued before expiry existed, or with token_ttl_days = 0).
    Column("expires_at", UtcDateTime, nullable=True),
    sqlite_autoincrement=True,
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("data_type", String(32), nullable=False),
    Column("location", String(1024), nullable=False),
    Column("record_count", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

datasets = Table(
    "datasets",
    metadata,
    Column("data_type", String(32), primary_key=True),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

downloads = Table(
    "downloads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("data_type", String(32), nullable=False),
    Column("query", Text, nullable=False),
    Column("view", Text, nullable=True),  # a view's name, or a field list as a JSON array
    Column("format", String(8), nullable=False),
    Column("compress", String(8), nullable=True),
    Column("num_requested", BigInteger, nullable=True),
    Column("num_found", BigInteger, nullable=True),
    Column("num_records", BigInteger, nullable=True),
    Column("num_downloaded", BigInteger, nullable=False, server_default=text("0")),
    Column("status", String(16), nullable=False, server_default=text("'queued'")),
    Column("error", Text, nullable=True),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=True),
    Column("api_version", String(4), nullable=False, server_default=text("'v4'")),
    Column("cancel_requested", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("completed_at", UtcDateTime, nullable=True),
    # Where dlserve POSTs the download when it ends (dlserve.webhooks); NULL: no webhook.
    Column("webhook_url", Text, nullable=True),
    # Delta downloads (see dlserve.records.delta): the download this one is relative to, and what
    # changed since its snapshot. NULL on full downloads.
    Column("since", Integer, nullable=True),
    Column("num_added", BigInteger, nullable=True),
    Column("num_changed", BigInteger, nullable=True),
    Column("num_deleted", BigInteger, nullable=True),
    # Serves "this account's downloads, newest first" and every lookup by account_id alone.
    Index(None, "account_id", "id"),
    sqlite_autoincrement=True,
)

download_files = Table(
    "download_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("download_id", Integer, ForeignKey("downloads.id", ondelete="CASCADE"), nullable=False),
    Column("part_no", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("storage_key", String(1024), nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
    UniqueConstraint("download_id", "part_no"),
    sqlite_autoincrement=True,
)

# Append-only: a balance is the sum of an account's rows. The unique (download_id, part_no) makes
# charging a download part idempotent: a retried export can never bill the same part twice. Rows
# without a download have NULLs there, which never collide.
credit_ledger = Table(
    "credit_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("delta", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("download_id", Integer, ForeignKey("downloads.id"), nullable=True),
    Column("part_no", Integer, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("download_id", "part_no"),
    sqlite_autoincrement=True,
)

# Credits reserved for a download's records until they are delivered (then charged in the ledger)
# or no longer will be (cancel, failure: released). ``amount`` is what is still held; available
# credits are the ledger's sum minus the account's holds. One row per download.
credit_holds = Table(
    "credit_holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("download_id", Integer, ForeignKey("downloads.id", ondelete="CASCADE"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("download_id"),
    sqlite_autoincrement=True,
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    # What the job works on, by its domain's id (a download's, a media download's); see dlserve.jobs.
    Column("subject_id", String(64), nullable=True),
    Column("status", String(16), nullable=False, server_default=text("'queued'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("max_attempts", Integer, nullable=False, server_default=text("5")),
    Column("run_after", UtcDateTime, nullable=False),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("heartbeat_at", UtcDateTime, nullable=True),
    Column("checkpoint", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The claim query: "queued and due, oldest first".
    Index(None, "status", "run_after"),
    # "This subject's jobs" (pending parts of a download, its job on cancel).
    Index(None, "subject_id", "kind"),
    sqlite_autoincrement=True,
)

# Media downloads (``/api/download``): one row per requested URL, ids are UUIDs as the seed shows.
# The row's job (kind ``media``) is the durable queue entry; the row is what users see.
media_downloads = Table(
    "media_downloads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    Column("job_id", Integer, nullable=True),  # its job in dlserve.jobs (which owns that table)
    Column("url", Text, nullable=False),
    Column("quality", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("title", Text, nullable=True),
    Column("progress", Float, nullable=False, server_default=text("0")),
    Column("downloaded_bytes", BigInteger, nullable=False, server_default=text("0")),
    Column("total_bytes", BigInteger, nullable=True),
    Column("speed", Float, nullable=True),
    Column("eta", Integer, nullable=True),
    Column("filename", Text, nullable=True),
    Column("storage_key", String(1024), nullable=True),
    Column("file_bytes", BigInteger, nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("duration", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("completed_at", UtcDateTime, nullable=True),
    Column("webhook_url", Text, nullable=True),  # see downloads.webhook_url
    # "This caller's downloads, oldest first" (anonymous callers have a NULL account).
    Index(None, "account_id", "created_at"),
    Index(None, "status"),
    Index(None, "job_id"),
)


# Webhooks (dlserve.webhooks): one delivery per event (a download or media download that ended),
# identified by its ``webhook-id`` (``msg_...``, the same on every attempt), and one row per attempt.
# The delivery's job (kind ``webhook``, subject = the delivery's id) is the durable queue entry.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("subject_type", String(16), nullable=False),  # "download" | "media"
    Column("subject_id", String(64), nullable=False),
    Column("event", String(32), nullable=False),  # e.g. "download.completed"
    Column("url", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # The body sent, fixed at the first attempt so every retry sends the same bytes.
    Column("payload", Text, nullable=True),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Index(None, "subject_type", "subject_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "delivery_id", String(40), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False
    ),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Float, nullable=False),
    UniqueConstraint("delivery_id", "attempt"),
    sqlite_autoincrement=True,
)


# Failed logins per email ("email:...") and per client address ("address:..."): what the login
# throttle (dlserve.accounts.throttle) reads and writes, shared by every API process.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False, server_default=text("0")),
    Column("blocked_until", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)


# Scheduled downloads (``/v4/schedules``, dlserve.schedules): what to download and how often.
# ``every`` is the user's text (``1d``, ``6h``, a cron expression), parsed again whenever a next
# time is computed; ``next_run_at`` is the next period's due time. Deleted schedules keep their row
# (``deleted_at``) so their runs still name them.
schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("data_type", String(32), nullable=False),
    Column("query", Text, nullable=False),
    Column("format", String(8), nullable=False),
    Column("view", Text, nullable=True),  # a view's name, or a field list as a JSON array
    Column("every", String(128), nullable=False),
    Column("delta", Boolean, nullable=False, server_default=false()),
    Column("webhook_url", Text, nullable=True),
    Column("next_run_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
    Index(None, "account_id", "id"),
    # The tick's query: "live schedules that are due".
    Index(None, "next_run_at"),
    sqlite_autoincrement=True,
)

# One row per period a schedule ran for. The unique (schedule_id, due_at) is the "never twice"
# guarantee: whatever races, a period can be claimed once. ``download_id`` is set in the same
# transaction that creates the download (status ``started``); a refused run is ``failed`` with the
# reason.
schedule_runs = Table(
    "schedule_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule_id", Integer, ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("download_id", Integer, ForeignKey("downloads.id"), nullable=True),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("reason", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("schedule_id", "due_at"),
    Index(None, "status"),
    sqlite_autoincrement=True,
)
