"""What ``GET /v4/account`` reports about an account's credits: its balance, holds, and usage.

Datafiniti's account endpoint reports ``num_credits_used`` (every credit charged) and, for plans
that split credits by data type, ``business_credits_used``, ``product_credits_used``,
``property_credits_used`` and ``people_credits_used``. Here they are sums over the credit ledger's
charges (its negative rows): a download's charges belong to its download's data type, other
charges (previews, pages, single records) name theirs. Everything (and the account's webhook
secret, also shown there) is read by ONE statement, so
the figures are consistent with each other even while files are being charged (a file's charge
and the shrinking of its hold commit together, and one statement sees both or neither).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from dlserve.accounts import holds
from dlserve.db.engine import Database
from dlserve.db.tables import accounts, credit_ledger, downloads
from dlserve.downloads.models import ACTIVE_STATUSES
from dlserve.errors import NotFound
from dlserve.records.schema import SCHEMAS


@dataclass(frozen=True)
class AccountUsage:
    balance: int
    held: int
    credits_used: int
    credits_used_by_type: dict[str, int]  # data type (plural, as in URLs) → credits charged
    active_downloads: int
    webhook_secret: str | None  # None: not created yet (accounts made before webhooks)

    @property
    def available(self) -> int:
        """What a new request may spend: the balance minus the credits active downloads hold."""
        return self.balance - self.held


def read_usage(db: Database, account_id: int) -> AccountUsage:
    """The account's credits and usage; ``NotFound`` for an unknown account."""
    charged_type = sa.func.coalesce(credit_ledger.c.data_type, downloads.c.data_type)
    used = -credit_ledger.c.delta
    charges = (
        sa.select(
            sa.func.coalesce(sa.func.sum(used), 0).label("used"),
            *(
                sa.func.coalesce(sa.func.sum(sa.case((charged_type == name, used), else_=0)), 0).label(name)
                for name in SCHEMAS
            ),
        )
        .select_from(credit_ledger.outerjoin(downloads, downloads.c.id == credit_ledger.c.download_id))
        .where(credit_ledger.c.account_id == account_id, credit_ledger.c.delta < 0)
        .subquery()
    )
    balance = (
        sa.select(sa.func.coalesce(sa.func.sum(credit_ledger.c.delta), 0))
        .where(credit_ledger.c.account_id == account_id)
        .scalar_subquery()
    )
    active = (
        sa.select(sa.func.count())
        .select_from(downloads)
        .where(downloads.c.account_id == account_id, downloads.c.status.in_(ACTIVE_STATUSES))
        .scalar_subquery()
    )
    query = (
        sa.select(
            accounts.c.id,
            accounts.c.webhook_secret,
            balance.label("balance"),
            holds.held_query(account_id).label("held"),
            active.label("active"),
            charges,
        )
        .select_from(accounts.join(charges, sa.true()))
        .where(accounts.c.id == account_id)
    )
    with db.read_one() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"Account {account_id} not found")
    return AccountUsage(
        balance=int(row["balance"]),
        held=int(row["held"]),
        credits_used=int(row["used"]),
        credits_used_by_type={name: int(row[name]) for name in SCHEMAS},
        active_downloads=int(row["active"]),
        webhook_secret=row["webhook_secret"],
    )


__all__ = ["AccountUsage", "read_usage"]
