"""The examples in examples/ run as documented, against the simulator.

The quickstart runs as the user runs it (a subprocess); the web app and the reconciliation job
are loaded from their files and driven in-process against a simulator.
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import attrs
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from weavr_async import BackOffice, Identity, RateBudget
from weavr_async.testing import FakeBackOffice, RecordedRequest, SeededIdentity, SeededInstrument

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py by path (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


web_app = load_example("web_app")
reconcile = load_example("reconcile")


def identity_of(seeded: SeededIdentity) -> Identity:
    return (
        Identity.corporate(seeded.id)
        if seeded.type == "CORPORATE"
        else Identity.consumer(seeded.id)
    )


def kind_of(seeded: SeededIdentity) -> str:
    return "corporates" if seeded.type == "CORPORATE" else "consumers"


@pytest.fixture
async def simulator() -> AsyncIterator[FakeBackOffice]:
    """A simulator without the `fake` fixture's contract validation, which costs about a
    millisecond per statement entry served; the tests that move thousands of entries use it."""
    async with FakeBackOffice(seed=11) as server:
        yield server


# -- quickstart ----------------------------------------------------------------------------------


def test_quickstart_runs_as_written() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [
        "account",
        "statement:",
        "transfer",
        "blocked",
    ]
    assert lines[1].startswith("statement: 5000 entries, EUR 0 + ")
    assert lines[2].endswith("COMPLETED EUR 2500")
    assert lines[3].startswith("blocked twice: INSTRUMENT_ALREADY_BLOCKED (request-ref ")
    assert done.stderr == ""


# -- web app -------------------------------------------------------------------------------------


@pytest.fixture
async def service(simulator: FakeBackOffice) -> AsyncIterator[TestClient[Any, Any]]:
    """The web app on 127.0.0.1 (a free port), in front of the simulator."""
    app = web_app.create_app(simulator.api_key, simulator.url)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def account_url(owner: SeededIdentity, account_id: str) -> str:
    return f"/{kind_of(owner)}/{owner.id}/accounts/{account_id}"


async def test_web_app_serves_concurrent_requests_with_one_token_per_identity(
    simulator: FakeBackOffice, service: TestClient[Any, Any]
) -> None:
    owners = [simulator.add_identity(t) for t in ("CORPORATE", "CONSUMER", "CORPORATE", "CONSUMER")]
    accounts = [
        (owner, simulator.add_managed_account(owner, history=650 + 100 * n))  # 2 pages each
        for owner in owners
        for n in range(2)
    ]

    async def balance(owner: SeededIdentity, account: SeededInstrument) -> None:
        async with service.get(account_url(owner, account.id)) as response:
            assert response.status == 200
            body = await response.json()
        assert body["id"] == account.id
        assert body["actual_balance"] == simulator.instrument_balance(account)

    async def statement(owner: SeededIdentity, account: SeededInstrument) -> None:
        async with service.get(account_url(owner, account.id) + "/statement") as response:
            assert response.status == 200
            assert response.content_type == "application/x-ndjson"
            lines = [orjson.loads(line) async for line in response.content]
        assert lines == simulator.ledger(account)

    calls = [balance(o, a) for o, a in accounts for _ in range(4)]
    calls += [statement(o, a) for o, a in accounts for _ in range(2)]
    await asyncio.gather(*calls)  # 48 requests at once, through one shared client

    assert simulator.count("requestAccessToken") == len(owners)


async def test_web_app_maps_sdk_errors_to_http_statuses(
    simulator: FakeBackOffice, service: TestClient[Any, Any]
) -> None:
    acme, other = simulator.add_identity("CORPORATE"), simulator.add_identity("CORPORATE")
    foreign = simulator.add_managed_account(other).id
    refused = simulator.add_identity("CONSUMER")
    simulator.refuse_identity(refused)  # its token request answers 409
    cases = [
        (account_url(acme, "999999999"), 404, "NotFound"),
        (account_url(acme, "999999999") + "/statement", 404, "NotFound"),
        (account_url(acme, foreign), 403, "Forbidden"),
        (account_url(acme, foreign) + "/statement", 403, "Forbidden"),
        (account_url(acme, "not-an-id"), 400, "InvalidRequest"),
        (f"/consumers/{refused.id}/accounts/{foreign}", 502, "Conflict"),
    ]
    for path, status, error in cases:
        async with service.get(path) as response:
            body = await response.json()
            assert (response.status, body["error"]) == (status, error), path
        # The API's request-ref travels on; a request refused client-side never had one.
        if error == "InvalidRequest":
            assert body["request_ref"] is None
        else:
            assert body["request_ref"], path


async def test_web_app_cuts_a_statement_that_fails_midway() -> None:
    def fail_second_page(request: RecordedRequest) -> str | None:
        second = (
            request.operation_id == "managedAccountStatement" and ("offset", "500") in request.query
        )
        return "injected failure" if second else None

    async with FakeBackOffice(seed=3, request_validator=fail_second_page) as fake:
        owner = fake.add_identity("CORPORATE")
        account = fake.add_managed_account(owner, history=1_200)
        app = web_app.create_app(fake.api_key, fake.url)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            response = await client.get(account_url(owner, account.id) + "/statement")
            assert response.status == 200  # the first page was in before the answer started
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()  # never a body that looks complete


# -- reconciliation job --------------------------------------------------------------------------


async def test_reconcile_reports_every_account(simulator: FakeBackOffice, tmp_path: Path) -> None:
    owners = [simulator.add_identity("CORPORATE" if n % 2 else "CONSUMER") for n in range(6)]
    seeded = [
        (o, simulator.add_managed_account(o, history=520 + 40 * n))
        for o in owners
        for n in range(2)
    ]
    rows = [reconcile.AccountRow(identity_of(o), a.id) for o, a in seeded]
    stranger = reconcile.AccountRow(identity_of(owners[0]), seeded[-1][1].id)  # not its account
    report_path = tmp_path / "report.csv"

    async with BackOffice(
        simulator.api_key, base_url=simulator.url, max_concurrency=8, budget=RateBudget.unlimited()
    ) as bo:
        report = await reconcile.reconcile(bo, [*rows, stranger], report_path, concurrency=2)

    assert len(report) == len(rows) + 1
    for row, (owner, account) in zip(report[:-1], seeded, strict=True):
        assert (row.identity_id, row.account_id, row.result) == (owner.id, account.id, "ok")
        assert row.entries == len(simulator.ledger(account))
        assert row.end == simulator.instrument_balance(account)
    assert report[-1].result.startswith("error: ")
    assert "403" in report[-1].result
    assert simulator.count("requestAccessToken") == len(owners)

    with report_path.open(newline="") as file:
        written = list(csv.DictReader(file))
    assert [r["account_id"] for r in written] == [r.account_id for r in report]
    assert [r["result"] for r in written] == [r.result for r in report]


async def test_reconcile_runs_from_the_command_line(
    simulator: FakeBackOffice, tmp_path: Path
) -> None:
    owner = simulator.add_identity("CORPORATE")
    own = [simulator.add_managed_account(owner, history=50).id for _ in range(2)]
    foreign = simulator.add_managed_account(simulator.add_identity("CONSUMER")).id
    accounts = tmp_path / "accounts.csv"
    lines = [f"CORPORATE,{owner.id},{account}" for account in [*own, foreign]]
    accounts.write_text("\n".join(["identity_type,identity_id,account_id", *lines]) + "\n")
    report = tmp_path / "report.csv"
    env = {**os.environ, "WEAVR_API_KEY": simulator.api_key, "WEAVR_BASE_URL": simulator.url}

    # The simulator is served by this test's event loop: the job must run alongside it.
    job = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "reconcile.py"),
        str(accounts),
        str(report),
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(job.communicate(), timeout=30)

    assert job.returncode == 1  # one account failed to reconcile
    assert output.decode().splitlines() == [
        "3 accounts, 100 entries: 1 failed to reconcile",
        f"report: {report}",
    ]
    results = [row["result"] for row in csv.DictReader(report.read_text().splitlines())]
    assert results[:2] == ["ok", "ok"]
    assert results[2].startswith("error: ")


async def test_reconcile_flags_duplicates_and_broken_balances(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, history=300)
    statement = bo.identity(corp).managed_accounts.statement(account.id, order="ASC", page_size=100)
    pages = [page async for page in statement.pages()]
    pages[1].items.insert(0, pages[0].items[-1])  # replayed across a page boundary
    broken = pages[2].items[5]
    adjustment = broken.actual_balance_adjustment
    assert adjustment is not None
    # Amounts are frozen values (shared between fields): the entry gets a changed one.
    broken.actual_balance_adjustment = attrs.evolve(adjustment, amount=adjustment.amount + 1)

    check = reconcile.StatementCheck()
    for page in pages:
        check.add(page)

    assert check.duplicates == 1
    assert check.chain_breaks >= 1
    verdict = check.verdict()
    assert "duplicate" in verdict
    assert "misses end by" in verdict


def test_reconcile_reads_its_input(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("identity_type,identity_id,account_id\nconsumer, 12 ,34\nCORPORATE,56,78\n")
    assert reconcile.read_rows(path) == [
        reconcile.AccountRow(Identity.consumer("12"), "34"),
        reconcile.AccountRow(Identity.corporate("56"), "78"),
    ]
    path.write_text("identity_type,identity_id,account_id\nPARTNER,1,2\n")
    with pytest.raises(ValueError, match=":2: identity_type"):
        reconcile.read_rows(path)


def test_the_readme_quickstart_is_the_example_that_runs() -> None:
    """The README shows examples/quickstart.py, which the test above runs: they must not drift."""
    root = Path(__file__).resolve().parents[1]
    example = (root / "examples" / "quickstart.py").read_text()
    code = example[example.index("import asyncio") :].rstrip()
    assert f"```python\n{code}\n```" in (root / "README.md").read_text()


# -- webhook receiver ----------------------------------------------------------------------------

webhook_receiver = load_example("webhook_receiver")


def test_webhook_receiver_demo_runs_as_written() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "webhook_receiver.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "WEAVR_API_KEY"},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    bulk_id = lines[-2].removeprefix("wait: bulk ").removesuffix(" COMPLETED")
    assert bulk_id.isdigit(), lines
    assert lines == [
        f"webhook: bulk {bulk_id}: RUNNING, 0/5 done",
        f"webhook: bulk {bulk_id}: RUNNING, 2/5 done",
        f"webhook: bulk {bulk_id}: RUNNING, 4/5 done",
        f"webhook: bulk {bulk_id}: COMPLETED, 5/5 done",  # the final state, last
        f"wait: bulk {bulk_id} COMPLETED",
        "deliveries: 4, refused: 0",
    ]
    assert done.stderr == ""


async def test_webhook_receiver_handles_only_verified_deliveries_once() -> None:
    import time

    from weavr_async import webhooks

    api_key = "receiver-test-key"
    handled: list[dict[str, Any]] = []

    async def handle(event: dict[str, Any]) -> None:
        handled.append(event)

    app = webhook_receiver.create_app(api_key, handle)
    body = b'{"bulkId":"1001","status":"COMPLETED"}'
    stale_ms = int((time.time() - 600) * 1000)
    cases: list[tuple[str, bytes, dict[str, str], int, str | None]] = [
        ("verified", body, webhooks.sign(body, api_key, call_ref="a"), 200, None),
        ("tampered body", body.replace(b"1001", b"1002"), webhooks.sign(body, api_key), 401,
         "mismatch"),
        ("another key", body, webhooks.sign(body, "not-the-key"), 401, "mismatch"),
        ("unsigned", body, {}, 401, "missing"),
        ("stale", body, webhooks.sign(body, api_key, timestamp_ms=stale_ms), 401, "stale"),
        ("not JSON", b"{", webhooks.sign(b"{", api_key), 400, None),
        ("the first again", body, webhooks.sign(body, api_key, call_ref="a"), 200, None),
    ]  # fmt: skip
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for name, payload, headers, status, reason in cases:
            async with client.post(webhook_receiver.PATH, data=payload, headers=headers) as answer:
                assert answer.status == status, name
                if reason is not None:
                    assert (await answer.json()) == {"error": reason}, name

    assert handled == [{"bulkId": "1001", "status": "COMPLETED"}]  # once, and only that one
