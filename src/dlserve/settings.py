"""Settings, read once at start (``DLSERVE_*`` environment variables) and passed down explicitly."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DLSERVE_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./data"), description="Where snapshots, result files and the SQLite file live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/dlserve.db; postgresql+psycopg://... too.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str | None = Field(
        default=None,
        description="HMAC key for signed links; generated once and kept in <data_dir>/secret_key.",
    )
    public_url: str | None = Field(
        default=None, description="Base URL clients reach the server at; default http://HOST:PORT."
    )
    ssl_certfile: Path | None = Field(default=None, description="Serve HTTPS with this certificate (PEM).")
    ssl_keyfile: Path | None = Field(default=None, description="The certificate's private key (PEM).")
    log_level: str = "info"
    log_json: bool = Field(default=True, description="JSON log lines (false: human-readable console lines).")
    preview_max_records: int = 50
    paginate_max_limit: int = 1000
    default_credits: int = Field(
        default=0, description="Credits granted to an account created without --credits."
    )

    storage_url: str | None = Field(
        default=None,
        description="Where result files go: a directory (default <data_dir>/files), file:///path, "
        "or s3://bucket/prefix (then the s3_* settings say how to reach it; see docs/deploy.md).",
    )

    # S3 storage (used when storage_url is s3://...). Unset credentials/endpoint fall back to
    # boto3's own defaults: AWS_* environment variables, ~/.aws, an instance role; AWS's endpoint.
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 API endpoint the servers use, e.g. http://127.0.0.1:8333 (SeaweedFS, MinIO); "
        "default AWS S3 in s3_region.",
    )
    s3_public_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint clients reach S3 at, named in presigned links, when it differs from "
        "s3_endpoint_url (a proxy or another network); default s3_endpoint_url.",
    )
    s3_access_key_id: str | None = Field(default=None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret access key (kept out of logs and reprs)."
    )
    s3_region: str = Field(default="us-east-1", description="S3 region; it is part of every signature.")
    s3_multipart_threshold: int = Field(
        default=64 * 1024 * 1024,
        description="Files of at least this many bytes are uploaded in parallel parts (multipart).",
    )
    s3_multipart_chunksize: int = Field(
        default=16 * 1024 * 1024, description="Bytes per multipart part (S3's minimum is 5 MiB)."
    )
    s3_max_concurrency: int = Field(default=4, description="Parallel part uploads per file.")

    snapshot_cache_bytes: int = Field(
        default=20 * 1024**3,
        description="With S3 storage: disk a machine may use for its cached copies of record snapshots.",
    )

    # Bulk downloads (see docs/downloads.md).
    workers: int = Field(default=2, description="Worker threads started inside `dlserve serve`.")
    records_per_file: int = 100_000
    max_active_downloads: int = 5
    link_ttl_seconds: int = 7 * 24 * 3600
    job_lease_seconds: float = 30.0
    job_max_attempts: int = 5
    token_ttl_days: float = Field(
        default=30,
        ge=0,
        description="Days a new API token works (login, account creation); 0 = until revoked.",
    )

    # Media downloads, /api/download (see docs/media.md).
    media_workers: int = Field(default=2, description="Media download threads in `dlserve serve`/`worker`.")
    media_allow_private: bool = Field(
        default=False,
        description="Allow media URLs on loopback/private/link-local/internal addresses (SSRF guard off; "
        "only for trusted users or tests).",
    )
    media_anonymous: bool | None = Field(
        default=None,
        description="Media API without a token: unset = only when bound to a loopback address; "
        "true = always; false = never (a Bearer token is required).",
    )
    media_max_bytes: int = Field(
        default=4 * 1024**3, description="Largest media file a download may fetch, in bytes; 0 = no limit."
    )
    media_max_active: int = Field(
        default=20, description="Pending or running media downloads per account (or for anonymous callers)."
    )
    media_max_attempts: int = Field(
        default=3, description="Tries per media download for network errors before it fails."
    )
    media_retention_hours: float = Field(
        default=24, description="Remove finished media downloads (entry and file) after this long; 0 = keep."
    )
    media_socket_timeout: float = Field(default=30.0, description="Seconds a media connection may stall.")
    media_ffmpeg: str | None = Field(
        default=None, description="Path to ffmpeg; default ffmpeg on PATH, else the imageio-ffmpeg binary."
    )

    # Webhooks (see docs/api.md, "Webhooks"): delivery attempts back off exponentially,
    # base * 2^(n-1) capped at max, and go on until retry_for has passed since the download ended.
    webhook_workers: int = Field(
        default=1,
        description="Webhook delivery threads in `dlserve serve`/`worker` (none in a process that runs "
        "no export or media threads).",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Seconds a webhook receiver has to connect and to answer."
    )
    webhook_retry_base_seconds: float = Field(
        default=10.0, gt=0, description="Wait after a webhook's first failed attempt; doubles each time."
    )
    webhook_retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="Longest wait between two webhook attempts."
    )
    webhook_retry_for_seconds: float = Field(
        default=86400.0,
        ge=0,
        description="How long failed webhook deliveries are retried (from the event) before they are "
        "marked failed.",
    )

    search_index: bool = Field(
        default=True,
        description="Build a Tantivy index with every snapshot (`dlserve load`/`demo`) and answer counts, "
        "previews, pages and records by id from it; snapshots without one are read with DuckDB.",
    )
    load_memory_limit: str = Field(
        default="40%",
        pattern=r"^\s*\d+(\.\d+)?\s*(%|[KMGT]i?B)\s*$",
        description="Memory a `dlserve load`/`demo` may hold (DuckDB's `memory_limit`: a share of the "
        "machine's RAM such as `40%`, or a size such as `4GB`); beyond it the records being loaded "
        "spill to disk under the data directory, so a load of any size leaves room for the API and "
        "workers on the same machine.",
    )
    # Hot paths: polling, health, several API processes (see docs/api.md, docs/deploy.md).
    token_cache_seconds: float = Field(
        default=5.0,
        description="How long an API process trusts a token it verified (0 = check every request); "
        "a token revoked elsewhere stops working within this bound.",
    )
    long_poll_max_seconds: float = Field(
        default=60.0, description="Longest ?wait= a GET /v4/downloads/{id} may ask for."
    )
    long_poll_recheck_seconds: float = Field(
        default=1.0,
        description="How often a long poll re-reads the database for changes made by other processes.",
    )
    health_refresh_seconds: float = Field(
        default=1.0, description="How often the background health state is refreshed (/v4/health)."
    )
    # Query dialect (issue 17, docs/query-language.md).
    query_max_expansions: int = Field(
        default=10_000,
        ge=1,
        description="How many distinct index words one wildcard, fuzzy or regex term may match; "
        "past it the query is a 400 naming the term.",
    )
    # Scheduled downloads, /v4/schedules (see docs/api.md).
    schedule_min_period_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="Shortest period a schedule may have (an interval or the gaps of a cron expression).",
    )
    schedule_tick_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often each worker process looks for due schedules (a run starts at most this late).",
    )
    max_schedules: int = Field(default=20, ge=0, description="Schedules one account may have.")
    processes: int = Field(
        default=1, description="API processes `dlserve serve` runs on one port (job workers run once)."
    )
    # Hardening limits (see docs/deploy.md, "Limits").
    query_max_length: int = Field(
        default=8192, description="Longest query accepted, in characters (400 above)."
    )
    query_max_clauses: int = Field(
        default=256, description="Most clauses (terms, phrases, ranges...) in one query (400 above)."
    )
    query_timeout_seconds: float = Field(
        default=30.0, description="Interactive queries (search, count, paginate) stop after this; 0 = never."
    )
    query_rate_per_minute: float = Field(
        default=120.0, description="Searches, counts, pages and download creations per account per minute."
    )
    query_concurrency_per_account: int = Field(
        default=4,
        description="Heavy requests (search, count, paginate, download creation) at once per account.",
    )
    query_threads: int = Field(
        default=4, description="Threads that run heavy requests, apart from those serving cheap ones."
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, description="Largest request body, in bytes (413 above, before auth)."
    )
    login_free_attempts: int = Field(
        default=5, description="Failed logins per email or client address before backoff starts."
    )
    login_address_free_attempts: int = Field(
        default=50, description="Failed logins from one client address (any emails) before backoff starts."
    )
    login_backoff_seconds: float = Field(
        default=2.0, description="First backoff after the free attempts; doubles with each failure."
    )
    login_backoff_max_seconds: float = Field(default=900.0, description="Longest login backoff.")
    password_hash_concurrency: int = Field(
        default=4, description="Password hashes computed at once (each takes argon2's memory)."
    )
    media_quota_bytes: int = Field(
        default=10 * 1024**3,
        description="Media storage per account (anonymous callers share one); 0 = no limit.",
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Host headers accepted; unset = any, except when the media API is anonymous: "
        "then only loopback names and the host of public_url (DNS-rebinding protection).",
    )

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'dlserve.db').resolve()}"

    def resolved_public_url(self) -> str:
        scheme = "https" if self.ssl_certfile else "http"
        return (self.public_url or f"{scheme}://{self.host}:{self.port}").rstrip("/")

    def resolved_secret_key(self) -> str:
        """The configured key, or the one kept in the data dir (created on first use)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            candidate = secrets.token_urlsafe(48)
            try:
                # O_EXCL: two processes starting together agree on one key.
                with path.open("x", encoding="utf-8") as handle:
                    handle.write(candidate)
                path.chmod(0o600)
            except FileExistsError:
                pass
        return path.read_text(encoding="utf-8").strip()

    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    def files_dir(self) -> Path:
        return self.data_dir / "files"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus explicit overrides (CLI flags, tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
