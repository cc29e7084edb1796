"""`AccountService`: accounts, logins, API tokens and the credit ledger.

Credits live in an append-only ledger; a balance is the sum of an account's rows. Downloads hold
the credits they will need when they are queued (:mod:`dlserve.accounts.holds`); the *available*
balance is the ledger's sum minus those holds, and every check (a charge, a new hold) is against
it. Charges and holds are serialised per account (a row lock on PostgreSQL, the single writer on
SQLite) so concurrent requests can never spend the same credits twice, and a charge for a download
part is recorded at most once, so a retried export never bills a part again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Insert, Row, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from dlserve.accounts import holds
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
DEFAULT_TOKEN_TTL = timedelta(days=30)

# Called after a revocation commits, with the SHA-256 digests (``hash_token``) of the tokens it
# revoked: an in-process cache of verified tokens drops them here.
RevocationListener = Callable[[frozenset[str]], None]


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    plan_id: str
    created_at: datetime


@dataclass(frozen=True)
class TokenInfo:
    """What the owner may see of a token: never the token itself, only its first characters."""

    id: int
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


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
    def __init__(
        self, db: Database, clock: Clock, *, token_ttl: timedelta | None = DEFAULT_TOKEN_TTL
    ) -> None:
        """``token_ttl``: how long a new API token works (None: until revoked)."""
        self._db = db
        self._clock = clock
        self._token_ttl = token_ttl
        self._revocation_listeners: list[RevocationListener] = []

    def add_revocation_listener(self, listener: RevocationListener) -> None:
        """Call ``listener`` with the digests of revoked tokens after every revocation commits."""
        self._revocation_listeners.append(listener)

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
        """The account a token belongs to; ``Unauthorized`` when it is unknown, revoked or expired."""
        if not token:
            raise Unauthorized(TOKEN_REJECTED)
        now = self._clock.now()
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
                .where(
                    api_tokens.c.token_hash == hash_token(token),
                    api_tokens.c.revoked_at.is_(None),
                    or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
                )
            ).first()
        if row is None:
            raise Unauthorized(TOKEN_REJECTED)
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
        return bool(self._revoke(api_tokens.c.token_hash == hash_token(token)))

    def list_tokens(self, account_id: int) -> list[TokenInfo]:
        """The account's tokens, oldest first, revoked and expired ones included."""
        with self._db.read() as conn:
            self._require_account(conn, account_id)
            rows = conn.execute(
                select(api_tokens).where(api_tokens.c.account_id == account_id).order_by(api_tokens.c.id)
            ).all()
        return [
            TokenInfo(
                id=int(row.id),
                prefix=row.token_prefix,
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                expires_at=row.expires_at,
                revoked_at=row.revoked_at,
            )
            for row in rows
        ]

    def revoke_tokens(self, account_id: int, token_ids: list[int] | None = None) -> int:
        """Revoke the account's tokens with these ids (None: all of them); how many were revoked."""
        with self._db.read() as conn:
            self._require_account(conn, account_id)
        condition = api_tokens.c.account_id == account_id
        if token_ids is not None:
            condition = condition & api_tokens.c.id.in_(token_ids)
        return self._revoke(condition)

    def _revoke(self, condition: Any) -> int:
        with self._db.write() as conn:
            revoked = frozenset(
                conn.execute(
                    update(api_tokens)
                    .where(condition, api_tokens.c.revoked_at.is_(None))
                    .values(revoked_at=self._clock.now())
                    .returning(api_tokens.c.token_hash)
                ).scalars()
            )
        if revoked:
            for listener in self._revocation_listeners:
                listener(revoked)
        return len(revoked)

    # -- credits ---------------------------------------------------------------------------------

    def balance(self, account_id: int) -> int:
        """The account's balance; ``NotFound`` for an unknown account. One query: it is on the
        path of ``GET /v4/account``."""
        total = (
            select(func.coalesce(func.sum(credit_ledger.c.delta), 0))
            .where(credit_ledger.c.account_id == account_id)
            .scalar_subquery()
        )
        with self._db.read_one() as conn:
            row = conn.execute(select(accounts.c.id, total).where(accounts.c.id == account_id)).first()
        if row is None:
            raise NotFound(f"Account {account_id} not found")
        return int(row[1])

    def available(self, account_id: int) -> int:
        """The balance minus what active downloads hold: what new work may spend."""
        with self._db.read() as conn:
            self._require_account(conn, account_id)
            return self.available_in(conn, account_id)

    def held(self, account_id: int) -> int:
        with self._db.read() as conn:
            return holds.held_in(conn, account_id)

    def credits(self, account_id: int) -> tuple[int, int]:
        """(available, held), read by one statement: a file's charge and the shrinking of its hold
        commit together, and one snapshot sees both or neither (PostgreSQL's READ COMMITTED gives
        each statement its own)."""
        available, held, _secret = self.credits_and_webhook_secret(account_id)
        return available, held

    def credits_and_webhook_secret(self, account_id: int) -> tuple[int, int, str | None]:
        """:meth:`credits` and the account's webhook secret (None until one is made, see
        :mod:`dlserve.webhooks.account_secret`), in the same one statement (``GET /v4/account``)."""
        balance = (
            select(func.coalesce(func.sum(credit_ledger.c.delta), 0))
            .where(credit_ledger.c.account_id == account_id)
            .scalar_subquery()
        )
        # One statement (on GET /v4/account's path): the account row proves it exists.
        query = select(accounts.c.id, balance, holds.held_query(account_id), accounts.c.webhook_secret).where(
            accounts.c.id == account_id
        )
        with self._db.read_one() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"Account {account_id} not found")
        return int(row[1]) - int(row[2]), int(row[2]), row[3]

    def available_in(self, conn: Connection, account_id: int) -> int:
        return self.balance_in(conn, account_id) - holds.held_in(conn, account_id)

    def hold_in(self, conn: Connection, account_id: int, download_id: int, amount: int) -> None:
        """Reserve ``amount`` credits for a download inside the caller's ``db.write()`` transaction.

        Raises ``InsufficientCredits`` (and the caller's transaction, queuing the download, rolls
        back) when the available balance is short.
        """
        self.check_available_in(conn, account_id, amount)
        if amount:
            holds.place_in(conn, account_id, download_id, amount, self._clock.now())

    def check_available_in(self, conn: Connection, account_id: int, amount: int) -> None:
        """Lock the account and raise ``InsufficientCredits`` unless ``amount`` is available."""
        if amount < 0:
            raise ValueError(f"hold amount must not be negative, got {amount}")
        self.lock_account_in(conn, account_id)
        balance = self.balance_in(conn, account_id)
        held = holds.held_in(conn, account_id)
        if balance - held < amount:
            reserved = f" ({held} held by active downloads)" if held else ""
            raise InsufficientCredits(
                "Insufficient credits for this download",
                [
                    ErrorDetail(
                        "credits",
                        f"this download needs {amount} credits, the balance is {balance - held}{reserved}",
                    )
                ],
            )

    def settle_hold_in(
        self, conn: Connection, account_id: int, download_id: int, part_no: int, records: int
    ) -> bool:
        """Charge a committed file's records against the download's hold (one transaction: the
        available balance does not move). False when this part was already charged."""
        charged = self.charge_in(
            conn,
            account_id,
            records,
            "download",
            download_id=download_id,
            part_no=part_no,
            require_balance=False,  # the hold already reserved these credits
        )
        if charged:
            holds.shrink_in(conn, download_id, records, self._clock.now())
        return charged

    def release_hold_in(self, conn: Connection, download_id: int) -> None:
        """The download ended (cancelled, failed, completed): what it still holds is available."""
        holds.release_in(conn, download_id, self._clock.now())

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
        """Take ``amount`` credits, in a transaction of its own. See :meth:`charge_in`.

        Nothing to take (a free count, an empty page) opens no transaction at all: the write
        lock and the commit would be most of such a request's time."""
        if amount == 0:
            _check_reason(reason)
            return True
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
        self.lock_account_in(conn, account_id)
        idempotent = download_id is not None and part_no is not None
        if idempotent and self._part_already_charged(conn, download_id, part_no):
            return False
        if require_balance:
            balance = self.available_in(conn, account_id)
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

    def lock_account_in(self, conn: Connection, account_id: int) -> None:
        """Serialise charges and holds of one account: on PostgreSQL the row lock makes the balance
        read below current until commit. SQLite renders no FOR UPDATE; its BEGIN IMMEDIATE write
        transaction already excludes every other writer."""
        locked = conn.execute(
            select(accounts.c.id).where(accounts.c.id == account_id).with_for_update()
        ).first()
        if locked is None:
            raise NotFound(f"Account {account_id} not found")

    def _require_account(self, conn: Connection, account_id: int) -> None:
        if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
            raise NotFound(f"Account {account_id} not found")

    def _issue_token_in(self, conn: Connection, account_id: int) -> str:
        token = new_token()
        now = self._clock.now()
        conn.execute(
            api_tokens.insert().values(
                account_id=account_id,
                token_hash=hash_token(token),
                token_prefix=display_prefix(token),
                created_at=now,
                expires_at=None if self._token_ttl is None else now + self._token_ttl,
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
