"""The account's webhook secret: ``whsec_`` + base64 of 32 random bytes (Standard Webhooks' format).

Created lazily, the first time anything needs it (``GET /v4/account``, a delivery), so accounts made
before webhooks existed get one without a data migration. Rotating replaces it at once: attempts
made afterwards, retries included, are signed with the new secret.
"""

from __future__ import annotations

import base64
import secrets

import sqlalchemy as sa

from dlserve.db.engine import Database
from dlserve.db.tables import accounts
from dlserve.errors import NotFound

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


class WebhookSecrets:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, account_id: int) -> str:
        with self._db.read() as conn:
            current = self._read(conn, account_id)
        if current is not None:
            return current
        with self._db.write() as conn:
            return self.get_in(conn, account_id)

    def get_in(self, conn: sa.Connection, account_id: int) -> str:
        """The secret, created now if the account has none yet (two creators agree on one)."""
        current = self._read(conn, account_id)
        if current is not None:
            return current
        conn.execute(
            accounts.update()
            .where(accounts.c.id == account_id, accounts.c.webhook_secret.is_(None))
            .values(webhook_secret=new_secret())
        )
        created = self._read(conn, account_id)
        assert created is not None
        return created

    def rotate(self, account_id: int) -> str:
        secret = new_secret()
        with self._db.write() as conn:
            changed = conn.execute(
                accounts.update().where(accounts.c.id == account_id).values(webhook_secret=secret)
            ).rowcount
        if changed != 1:
            raise NotFound(f"Account {account_id} was not found")
        return secret

    @staticmethod
    def _read(conn: sa.Connection, account_id: int) -> str | None:
        row = conn.execute(sa.select(accounts.c.webhook_secret).where(accounts.c.id == account_id)).first()
        if row is None:
            raise NotFound(f"Account {account_id} was not found")
        secret: str | None = row.webhook_secret
        return secret
