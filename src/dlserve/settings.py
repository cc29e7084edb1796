"""Settings, read once at start (``DLSERVE_*`` environment variables) and passed down explicitly."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field
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
        description="Where result files go: a directory (default <data_dir>/files) or file:///path.",
    )

    # Bulk downloads (see docs/downloads.md).
    workers: int = Field(default=2, description="Worker threads started inside `dlserve serve`.")
    records_per_file: int = 100_000
    max_active_downloads: int = 5
    link_ttl_seconds: int = 7 * 24 * 3600
    job_lease_seconds: float = 30.0
    job_max_attempts: int = 5

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
