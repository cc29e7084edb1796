"""`AccountService`: accounts, logins, API tokens and the credit ledger.

Credits live in an append-only ledger; a balance is the sum of an account's rows. Charges are
serialised per account (a row lock on PostgreSQL, the single writer on SQLite) so concurrent
requests can never spend the same credits twice, and a charge for a download part is recorded at
most once, so a retried export never bills a part again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Insert, Row, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from dlserve.accounts.passwords import burn_verification_time, hash_password, needs_rehash, verify_password
from dlserve.accounts.tokens import display_prefix, hash_token, new_token
from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import accounts, api_tokens, credit_ledger
from dlserve.errors import Conflict, ErrorDetail, InsufficientCredits, Invalid, NotFound, Unauthorized

LEDGER_REASONS = frozenset({"grant", "preview", "paginate", "record", "download"})
# The ledger's unique key that makes a download part's charge idempotent.
_PART_KEY = [credit_ledger.c.download_id, credit_ledger.c.part_no]
MAX_EMAIL_LENGTH = 320

LOGIN_FAILED = "Invalid email or password"
# A message, not a credential (ruff's S105 goes by the name).
TOKEN_REJECTED = "Invalid or revoked API token"  # noqa: S105

# last_used_at is informative only; recording every request would make every API call a write
# (and on SQLite a turn at the single write lock), so it is refreshed at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    plan_id: str
    created_at: datetime


@dataclass(frozen=True)
class CreatedAccount:
    id: int
    email: str
    token: str


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively: ``Ann@Example.com`` and ``ann@example.com`` are one."""
    return email.strip().lower()


def validate_email(email: str) -> None:
    """Loose on purpose: one ``@`` with text on both sides. Deliverability is not our business."""
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain or len(email) > MAX_EMAIL_LENGTH:
        raise Invalid("Invalid email format", details=[ErrorDetail("email", "Invalid email format")])


