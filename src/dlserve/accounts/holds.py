"""Credit holds: credits a download reserves when it is queued, so concurrent work cannot spend them.

A download's hold is placed in the transaction that queues it (``AccountService.hold_in``), shrinks
as each committed file is charged (``settle_in``: the charge and the shrink are one transaction, so
the available balance does not move), and whatever is left is released when the download ends
without delivering it (cancel, failure) — ``release_in``. These functions only touch the
``credit_holds`` table inside the caller's transaction; the account lock and the balance check are
:class:`~dlserve.accounts.services.AccountService`'s.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from dlserve.db.tables import credit_holds


def held_query(account_id: int) -> sa.ScalarSelect[int]:
    """Credits the account's holds still reserve, as a scalar subquery."""
    return (
        sa.select(sa.func.coalesce(sa.func.sum(credit_holds.c.amount), 0))
        .where(credit_holds.c.account_id == account_id)
        .scalar_subquery()
    )


def held_in(conn: sa.Connection, account_id: int) -> int:
    """Credits the account's holds still reserve."""
    return int(conn.execute(sa.select(held_query(account_id))).scalar_one())


def place_in(conn: sa.Connection, account_id: int, download_id: int, amount: int, now: datetime) -> None:
    conn.execute(
        credit_holds.insert().values(
            account_id=account_id, download_id=download_id, amount=amount, created_at=now, updated_at=now
        )
    )


def shrink_in(conn: sa.Connection, download_id: int, by: int, now: datetime) -> None:
    """The hold covers ``by`` fewer credits (they were just charged); never below zero."""
    conn.execute(
        credit_holds.update()
        .where(credit_holds.c.download_id == download_id, credit_holds.c.amount > 0)
        .values(
            amount=sa.case((credit_holds.c.amount > by, credit_holds.c.amount - by), else_=0),
            updated_at=now,
        )
    )


def release_in(conn: sa.Connection, download_id: int, now: datetime) -> None:
    """The download will deliver nothing more: whatever it still holds is available again."""
    conn.execute(
        credit_holds.update()
        .where(credit_holds.c.download_id == download_id, credit_holds.c.amount > 0)
        .values(amount=0, updated_at=now)
    )
