"""A reconciliation job: walk the statements of many accounts at once, check each as it streams.

    python examples/reconcile.py                        # a demo against a seeded simulator
    python examples/reconcile.py INPUT.csv REPORT.csv   # WEAVR_API_KEY, WEAVR_BASE_URL

INPUT.csv has the header `identity_type,identity_id,account_id`, one account a row: the API
cannot list an identity's accounts, so the job is told them. Each statement is walked oldest
first and checked page by page, in constant memory, by the checks of `weavr_async.reconcile`:
the opening balance plus every adjustment must give the closing balance, each entry's
balance-after must follow from the previous one, and no entry may appear twice. REPORT.csv gets
one row per account; the exit status is 1 if any account failed to reconcile.

This is a job of your own built on those checks. The whole job, with cards, the cross-ledger
checks against transfers, checkpoints to resume from and a Dask executor, is the library's
`weavr_async.reconcile` and the `weavr-async reconcile` command.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from weavr_async import (
    SANDBOX_URL,
    BackOffice,
    Identity,
    Page,
    RateBudget,
    StatementEntry,
    WeavrError,
)
from weavr_async.reconcile import StatementChecks
from weavr_async.testing import FakeBackOffice

IDENTITY_TYPES = {"CORPORATE": Identity.corporate, "CONSUMER": Identity.consumer}


@dataclasses.dataclass(frozen=True)
class AccountRow:
    identity: Identity
    account_id: str


@dataclasses.dataclass(frozen=True)
class ReportRow:
    identity_type: str
    identity_id: str
    account_id: str
    currency: str | None
    entries: int
    start: int | None  # balances in minor units
    end: int | None
    result: str  # "ok", or what failed


class StatementCheck:
    """The checks of one statement walked oldest first, fed one page at a time: those of
    `weavr_async.reconcile` (the balance-after chain, start + adjustments = end, no
    transaction twice), in constant memory, told the way this job's report wants them."""

    def __init__(self) -> None:
        self.checks = StatementChecks()

    def add(self, page: Page[StatementEntry]) -> None:
        # Every page carries the balances of the walk's window: the opening one is the first
        # page's, the closing one the last page's.
        self.checks.add_page(page.items, page.start_balance, page.end_balance)

    @property
    def currency(self) -> str | None:
        return self.checks.currency

    @property
    def start(self) -> int | None:
        return self.checks.start

    @property
    def end(self) -> int | None:
        return self.checks.end

    @property
    def entries(self) -> int:
        return self.checks.entries

    @property
    def chain_breaks(self) -> int:
        return self.checks.breaks.count

    @property
    def duplicates(self) -> int:
        return self.checks.duplicates.count

    def verdict(self) -> str:
        checks = self.checks
        problems = []
        if checks.outcomes()["balance_equation"].failed:
            if checks.start is None or checks.end is None:
                problems.append("no start/end balance")
            else:
                gap = checks.end - checks.start - checks.adjustments
                problems.append(f"start + adjustments misses end by {gap:+}")
        if self.chain_breaks:
            problems.append(f"{self.chain_breaks} balance-after break(s)")
        if self.duplicates:
            problems.append(f"{self.duplicates} duplicate(s)")
        return "; ".join(problems) or "ok"


async def reconcile(
    bo: BackOffice,
    rows: Iterable[AccountRow],
    report_path: str | os.PathLike[str],
    *,
    concurrency: int = 4,
    accounts_at_once: int = 32,
) -> list[ReportRow]:
    """Reconcile every account of `rows` concurrently; write and return the report (input order).

    Requests in flight are capped by `bo` (its `max_concurrency`, shared by every walk) and by
    `concurrency` per walk; `accounts_at_once` only bounds memory, as each walk under way holds
    up to `concurrency` pages.
    """
    walks = asyncio.Semaphore(accounts_at_once)

    async def reconcile_one(row: AccountRow) -> ReportRow:
        async with walks:
            return await reconcile_account(bo, row, concurrency)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(reconcile_one(row)) for row in rows]
    report = [task.result() for task in tasks]
    await asyncio.to_thread(write_report, Path(report_path), report)
    return report


