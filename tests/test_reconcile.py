"""`weavr_async.reconcile` in one process, and the `weavr-async reconcile` command.

The input is checked whole before anything is sent; books that hold pass every check; each
fault the simulator can plant fails exactly its check, for exactly its instrument; a window
reconciles only its entries; a run stopped midway (cancelled, or out of budget) resumes to
the results of an uninterrupted run; the command's exit codes say which of these happened.
"""

from __future__ import annotations

import asyncio
import csv
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from reconcile_books import client_settings, run_in_process, seed_books, until, write_input

from weavr_async import Identity, InstrumentRef, RateBudget, Retry, reconcile
from weavr_async.cli import main
from weavr_async.cli._reconcile_plan import Estimate
from weavr_async.testing import FakeBackOffice

FAULT_CHECKS = {
    "break_chain": "balance_chain",
    "misstate_end_balance": "balance_equation",
    "duplicate_entry": "unique_transactions",
    "drop_entry": "count",
    "lose_transfer": "transfers_on_statement",
    "forget_transfer": "statement_transfers_known",
}


@pytest.fixture
async def sim() -> AsyncIterator[FakeBackOffice]:
    """A simulator without contract validation (it costs a millisecond per entry served)."""
    async with FakeBackOffice(seed=21) as fake:
        yield fake


def lines_of(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# -- input ----------------------------------------------------------------------------------


def test_input_is_read_from_csv_or_json_lines(tmp_path: Path) -> None:
    table = tmp_path / "in.csv"
    table.write_text(
        "instrument_id,identity_id,identity_type,instrument_type,note\n"
        "20,1,corporate,managed_accounts,any\n"
        "\n"
        "21, 1 ,CORPORATE,MANAGED_CARDS,\n"
    )
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        '{"identity_type": "CONSUMER", "identity_id": "9", '
        '"instrument_type": "managed_cards", "instrument_id": 30}\n'
    )

    assert reconcile.read_targets(table) == [
        reconcile.Target(Identity.corporate("1"), InstrumentRef.managed_account("20")),
        reconcile.Target(Identity.corporate("1"), InstrumentRef.managed_card("21")),
    ]
    assert reconcile.read_targets(lines) == [
        reconcile.Target(Identity.consumer("9"), InstrumentRef.managed_card("30"))
    ]