class AccountService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    # -- accounts --------------------------------------------------------------------------------

    def create_account(self, email: str, password: str | None = None, credits: int = 0) -> CreatedAccount:
        """Create an account with ``credits`` granted and a first API token (returned in clear)."""
        email = normalize_email(email)
        validate_email(email)
        if password is not None and not password:
            raise Invalid("Invalid password", details=[ErrorDetail("password", "Password must not be empty")])
        if credits < 0:
            raise Invalid("Invalid credits", details=[ErrorDetail("credits", "Credits must not be negative")])
        # Hash before taking the write lock: argon2 is slow by design.
        password_hash = hash_password(password) if password is not None else None
        conflict = Conflict(
            "An account with this email already exists",
            details=[ErrorDetail("email", "An account with this email already exists")],
        )
        try:
            with self._db.write() as conn:
                if conn.execute(select(accounts.c.id).where(accounts.c.email == email)).first():
                    raise conflict
                now = self._clock.now()
                account_id = int(
                    conn.execute(
                        accounts.insert()
                        .values(email=email, password_hash=password_hash, created_at=now)
                        .returning(accounts.c.id)
                    ).scalar_one()
                )
                if credits:
                    self._insert_ledger_row(conn, account_id, credits, "grant")
                token = self._issue_token_in(conn, account_id)
        except IntegrityError as error:
            # Two concurrent creations of one email on PostgreSQL: the unique constraint decides.
            raise conflict from error
        return CreatedAccount(id=account_id, email=email, token=token)

    def get_account(self, account_id: int) -> Account:
        with self._db.read() as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if row is None:
            raise NotFound(f"Account {account_id} not found")
        return _account_from(row)

    def find_by_email(self, email: str) -> Account | None:
        with self._db.read() as conn:
            row = conn.execute(select(accounts).where(accounts.c.email == normalize_email(email))).first()
        return None if row is None else _account_from(row)

    # -- logins and tokens -----------------------------------------------------------------------

    def login(self, email: str, password: str) -> str:
        """A new API token for the right email and password. Accounts without a password can't log in."""
        with self._db.read() as conn:
            row = conn.execute(
                select(accounts.c.id, accounts.c.password_hash).where(
                    accounts.c.email == normalize_email(email)
                )
            ).first()
        if row is None or row.password_hash is None:
            burn_verification_time(password)
            raise Unauthorized(LOGIN_FAILED)
        stored_hash: str = row.password_hash
        if not verify_password(stored_hash, password):
            raise Unauthorized(LOGIN_FAILED)
        account_id = int(row.id)
        # Hash before taking the write lock: argon2 is slow by design.
        rehashed = hash_password(password) if needs_rehash(stored_hash) else None
        with self._db.write() as conn:
            if rehashed is not None:
                conn.execute(
                    update(accounts).where(accounts.c.id == account_id).values(password_hash=rehashed)
                )
            return self._issue_token_in(conn, account_id)

    def authenticate(self, token: str) -> Account:
        """The account a token belongs to; ``Unauthorized`` when it is unknown or revoked."""
        if not token:
            raise Unauthorized(TOKEN_REJECTED)
        with self._db.read() as conn:
            row = conn.execute(
                select(
                    api_tokens.c.id.label("token_id"),
                    api_tokens.c.last_used_at,
                    accounts.c.id,
                    accounts.c.email,
                    accounts.c.plan_id,
                    accounts.c.created_at,
                )
                .join(accounts, accounts.c.id == api_tokens.c.account_id)
                .where(api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None))
            ).first()
        if row is None:
            raise Unauthorized(TOKEN_REJECTED)
        now = self._clock.now()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            with self._db.write() as conn:
                conn.execute(
                    update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used_at=now)
                )
        return _account_from(row)

    def issue_token(self, account_id: int) -> str:
        """A new API token for the account (returned in clear; only its hash is stored)."""
        with self._db.write() as conn:
            self._require_account(conn, account_id)
            return self._issue_token_in(conn, account_id)

    def revoke_token(self, token: str) -> bool:
        """Revoke a token; False when it was unknown or already revoked."""
        with self._db.write() as conn:
            result = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._clock.now())
            )
            return result.rowcount == 1

    # -- credits ---------------------------------------------------------------------------------

    def balance(self, account_id: int) -> int:
        with self._db.read() as conn:
            self._require_account(conn, account_id)
            return self.balance_in(conn, account_id)

    def balance_in(self, conn: Connection, account_id: int) -> int:
        """The balance as seen by the caller's open transaction."""
        total = conn.execute(
            select(func.coalesce(func.sum(credit_ledger.c.delta), 0)).where(
                credit_ledger.c.account_id == account_id
            )
        ).scalar_one()
        return int(total)

    def grant(self, account_id: int, credits: int, reason: str = "grant") -> None:
        if credits < 0:
            raise Invalid("Invalid credits", details=[ErrorDetail("credits", "Credits must not be negative")])
        _check_reason(reason)
        if credits == 0:
            return
        with self._db.write() as conn:
            self._require_account(conn, account_id)
            self._insert_ledger_row(conn, account_id, credits, reason)

    def charge(
        self,
        account_id: int,
        amount: int,
        reason: str,
        *,
        download_id: int | None = None,
        part_no: int | None = None,
        require_balance: bool = True,
    ) -> bool:
        """Take ``amount`` credits, in a transaction of its own. See :meth:`charge_in`."""
        with self._db.write() as conn:
            return self.charge_in(
                conn,
                account_id,
                amount,
                reason,
                download_id=download_id,
                part_no=part_no,
                require_balance=require_balance,
            )

    def charge_in(
        self,
        conn: Connection,
        account_id: int,
        amount: int,
        reason: str,
        *,
        download_id: int | None = None,
        part_no: int | None = None,
        require_balance: bool = True,
    ) -> bool:
        """Take ``amount`` credits inside the caller's open ``db.write()`` transaction.

        Returns False, changing nothing, when ``(download_id, part_no)`` was already charged;
        True otherwise. Raises ``InsufficientCredits`` when ``require_balance`` and the balance
        is short; with ``require_balance=False`` the balance may go negative (billing records that
        were already delivered). A charge with a download but no ``part_no`` is not deduplicated.
        """
        if amount < 0:
            raise ValueError(f"charge amount must not be negative, got {amount}")
        _check_reason(reason)
        if amount == 0:
            return True
        # Serialise charges of one account: on PostgreSQL the row lock makes the balance read
        # below current until commit. SQLite renders no FOR UPDATE; its BEGIN IMMEDIATE write
        # transaction already excludes every other writer.
        locked = conn.execute(
            select(accounts.c.id).where(accounts.c.id == account_id).with_for_update()
        ).first()
        if locked is None:
            raise NotFound(f"Account {account_id} not found")
        idempotent = download_id is not None and part_no is not None
        if idempotent and self._part_already_charged(conn, download_id, part_no):
            return False
        if require_balance:
            balance = self.balance_in(conn, account_id)
            if balance < amount:
                raise InsufficientCredits(
                    "Insufficient credits",
                    details=[
                        ErrorDetail(
                            "credits", f"this request costs {amount} credits, the balance is {balance}"
                        )
                    ],
                )
        # False only when a concurrent transaction charged the same part after our check above.
        return self._insert_ledger_row(
            conn, account_id, -amount, reason, download_id=download_id, part_no=part_no
        )

    # -- internals -------------------------------------------------------------------------------

    def _require_account(self, conn: Connection, account_id: int) -> None:
        if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
            raise NotFound(f"Account {account_id} not found")

    def _issue_token_in(self, conn: Connection, account_id: int) -> str:
        token = new_token()
        conn.execute(
            api_tokens.insert().values(
                account_id=account_id,
                token_hash=hash_token(token),
                token_prefix=display_prefix(token),
                created_at=self._clock.now(),
            )
        )
        return token

    def _part_already_charged(self, conn: Connection, download_id: int | None, part_no: int | None) -> bool:
        row = conn.execute(
            select(credit_ledger.c.id).where(
                credit_ledger.c.download_id == download_id, credit_ledger.c.part_no == part_no
            )
        ).first()
        return row is not None

    def _insert_ledger_row(
        self,
        conn: Connection,
        account_id: int,
        delta: int,
        reason: str,
        *,
        download_id: int | None = None,
        part_no: int | None = None,
    ) -> bool:
        """Append one ledger row; False when its (download_id, part_no) is already there.

        ON CONFLICT DO NOTHING rather than catching IntegrityError: on PostgreSQL a failed
        statement aborts the whole transaction, which belongs to the caller in ``charge_in``.
        """
        values = {
            "account_id": account_id,
            "delta": delta,
            "reason": reason,
            "download_id": download_id,
            "part_no": part_no,
            "created_at": self._clock.now(),
        }
        insert: Insert
        if conn.dialect.name == "postgresql":
            insert = postgresql.insert(credit_ledger).on_conflict_do_nothing(index_elements=_PART_KEY)
        else:
            insert = sqlite.insert(credit_ledger).on_conflict_do_nothing(index_elements=_PART_KEY)
        # RETURNING tells whether a row went in (rowcount is not reliable with implicit RETURNING).
        inserted = conn.execute(insert.values(values).returning(credit_ledger.c.id)).first()
        return inserted is not None


def _check_reason(reason: str) -> None:
    if reason not in LEDGER_REASONS:
        raise ValueError(f"unknown ledger reason {reason!r}; expected one of {sorted(LEDGER_REASONS)}")


def _account_from(row: Row[*tuple[Any, ...]]) -> Account:
    return Account(id=int(row.id), email=row.email, plan_id=row.plan_id, created_at=row.created_at)