async def reconcile_account(bo: BackOffice, row: AccountRow, concurrency: int) -> ReportRow:
    check = StatementCheck()
    try:
        accounts = bo.identity(row.identity).managed_accounts
        statement = accounts.statement(row.account_id, order="ASC", concurrency=concurrency)
        async for page in statement.pages():
            check.add(page)
        result = check.verdict()
    except WeavrError as exc:
        # One bad row (a mistyped id, an account of another identity) must not sink the job.
        result = f"error: {exc}"
    return ReportRow(
        row.identity.type,
        row.identity.id,
        row.account_id,
        check.currency,
        check.entries,
        check.start,
        check.end,
        result,
    )


def read_rows(path: Path) -> list[AccountRow]:
    with path.open(newline="") as file:
        rows = []
        for line, record in enumerate(csv.DictReader(file), start=2):
            make_identity = IDENTITY_TYPES.get(record["identity_type"].strip().upper())
            if make_identity is None:
                raise ValueError(f"{path}:{line}: identity_type must be CORPORATE or CONSUMER")
            identity = make_identity(record["identity_id"].strip())
            rows.append(AccountRow(identity, record["account_id"].strip()))
    return rows


def write_report(path: Path, report: list[ReportRow]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(field.name for field in dataclasses.fields(ReportRow))
        writer.writerows(dataclasses.astuple(row) for row in report)


async def run(
    rows: list[AccountRow],
    report_path: Path,
    api_key: str,
    base_url: str,
    budget: RateBudget | None = None,
) -> list[ReportRow]:
    # One client for the whole job: one token per identity, and one cap of 32 requests in
    # flight shared by all walks (4 each), so the load on the API stays the same however many
    # accounts the job is given.
    # The client paces requests within the API's budget (Weavr's standard limits unless told
    # otherwise): a job larger than the hour's budget waits for it.
    async with BackOffice(api_key, base_url=base_url, max_concurrency=32, budget=budget) as bo:
        return await reconcile(bo, rows, report_path, concurrency=4)


async def demo(workdir: Path) -> list[ReportRow]:
    """Seed a simulator with 20 identities of 2 accounts each, then run the job on them."""
    async with FakeBackOffice(seed=1) as fake:
        accounts = []
        for n in range(20):
            identity = fake.add_identity("CORPORATE" if n % 2 else "CONSUMER")
            for _ in range(2):
                account = fake.add_managed_account(identity, currency="EUR", history=2_000)
                accounts.append((identity.type, identity.id, account.id))
        input_path = workdir / "accounts.csv"
        await asyncio.to_thread(write_accounts, input_path, accounts)
        rows = await asyncio.to_thread(read_rows, input_path)
        # The simulator has no rate limits: nothing to pace.
        unlimited = RateBudget.unlimited()
        return await run(rows, workdir / "report.csv", fake.api_key, fake.url, unlimited)


def write_accounts(path: Path, accounts: Sequence[tuple[str, str, str]]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(("identity_type", "identity_id", "account_id"))
        writer.writerows(accounts)


def main(args: list[str]) -> int:
    if not args:
        workdir = Path(tempfile.mkdtemp(prefix="weavr-reconcile-"))
        report_path = workdir / "report.csv"
        print(f"No arguments: a demo against a seeded simulator, in {workdir}")
        report = asyncio.run(demo(workdir))
    elif len(args) == 2:
        api_key = os.environ.get("WEAVR_API_KEY") or sys.exit("WEAVR_API_KEY is not set")
        base_url = os.environ.get("WEAVR_BASE_URL", SANDBOX_URL)
        report_path = Path(args[1])
        report = asyncio.run(run(read_rows(Path(args[0])), report_path, api_key, base_url))
    else:
        sys.exit(__doc__)
    failed = sum(row.result != "ok" for row in report)
    entries = sum(row.entries for row in report)
    print(f"{len(report)} accounts, {entries} entries: {failed} failed to reconcile")
    print(f"report: {report_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
