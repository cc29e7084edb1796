"""`WebhookService`: what the routes ask of webhooks (secrets, a subject's deliveries)."""

from __future__ import annotations

import sqlalchemy as sa

from dlserve.db.engine import Database
from dlserve.db.tables import downloads, media_downloads
from dlserve.errors import NotFound
from dlserve.webhooks.account_secret import WebhookSecrets
from dlserve.webhooks.models import Delivery, SubjectType
from dlserve.webhooks.reads import deliveries_of


class WebhookService:
    def __init__(self, db: Database, secrets: WebhookSecrets) -> None:
        self._db = db
        self._secrets = secrets

    def secret(self, account_id: int) -> str:
        return self._secrets.get(account_id)

    def rotate_secret(self, account_id: int) -> str:
        return self._secrets.rotate(account_id)

    def for_download(self, account_id: int, download_id: int) -> tuple[str | None, list[Delivery]]:
        """(the download's webhook URL, its deliveries); another account's download is not found."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(downloads.c.account_id, downloads.c.webhook_url).where(
                    downloads.c.id == download_id
                )
            ).first()
            if row is None or row.account_id != account_id:
                raise NotFound(f"Download {download_id} was not found")
            return row.webhook_url, deliveries_of(conn, SubjectType.DOWNLOAD, str(download_id))

    def for_media(
        self, account_id: int | None, media_id: str, not_found: str
    ) -> tuple[str | None, list[Delivery]]:
        """:meth:`for_download` for a media download of the caller (``not_found``: the message)."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(media_downloads.c.account_id, media_downloads.c.webhook_url).where(
                    media_downloads.c.id == media_id
                )
            ).first()
            if row is None or row.account_id != account_id:
                raise NotFound(not_found)
            return row.webhook_url, deliveries_of(conn, SubjectType.MEDIA, media_id)
