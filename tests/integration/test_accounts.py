"""AccountService against real SQLite and PostgreSQL: accounts, logins, tokens and credits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dlserve.accounts.services import Account, AccountService
from dlserve.clock import FrozenClock
from dlserve.db.engine import Database
from dlserve.db.tables import credit_ledger, download_files, downloads
from dlserve.errors import Conflict, ErrorDetail, InsufficientCredits, Invalid, NotFound, Unauthorized


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2024, 12, 25, 10, 0, 0, tzinfo=UTC))


@pytest.fixture
def service(db: Database, clock: FrozenClock) -> AccountService:
    return AccountService(db, clock)


def insert_download(db: Database, account_id: int, clock: FrozenClock) -> int:
    with db.write() as conn:
        return int(
            conn.execute(
                downloads.insert()
                .values(
                    account_id=account_id,
                    data_type="businesses",
                    query="name:hilton",
                    format="csv",
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
                .returning(downloads.c.id)
            ).scalar_one()
        )


def ledger_rows(db: Database, account_id: int) -> list[tuple[int, str, int | None, int | None]]:
    with db.read() as conn:
        rows = conn.execute(
            select(
                credit_ledger.c.delta,
                credit_ledger.c.reason,
                credit_ledger.c.download_id,
                credit_ledger.c.part_no,
            )
            .where(credit_ledger.c.account_id == account_id)
            .order_by(credit_ledger.c.id)
        ).all()
    return [(int(r.delta), r.reason, r.download_id, r.part_no) for r in rows]


# -- accounts ------------------------------------------------------------------------------------


def test_create_account_issues_a_working_token_and_grants_credits(
    service: AccountService, db: Database, clock: FrozenClock
) -> None:
    created = service.create_account("Ann@Example.com ", credits=250)

    assert created.email == "ann@example.com"
    assert created.token.startswith("dls_")
    account = service.authenticate(created.token)
    assert account == Account(id=created.id, email="ann@example.com", plan_id="free", created_at=clock.now())
    assert account.created_at.tzinfo is UTC
    assert service.balance(created.id) == 250
    assert ledger_rows(db, created.id) == [(250, "grant", None, None)]


def test_create_account_without_credits_writes_no_ledger_row(service: AccountService, db: Database) -> None:
    created = service.create_account("zero@example.com")
    assert service.balance(created.id) == 0
    assert ledger_rows(db, created.id) == []


@pytest.mark.parametrize("email", ["", "no-at-sign", "@example.com", "ann@", "ann@b@example.com", "  "])
def test_create_account_rejects_malformed_emails(service: AccountService, email: str) -> None:
    with pytest.raises(Invalid) as raised:
        service.create_account(email)
    assert raised.value.details == [ErrorDetail("email", "Invalid email format")]


def test_duplicate_email_is_a_conflict_whatever_the_case(service: AccountService) -> None:
    service.create_account("ann@example.com")
    with pytest.raises(Conflict):
        service.create_account("ANN@example.com")


def test_get_and_find_accounts(service: AccountService) -> None:
    created = service.create_account("bob@example.com")

    assert service.get_account(created.id).email == "bob@example.com"
    found = service.find_by_email("BOB@example.com")
    assert found is not None
    assert found.id == created.id
    assert service.find_by_email("nobody@example.com") is None
    with pytest.raises(NotFound):
        service.get_account(created.id + 1000)


# -- logins and tokens ---------------------------------------------------------------------------


def test_login_with_the_right_password_returns_a_new_token(service: AccountService) -> None:
    created = service.create_account("carol@example.com", password="correct horse")

    token = service.login("Carol@example.com", "correct horse")

    assert token != created.token
    assert service.authenticate(token).id == created.id
    assert service.authenticate(created.token).id == created.id


@pytest.mark.parametrize(
    ("email", "password"),
    [("carol@example.com", "wrong"), ("nobody@example.com", "correct horse"), ("nopass@example.com", "")],
)
def test_login_failures_all_say_the_same(service: AccountService, email: str, password: str) -> None:
    service.create_account("carol@example.com", password="correct horse")
    service.create_account("nopass@example.com")  # no password: token-only account

    with pytest.raises(Unauthorized) as raised:
        service.login(email, password)
    assert raised.value.message == "Invalid email or password"


@pytest.mark.parametrize("token", ["", "dls_not-a-real-token", "garbage"])
def test_unknown_tokens_are_rejected(service: AccountService, token: str) -> None:
    service.create_account("dave@example.com")
    with pytest.raises(Unauthorized):
        service.authenticate(token)


def test_revoked_tokens_are_rejected(service: AccountService) -> None:
    created = service.create_account("erin@example.com")
    spare = service.issue_token(created.id)

    assert service.revoke_token(created.token) is True
    assert service.revoke_token(created.token) is False
    with pytest.raises(Unauthorized):
        service.authenticate(created.token)
    assert service.authenticate(spare).id == created.id


def test_issue_token_for_unknown_account_is_not_found(service: AccountService) -> None:
    with pytest.raises(NotFound):
        service.issue_token(424242)


# -- credits -------------------------------------------------------------------------------------


def test_grant_and_charge_move_the_balance(service: AccountService, db: Database) -> None:
    account_id = service.create_account("frank@example.com", credits=10).id

    service.grant(account_id, 5)
    assert service.charge(account_id, 12, "preview") is True

    assert service.balance(account_id) == 3
    assert ledger_rows(db, account_id) == [
        (10, "grant", None, None),
        (5, "grant", None, None),
        (-12, "preview", None, None),
    ]


def test_charge_beyond_the_balance_raises_with_details(service: AccountService, db: Database) -> None:
    account_id = service.create_account("gina@example.com", credits=7).id

    with pytest.raises(InsufficientCredits) as raised:
        service.charge(account_id, 8, "paginate")

    assert raised.value.status_code == 402
    assert raised.value.details == [ErrorDetail("credits", "this request costs 8 credits, the balance is 7")]
    assert service.balance(account_id) == 7
    assert len(ledger_rows(db, account_id)) == 1


def test_charge_without_requiring_the_balance_may_overdraw(service: AccountService) -> None:
    account_id = service.create_account("hank@example.com", credits=2).id
    assert service.charge(account_id, 5, "record", require_balance=False) is True
    assert service.balance(account_id) == -3


def test_zero_charge_writes_nothing(service: AccountService, db: Database) -> None:
    account_id = service.create_account("ivy@example.com").id
    assert service.charge(account_id, 0, "preview") is True
    assert ledger_rows(db, account_id) == []


def test_charge_and_balance_of_unknown_account_are_not_found(service: AccountService) -> None:
    with pytest.raises(NotFound):
        service.charge(999, 1, "preview", require_balance=False)
    with pytest.raises(NotFound):
        service.balance(999)
    with pytest.raises(NotFound):
        service.grant(999, 1)


def test_unknown_reason_and_negative_amounts_are_programming_errors(service: AccountService) -> None:
    account_id = service.create_account("jack@example.com", credits=5).id
    with pytest.raises(ValueError, match="reason"):
        service.charge(account_id, 1, "lunch")
    with pytest.raises(ValueError, match="negative"):
        service.charge(account_id, -1, "preview")
    with pytest.raises(Invalid):
        service.grant(account_id, -1)


def test_a_download_part_is_charged_at_most_once(
    service: AccountService, db: Database, clock: FrozenClock
) -> None:
    account_id = service.create_account("kate@example.com", credits=100).id
    download_id = insert_download(db, account_id, clock)

    assert service.charge(account_id, 30, "download", download_id=download_id, part_no=1) is True
    assert service.charge(account_id, 30, "download", download_id=download_id, part_no=1) is False
    # Even a retry that would no longer be affordable is a quiet no-op, not an error.
    assert service.charge(account_id, 500, "download", download_id=download_id, part_no=1) is False
    assert service.charge(account_id, 20, "download", download_id=download_id, part_no=2) is True

    assert service.balance(account_id) == 50
    assert ledger_rows(db, account_id)[1:] == [
        (-30, "download", download_id, 1),
        (-20, "download", download_id, 2),
    ]


def test_charge_in_commits_with_the_callers_rows_and_keeps_the_transaction_usable(
    service: AccountService, db: Database, clock: FrozenClock
) -> None:
    account_id = service.create_account("liam@example.com", credits=100).id
    download_id = insert_download(db, account_id, clock)
    service.charge(account_id, 10, "download", download_id=download_id, part_no=1)

    with db.write() as conn:
        # The duplicate is skipped without breaking the transaction (on PostgreSQL a failed
        # statement would abort it)...
        assert (
            service.charge_in(conn, account_id, 10, "download", download_id=download_id, part_no=1) is False
        )
        assert service.charge_in(conn, account_id, 15, "download", download_id=download_id, part_no=2) is True
        # ...so the caller's own row commits together with the charge.
        conn.execute(
            download_files.insert().values(
                download_id=download_id,
                part_no=2,
                name=f"{download_id}_2.csv",
                storage_key=f"files/{download_id}_2.csv",
                records=15,
                bytes=1234,
                sha256="0" * 64,
                created_at=clock.now(),
                expires_at=clock.now(),
            )
        )

    assert service.balance(account_id) == 75
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(download_files)).scalar_one() == 1


def test_charge_in_rolls_back_with_the_callers_transaction(
    service: AccountService, db: Database, clock: FrozenClock
) -> None:
    account_id = service.create_account("mia@example.com", credits=100).id
    download_id = insert_download(db, account_id, clock)

    def charge_then_fail() -> None:
        with db.write() as conn:
            service.charge_in(conn, account_id, 40, "download", download_id=download_id, part_no=1)
            raise RuntimeError("writing the file failed")

    with pytest.raises(RuntimeError):
        charge_then_fail()

    assert service.balance(account_id) == 100
    # The part was not recorded as charged, so the retry bills it.
    assert service.charge(account_id, 40, "download", download_id=download_id, part_no=1) is True
    assert service.balance(account_id) == 60


# -- concurrency ---------------------------------------------------------------------------------


def run_threads(count: int, target: Callable[[], object]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body() -> None:
        try:
            start.wait()
            target()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_concurrent_charges_never_overdraw(service: AccountService, db: Database) -> None:
    account_id = service.create_account("nina@example.com", credits=100).id
    successes: list[int] = []
    refusals: list[int] = []
    lowest_seen: list[int] = []
    done = threading.Event()

    def spend() -> None:
        for _ in range(20):
            try:
                service.charge(account_id, 1, "preview")
                successes.append(1)
            except InsufficientCredits:
                refusals.append(1)

    def watch() -> None:
        while not done.is_set():
            lowest_seen.append(service.balance(account_id))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        errors = run_threads(8, spend)
    finally:
        done.set()
        watcher.join()

    assert errors == []
    assert len(successes) == 100
    assert len(refusals) == 8 * 20 - 100
    assert service.balance(account_id) == 0
    assert min(lowest_seen) >= 0
    assert len(ledger_rows(db, account_id)) == 1 + 100


def test_concurrent_retries_of_the_same_parts_charge_each_once(
    service: AccountService, db: Database, clock: FrozenClock
) -> None:
    account_id = service.create_account("omar@example.com", credits=1000).id
    download_id = insert_download(db, account_id, clock)
    charged: list[int] = []

    def charge_parts() -> None:
        for part_no in range(1, 11):
            if service.charge(account_id, 7, "download", download_id=download_id, part_no=part_no):
                charged.append(part_no)

    assert run_threads(8, charge_parts) == []

    assert sorted(charged) == list(range(1, 11))
    assert service.balance(account_id) == 1000 - 70
