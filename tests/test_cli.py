"""The `weavr-async` command: demo, statement export (incl. interruption and resume), simulate.

Exports run as real subprocesses (`python -m weavr_async statement ...`) against the `fake`
simulator served by the test's own event loop, so signals, exit codes and output are the ones a
user sees.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from weavr_async import BackOffice, Identity, RateBudget, StatementEntry
from weavr_async.cli import main
from weavr_async.cli._progress import Bar, ProgressBoard, draw_bar
from weavr_async.cli._reconcile import StatementCheck
from weavr_async.models import CurrencyAmount, TransactionId, structure
from weavr_async.models.statement_csv import STATEMENT_CSV_COLUMNS as CSV_COLUMNS
from weavr_async.models.statement_csv import flatten_entry as flatten
from weavr_async.testing import FakeBackOffice

TIMEOUT = 20.0


def cli_env(api_key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVR_")}
    if api_key is not None:
        env["WEAVR_API_KEY"] = api_key
    return env


async def start_cli(*args: str, api_key: str | None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "weavr_async",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(api_key),
    )


async def run_cli(*args: str, api_key: str | None) -> tuple[int, bytes, bytes]:
    process = await start_cli(*args, api_key=api_key)
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out, err


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(int(TIMEOUT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def statement_args(fake: FakeBackOffice, corp: Identity, *rest: str) -> list[str]:
    return ["statement", "--base-url", fake.url, "--identity", f"corporate:{corp.id}", *rest]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# -- demo -----------------------------------------------------------------------------------


def test_demo_reconciles_every_walk_and_prints_the_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--entries", "3000", "--identities", "2", "--concurrency", "8"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if " account " in line or " card " in line]
    assert len(rows) == 8
    assert all(row.rstrip().endswith("OK") for row in rows)
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.rstrip().endswith("OK")
    assert "10 walks" in total
    assert "requests" in out
    assert "retries" in out
    assert "token requests" in out
    assert "all walks reconciled" in out


# -- statement ------------------------------------------------------------------------------


async def test_statement_jsonl_holds_every_entry_once_as_the_sdk_sees_it(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, tmp_path: Path
) -> None:
    account = fake.add_managed_account(corp.id, history=789)
    output = tmp_path / "statement.jsonl"
    status, out, err = await run_cli(
        *statement_args(fake, corp, "--account", account.id, "--output", str(output)),
        api_key=fake.api_key,
    )
    assert status == 0, err
    lines = read_jsonl(output)
    expected = await bo.identity(corp).managed_accounts.statement(account.id).collect()
    assert [structure(line, StatementEntry) for line in lines] == expected
    assert len({orjson.dumps(line["transactionId"]) for line in lines}) == 789
    assert fake.api_key.encode() not in out + err


async def test_statement_csv_flattens_each_entry_under_one_header(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, tmp_path: Path
) -> None:
    card = fake.add_managed_card(corp.id, history=345)
    output = tmp_path / "card.csv"
    status, _, err = await run_cli(
        *statement_args(fake, corp, "--card", card.id, "-o", str(output), "--order", "ASC"),
        api_key=fake.api_key,
    )
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(output.read_text())))
    expected = await bo.identity(corp).managed_cards.statement(card.id, order="ASC").collect()
    assert len(rows) == len(expected) == 345
    for row, entry in zip(rows, expected, strict=True):
        assert (row["transactionId.type"], row["transactionId.id"]) == (
            entry.transaction_id.type,
            entry.transaction_id.id,
        )
        assert int(row["processedTimestamp"]) == entry.processed_timestamp
        assert entry.actual_balance_after is not None
        assert int(row["actualBalanceAfter.amount"]) == entry.actual_balance_after.amount
    assert fake.api_key.encode() not in err


async def test_statement_to_stdout_with_filters(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, history=600)
    status, out, err = await run_cli(
        *statement_args(fake, corp, "--account", account.id, "--type", "DEPOSIT", "-q"),
        api_key=fake.api_key,
    )
    assert status == 0, err
    assert err == b""
    lines = [orjson.loads(line) for line in out.splitlines()]
    expected = await (
        bo.identity(corp).managed_accounts.statement(account.id, transaction_types=["DEPOSIT"])
    ).collect()
    assert [structure(line, StatementEntry) for line in lines] == expected
    assert lines
    assert all(line["transactionId"]["type"] == "DEPOSIT" for line in lines)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_statement_interrupted_then_resumed_writes_every_entry_exactly_once(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, tmp_path: Path, fmt: str
) -> None:
    account = fake.add_managed_account(corp.id, history=1_000)
    output = tmp_path / f"out.{fmt}"
    checkpoint = tmp_path / "walk.checkpoint"
    args = statement_args(
        fake,
        corp,
        *("--account", account.id, "--output", str(output), "--format", fmt),
        *("--checkpoint", str(checkpoint), "--page-size", "25", "--concurrency", "1"),
    )
    fake.latency = 0.02
    process = await start_cli(*args, api_key=fake.api_key)
    await until(lambda: fake.count("managedAccountStatement") >= 8)
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 130, err
    assert checkpoint.exists()
    assert b"resume" in err
    assert fake.api_key.encode() not in err
    partial = len(output.read_bytes().splitlines())
    assert 0 < partial < 1_000  # stopped mid-walk, with what it had received written out

    fake.latency = 0.0
    status, _, err = await run_cli(*args, api_key=fake.api_key)
    assert status == 0, err
    assert not checkpoint.exists()
    expected = await bo.identity(corp).managed_accounts.statement(account.id).collect()
    if fmt == "jsonl":
        ids = [
            (line["transactionId"]["type"], line["transactionId"]["id"])
            for line in read_jsonl(output)
        ]
    else:
        text = output.read_text()
        assert text.count("transactionId.type") == 1
        ids = [
            (r["transactionId.type"], r["transactionId.id"])
            for r in csv.DictReader(io.StringIO(text))
        ]
    assert ids == [(e.transaction_id.type, e.transaction_id.id) for e in expected]


async def test_statement_without_api_key_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WEAVR_API_KEY", raising=False)
    status = await asyncio.to_thread(
        main, ["statement", "--identity", "corporate:1", "--account", "2", "-o", os.devnull]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert "WEAVR_API_KEY" in err
    assert "Traceback" not in err


async def test_statement_api_error_is_one_line_without_secrets(
    fake: FakeBackOffice, corp: Identity, tmp_path: Path
) -> None:
    other = fake.add_identity("CONSUMER")
    foreign = fake.add_managed_account(other, history=10)
    status, out, err = await run_cli(
        *statement_args(fake, corp, "--account", foreign.id, "-o", str(tmp_path / "x.jsonl")),
        api_key=fake.api_key,
    )
    assert status == 2
    assert b"Traceback" not in err
    assert b"403" in err
    assert len(err.strip().splitlines()) == 1
    assert fake.api_key.encode() not in out + err


@pytest.mark.parametrize("command", ["demo", "statement", "simulate"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert f"weavr-async {command}" in capsys.readouterr().out


# -- simulate -------------------------------------------------------------------------------


async def test_simulate_serves_until_sigterm(tmp_path: Path) -> None:
    process = await start_cli(
        "simulate", "--port", "0", "--identities", "1", "--history", "250", api_key=None
    )
    assert process.stdout is not None
    info: dict[str, str] = {}
    async with asyncio.timeout(TIMEOUT):
        while not (line := (await process.stdout.readline()).decode()).startswith("Ctrl-C"):
            assert line, "simulate exited early"
            key, _, value = line.strip().partition("=")
            if value:
                info[key] = value
            elif line.startswith("identity "):
                info["identity"], info["account"] = line.split()[1], line.split()[3]
    kind, _, identity_id = info["identity"].partition(":")
    assert kind == "corporate"
    async with BackOffice(
        info["WEAVR_API_KEY"], base_url=info["WEAVR_BASE_URL"], budget=RateBudget.unlimited()
    ) as client:
        accounts = client.identity(Identity.corporate(identity_id)).managed_accounts
        assert (await accounts.get(info["account"])).id == info["account"]
        assert len(await accounts.statement(info["account"]).collect()) == 250
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 0


# -- the pieces -----------------------------------------------------------------------------


def entry(tx: str, ts: int, adjustment: int, after: int) -> StatementEntry:
    return StatementEntry(
        transaction_id=TransactionId("DEPOSIT", tx),
        entry_state="COMPLETED",
        transaction_amount=CurrencyAmount("EUR", adjustment),
        processed_timestamp=ts,
        actual_balance_adjustment=CurrencyAmount("EUR", adjustment),
        actual_balance_after=CurrencyAmount("EUR", after),
    )


def test_reconciliation_passes_a_consistent_walk() -> None:
    check = StatementCheck()
    check.add_page(
        [entry("1", 10, 5, 105), entry("2", 10, -5, 100)],
        count=3,
        start_balance=100,
        end_balance=130,
    )
    check.add_page([entry("3", 11, 30, 130)], count=3, start_balance=100, end_balance=130)
    assert check.problems() == []


def test_reconciliation_flags_duplicates_chain_breaks_and_short_counts() -> None:
    check = StatementCheck()
    page = [entry("1", 10, 5, 105), entry("1", 10, 5, 110), entry("2", 12, 1, 200)]
    check.add_page(page, count=4, start_balance=100, end_balance=111)
    problems = " | ".join(check.problems())
    assert "duplicate" in problems
    assert "chain broken" in problems
    assert "count 3≠4" in problems


def test_csv_rows_follow_the_columns() -> None:
    row = flatten({"transactionId": {"type": "SEND", "id": "9"}, "additionalFields": {"a": "b"}})
    assert len(row) == len(CSV_COLUMNS)
    assert row[:2] == ["SEND", "9"]
    assert row[-1] == '{"a":"b"}'


async def test_progress_board_draws_in_place_on_a_terminal() -> None:
    stream = io.StringIO()
    board = ProgressBoard(stream, tty=True)
    bar = board.add("account 1", total=200)
    bar.done = 100
    board.draw()
    board.draw()
    text = stream.getvalue()
    assert "\x1b[2F" in text  # the second draw moved up over the first two lines
    assert "100/200" in text
    assert "50%" in text
    assert draw_bar(0.5, 4) == "██··"
    assert Bar("x").fraction is None


def test_weavr_log_that_is_not_a_level_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEAVR_LOG", "loud")
    assert main(["simulate", "--help"]) == 0  # --help exits before anything is configured
    assert main(["statement", "--identity", "corporate:1", "--account", "2"]) == 2
    assert "WEAVR_LOG" in capsys.readouterr().err