def test_input_errors_name_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "identity_type,identity_id,instrument_type,instrument_id\n"
        "CORPORATE,1,managed_accounts,2\n"  # 2: fine
        "PARTNER,1,managed_accounts,3\n"  # 3
        "CORPORATE,1x,managed_accounts,4\n"  # 4
        "CORPORATE,1,managed_accounts,2\n"  # 5: line 2 again
        "CORPORATE,1,wallets,5\n"  # 6
        "CORPORATE,1\n"  # 7
        "CONSUMER,3,managed_cards,../6\n"  # 8
    )
    with pytest.raises(reconcile.InputError) as caught:
        reconcile.read_targets(path)

    problems = caught.value.problems
    assert [p.split(":")[1] for p in problems] == ["3", "4", "5", "6", "7", "8"]
    assert "CORPORATE or CONSUMER" in problems[0]
    assert "identity_id" in problems[1]
    assert "already on line 2" in problems[2]
    assert "managed_accounts or managed_cards" in problems[3]
    assert "expected 4 fields" in problems[4]
    assert "instrument_id" in problems[5]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty file"),
        ("identity_type,identity_id,instrument_id\n", "missing instrument_type"),
        ("identity_type,identity_id,instrument_type,instrument_id\n", "no instruments"),
        ('{"identity_type": "CORPORATE"\n', "not JSON"),
        ('["CORPORATE", "1", "managed_cards", "2"]\n', "expected a JSON object"),
        ('{"identity_type": "CORPORATE", "identity_id": "1", "instrument_id": "2"}\n', "missing"),
        (
            '{"identity_type": "CORPORATE", "identity_id": 1.5, '
            '"instrument_type": "managed_cards", "instrument_id": "2"}\n',
            "expected a string",
        ),
    ],
)
def test_input_refuses_what_is_not_a_list_of_instruments(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / ("in.jsonl" if text.startswith(("{", "[")) else "in.csv")
    path.write_text(text)
    with pytest.raises(reconcile.InputError, match=problem):
        reconcile.read_targets(path)


# -- checks ---------------------------------------------------------------------------------


async def test_books_that_hold_pass_every_check(sim: FakeBackOffice) -> None:
    books = await seed_books(sim, 4, transfers=2)
    sim.reset_requests()

    report = await run_in_process(sim, books.targets)

    assert report.exit_code == 0
    assert report.ok
    assert report.pending == 0
    assert [r.target for r in report.results] == books.targets
    for result in report.results:
        instrument = books.instruments[result.target.key]
        ledger = sim.ledger(instrument)
        assert result.entries == len(ledger)
        assert result.end_balance == sim.instrument_balance(instrument)
        assert result.transfers == sum(e["transactionId"]["type"] == "TRANSFER" for e in ledger)
        assert [result.checks[name].status for name in reconcile.CHECKS] == ["ok"] * 6
        assert result.error is None
    # One token and one transfers walk per identity, however many instruments it has.
    assert sim.count("requestAccessToken") == 4
    transfer_walks = [r for r in sim.requests if r.operation_id == "transfersGet"]
    assert all("id" not in dict(r.query) for r in transfer_walks)


@pytest.mark.parametrize("fault", list(FAULT_CHECKS))
async def test_a_fault_fails_exactly_its_check_for_its_instrument(
    sim: FakeBackOffice, fault: str
) -> None:
    books = await seed_books(sim, 3)
    victim = books.accounts()[1]
    concerned = sim.corrupt(victim, fault)  # type: ignore[arg-type]

    report = await run_in_process(sim, books.targets)

    assert report.exit_code == 1
    failed = {r.target.key: r.failed_checks for r in report.results if not r.ok}
    check = FAULT_CHECKS[fault]
    assert failed == {books.target(victim).key: [check]}
    outcome = next(r for r in report.results if not r.ok).checks[check]
    assert outcome.status == "failed"
    assert outcome.failures >= 1
    assert outcome.detail
    if fault not in ("misstate_end_balance", "drop_entry"):
        assert concerned in orjson.dumps(list(outcome.items)).decode()


async def test_unmatched_items_are_listed_up_to_a_bound_and_all_counted(
    sim: FakeBackOffice,
) -> None:
    books = await seed_books(sim, 1, history=400, transfers=0)
    account = books.accounts()[0]
    for _ in range(reconcile.MAX_LISTED + 5):
        sim.corrupt(account, "lose_transfer")

    report = await run_in_process(sim, books.targets)

    outcome = report.results[0].checks["transfers_on_statement"]
    assert outcome.failures == reconcile.MAX_LISTED + 5
    assert len(outcome.items) == reconcile.MAX_LISTED


async def test_a_window_reconciles_only_its_entries_and_transfers(sim: FakeBackOffice) -> None:
    books = await seed_books(sim, 2, history=500, card_history=200, transfers=0)
    account = books.accounts()[0]
    ledger = sim.ledger(account)
    start, end = ledger[100]["processedTimestamp"], ledger[300]["processedTimestamp"]
    inside = [e for e in ledger if start <= e["processedTimestamp"] < end]

    report = await run_in_process(sim, books.targets, window=reconcile.Window(start, end))

    assert report.exit_code == 0
    result = report.results[books.targets.index(books.target(account))]
    assert result.entries == len(inside)
    before = ledger[ledger.index(inside[0]) - 1]
    assert result.start_balance == before["actualBalanceAfter"]["amount"]
    assert result.end_balance == inside[-1]["actualBalanceAfter"]["amount"]
    assert result.transfers == sum(e["transactionId"]["type"] == "TRANSFER" for e in inside)


# -- stop and resume ------------------------------------------------------------------------


async def test_a_run_cancelled_midway_resumes_to_the_same_results(
    sim: FakeBackOffice, tmp_path: Path
) -> None:
    books = await seed_books(sim, 6, history=1500, card_history=400)
    sim.corrupt(books.accounts()[4], "break_chain")
    sim.corrupt(books.accounts()[5], "forget_transfer")
    expected = await run_in_process(sim, books.targets)
    full = sim.count("managedAccountStatement") + sim.count("managedCardStatement")
    state = tmp_path / "state"
    # Slow pages and a checkpoint after every one: the cancel finds walks midway.
    sim.latency = 0.003
    settings = reconcile.JobSettings(page_concurrency=2, checkpoint_every=0.0)
    finished: list[reconcile.InstrumentResult] = []
    async with reconcile.connect(sim.api_key, client_settings(sim)) as bo:
        run = asyncio.ensure_future(
            reconcile.reconcile(
                bo,
                books.targets,
                state=state,
                settings=settings,
                identities_at_once=3,
                on_result=finished.append,
            )
        )
        await until(lambda: len(finished) >= 2)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    saved = [orjson.loads(p.read_bytes()) for p in (state / "instruments").glob("*.json")]
    midway = [s for s in saved if s.get("walk") and s["walk"]["checkpoint"]]
    assert midway, "no walk was stopped midway with its checkpoint"
    sim.latency = 0.0
    sim.reset_requests()

    resumed = await run_in_process(sim, books.targets, state=state)

    assert reconcile.render_jsonl(resumed.results) == reconcile.render_jsonl(expected.results)
    assert sim.count("managedAccountStatement") + sim.count("managedCardStatement") < full


async def test_an_exhausted_budget_stops_the_run_and_a_resumed_run_finishes_it(
    sim: FakeBackOffice, tmp_path: Path
) -> None:
    books = await seed_books(sim, 4, history=1200)
    expected = await run_in_process(sim, books.targets)
    state = tmp_path / "state"
    sim.reset_requests()
    # 25 requests an hour, and no waiting for more: the run stops where the budget ends.
    tight = client_settings(
        sim, budget=((25, 3600.0),), retry=Retry(max_attempts=2, max_rate_limit_wait=0.0)
    )
    async with reconcile.connect(sim.api_key, tight) as bo:
        stopped = await reconcile.reconcile(bo, books.targets, state=state)

    assert stopped.exit_code == 3
    assert stopped.pending > 0
    assert stopped.stopped is not None
    assert "budget" in stopped.stopped
    assert len(sim.requests) <= 25  # the budget was never overdrawn

    resumed = await run_in_process(sim, books.targets, state=state)

    assert reconcile.render_jsonl(resumed.results) == reconcile.render_jsonl(expected.results)


async def test_a_resumed_run_retries_what_failed_for_a_while_not_what_the_books_said(
    sim: FakeBackOffice, tmp_path: Path
) -> None:
    books = await seed_books(sim, 4, history=600)
    sim.corrupt(books.accounts()[0], "break_chain")
    expected = await run_in_process(sim, books.targets)
    state = tmp_path / "state"
    sim.faults.error_rate = 0.3  # 5xx on almost a third of the requests, and no retries
    impatient = client_settings(sim, retry=Retry(max_attempts=1))
    async with reconcile.connect(sim.api_key, impatient) as bo:
        flaky = await reconcile.reconcile(bo, books.targets, state=state)
    errors = [r.error for r in flaky.results if r.error is not None]
    assert errors
    assert all("ServerError" in e for e in errors)
    assert flaky.exit_code == 1
    sim.faults.error_rate = 0.0

    resumed = await run_in_process(sim, books.targets, state=state)

    assert reconcile.render_jsonl(resumed.results) == reconcile.render_jsonl(expected.results)


async def test_a_state_directory_refuses_a_run_with_another_window(
    sim: FakeBackOffice, tmp_path: Path
) -> None:
    books = await seed_books(sim, 1, transfers=0)
    await run_in_process(sim, books.targets, state=tmp_path)
    with pytest.raises(reconcile.StateError, match="another run"):
        await run_in_process(sim, books.targets, state=tmp_path, window=reconcile.Window(1, 2))


# -- the command ----------------------------------------------------------------------------


async def command(*args: str) -> int:
    """`weavr-async reconcile ARGS` in a thread: the simulator keeps serving on this loop."""
    return await asyncio.to_thread(main, ["reconcile", *args])


async def test_an_unlimited_budget_leaves_the_environments_redis_url_alone(
    sim: FakeBackOffice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    books = await seed_books(sim, 2)
    source = write_input(tmp_path / "instruments.csv", books.targets)
    monkeypatch.setenv("WEAVR_API_KEY", sim.api_key)
    # `--redis` defaults to this, but an unlimited budget has nothing to share: nothing
    # listens there, and the run must not try it.
    monkeypatch.setenv("WEAVR_REDIS_URL", "redis://ops:hunter2@127.0.0.1:1/0")

    status = await command(
        "--input", str(source), "--base-url", sim.url, "--budget", "unlimited", "--quiet"
    )

    assert status == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == len(books.targets)
    assert "hunter2" not in captured.out + captured.err


async def test_command_exit_0_writes_results_and_a_summary(
    sim: FakeBackOffice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    books = await seed_books(sim, 3)
    source = write_input(tmp_path / "instruments.csv", books.targets)
    monkeypatch.setenv("WEAVR_API_KEY", sim.api_key)
    output, table = tmp_path / "results.jsonl", tmp_path / "results.csv"

    status = await command(
        "--input", str(source), "--base-url", sim.url, "--budget", "unlimited",
        "--output", str(output), "--csv", str(table),
    )  # fmt: skip

    assert status == 0
    results = lines_of(output)
    assert [r["instrument_id"] for r in results] == [t.instrument.id for t in books.targets]
    assert all(r["ok"] is True and r["failed_checks"] == [] for r in results)
    with table.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["instrument_id"] for r in rows] == [t.instrument.id for t in books.targets]
    assert {r["balance_chain"] for r in rows} == {"ok"}
    err = capsys.readouterr().err
    assert "plan: 6 instruments of 3 identities in this process; at least 18 requests" in err
    assert "plan, from the first 6 statements: ~" in err
    assert "every book holds" in err
    assert sim.api_key not in err


async def test_command_exit_1_names_the_instrument_and_the_check(
    sim: FakeBackOffice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    books = await seed_books(sim, 2)
    victim = books.target(books.accounts()[1])
    sim.corrupt(books.accounts()[1], "break_chain")
    source = write_input(tmp_path / "instruments.jsonl", [])
    source.write_text(
        "".join(
            orjson.dumps(
                {
                    "identity_type": t.identity.type,
                    "identity_id": t.identity.id,
                    "instrument_type": t.instrument.type,
                    "instrument_id": t.instrument.id,
                }
            ).decode()
            + "\n"
            for t in books.targets
        )
    )
    monkeypatch.setenv("WEAVR_API_KEY", sim.api_key)
    monkeypatch.setenv("WEAVR_BASE_URL", sim.url)

    status = await command("--input", str(source), "--budget", "unlimited")

    assert status == 1
    captured = capsys.readouterr()
    results = [orjson.loads(line) for line in captured.out.splitlines()]
    assert [(r["instrument_id"], r["failed_checks"]) for r in results if not r["ok"]] == [
        (victim.instrument.id, ["balance_chain"])
    ]
    assert f"{victim.owner} {victim.key}: balance_chain:" in captured.err
    assert "1 did NOT reconcile" in captured.err


async def test_command_exit_2_on_bad_input_or_usage_sends_nothing(
    sim: FakeBackOffice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("identity_type,identity_id,instrument_type,instrument_id\nCORPORATE,1,cards,2\n")
    good = write_input(
        tmp_path / "good.csv",
        [reconcile.Target(Identity.corporate("1"), InstrumentRef.managed_card("2"))],
    )
    monkeypatch.setenv("WEAVR_API_KEY", sim.api_key)
    base = ["--base-url", sim.url]

    assert await command("--input", str(bad), *base) == 2
    assert f"{bad}:2: instrument_type" in capsys.readouterr().err
    assert await command("--input", str(tmp_path / "missing.csv"), *base) == 2
    assert await command("--input", str(good), "--from", "2024-02-01", "--to", "2024-01-01") == 2
    assert await command("--input", str(good), "--workers", "0") == 2
    assert await command("--input", str(good), "--budget", "lots") == 2
    monkeypatch.delenv("WEAVR_API_KEY")
    assert await command("--input", str(good), *base) == 2
    assert "WEAVR_API_KEY is not set" in capsys.readouterr().err
    assert sim.count() == 0


async def test_command_exit_3_when_the_budget_runs_out_and_resume_finishes(
    sim: FakeBackOffice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    books = await seed_books(sim, 3, history=1000)
    sim.corrupt(books.accounts()[2], "lose_transfer")
    source = write_input(tmp_path / "instruments.csv", books.targets)
    monkeypatch.setenv("WEAVR_API_KEY", sim.api_key)
    common = ["--input", str(source), "--base-url", sim.url]
    straight, resumed, state = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "state"
    assert await command(*common, "--budget", "unlimited", "--output", str(straight)) == 1
    capsys.readouterr()

    status = await command(
        *common, "--budget", "20/3600", "--max-wait", "0", "--resume", str(state),
        "--output", str(resumed),
    )  # fmt: skip

    assert status == 3
    assert f"--resume {state}" in capsys.readouterr().err
    assert not resumed.exists()
    status = await command(
        *common, "--budget", "unlimited", "--resume", str(state), "--output", str(resumed)
    )
    assert status == 1
    assert resumed.read_bytes() == straight.read_bytes()
    # Run again on a finished state: the same results, without a request.
    sim.reset_requests()
    again = tmp_path / "c.jsonl"
    status = await command(*common, "--resume", str(state), "--output", str(again))
    assert status == 1
    assert again.read_bytes() == straight.read_bytes()
    assert sim.count() == 0


async def test_command_ctrl_c_saves_the_state_and_exits_3_then_resume_finishes(
    sim: FakeBackOffice, tmp_path: Path
) -> None:
    books = await seed_books(sim, 4, history=2000, card_history=500)
    source = write_input(tmp_path / "instruments.csv", books.targets)
    straight, resumed, state = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "state"
    common = ["--input", str(source), "--budget", "unlimited", "--resume", str(state)]
    env = {**_plain_env(), "WEAVR_API_KEY": sim.api_key, "WEAVR_BASE_URL": sim.url}
    expected = await run_in_process(sim, books.targets)
    sim.latency = 0.01  # slow enough to be interrupted midway
    job = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weavr_async", "reconcile", *common, "--output", str(resumed),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await until(lambda: any((state / "instruments").glob("*.json")))
    job.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(job.communicate(), 30)

    assert job.returncode == 3, err.decode()
    assert b"interrupted" in err
    assert f"--resume {state}".encode() in err
    assert not resumed.exists()
    sim.latency = 0.0
    job = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weavr_async", "reconcile", *common, "--output", str(resumed),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(job.communicate(), 30)
    assert job.returncode == 0, err.decode()
    straight.write_bytes(reconcile.render_jsonl(expected.results))
    assert resumed.read_bytes() == straight.read_bytes()


async def test_the_readme_commands_reconcile_the_simulated_books(tmp_path: Path) -> None:
    """`weavr-async simulate` writes an input; `weavr-async reconcile` checks its books."""
    source = tmp_path / "instruments.csv"
    simulator = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weavr_async", "simulate", "--port", "0", "--history", "600",
        "--input-file", str(source),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert simulator.stdout is not None
    try:
        env: dict[str, str] = {}
        async with asyncio.timeout(20):
            while not (line := (await simulator.stdout.readline()).decode()).startswith("Ctrl-C"):
                assert line, "simulate exited early"
                key, _, value = line.strip().partition("=")
                if key in ("WEAVR_API_KEY", "WEAVR_BASE_URL"):
                    env[key] = value
        job = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "weavr_async", "reconcile", "--budget", "unlimited",
            "--input", str(source), "--output", str(tmp_path / "results.jsonl"),
            env={**_plain_env(), **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(job.communicate(), 30)
    finally:
        simulator.send_signal(signal.SIGTERM)
        await asyncio.wait_for(simulator.wait(), 20)
    assert job.returncode == 0, err.decode()
    results = lines_of(tmp_path / "results.jsonl")
    assert len(results) == 4
    assert all(r["ok"] for r in results)
    assert b"every book holds" in err


def _plain_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("WEAVR_")}


def test_the_plan_estimates_the_requests_left_from_the_sizes_walks_told() -> None:
    targets = [
        reconcile.Target.of("CORPORATE", "1", "managed_accounts", "10"),
        reconcile.Target.of("CORPORATE", "1", "managed_cards", "11"),
        reconcile.Target.of("CONSUMER", "2", "managed_accounts", "20"),
    ]
    estimate = Estimate(targets, RateBudget([(10, 60.0)]))
    assert estimate.requests() is None
    assert estimate.text() == ""

    estimate.walked(targets[0], 500, 2_000)  # 3 pages left of 4 (+1 probe)
    estimate.walked(targets[1], 100, 300)  # 2 pages left of 3 (+1 probe)

    # The third, not begun, is taken as the average walk: (5 + 4) / 2 requests.
    assert estimate.requests() == 3 + 2 + 5
    assert estimate.text() == "~10 statement requests left, ~0 s under the budget"
    estimate.walked(targets[2], 0, 5_000)
    assert estimate.requests() == 3 + 2 + 10
    assert estimate.text().endswith("~60 s under the budget")  # 15 requests, 10 a minute


def test_the_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile", "--help"]) == 0
    out = capsys.readouterr().out
    assert "weavr-async reconcile" in out
    assert "--resume STATE_DIR" in out
