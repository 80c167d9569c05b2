"""`weavr-async reconcile`: check the books of every instrument of an input file.

Exit status: 0 every book holds, 1 a check failed (or an instrument could not be checked),
2 a usage or input error (nothing was sent), 3 the run stopped before the end (an exhausted
budget, Ctrl-C or SIGTERM) with its state saved: the same command with `--resume` continues.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import attrs

from .. import SANDBOX_URL, RateBudget, Retry, reconcile
from ..errors import InvalidRequest
from ..reconcile._clients import (
    API_KEY_VARIABLE,
    REDIS_URL_VARIABLE,
    env_value,
    make_budget,
    open_client,
)
from ..reconcile._runner import ResultCallback
from ..reconcile._settings import ProgressCallback
from . import _args
from ._progress import ProgressBoard
from ._reconcile_plan import Estimate, plan_line
from ._shutdown import Interrupted, interruptible
from ._table import Table

__all__ = ["add_parser", "run"]

EXIT_USAGE = 2
EXIT_STOPPED = 3


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "reconcile",
        help="check the books of many accounts and cards (in one process or on Dask)",
        description=(
            "Reconcile every instrument of INPUT (CSV or JSON lines: identity_type, "
            "identity_id, instrument_type, instrument_id): walk its statement oldest first "
            "and check the balance chain, start + adjustments = end, unique transactions "
            "and the count, then match it against the identity's completed transfers. "
            "The API key comes from $WEAVR_API_KEY, the base URL from --base-url, "
            "$WEAVR_BASE_URL or the sandbox. Exit 0: every book holds; 1: a check failed; "
            "2: usage or input error; 3: stopped before the end, state saved (run again with "
            "--resume STATE_DIR)."
        ),
    )
    parser.add_argument("--input", "-i", required=True, metavar="PATH", help="the instruments")
    parser.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="results, one per instrument: CSV if PATH ends in .csv, else JSON lines "
        "(default: JSON lines on stdout)",
    )
    parser.add_argument("--csv", metavar="PATH", help="also write the results as CSV here")
    _args.add_time_window(parser)
    parser.add_argument(
        "--resume",
        metavar="STATE_DIR",
        help="keep checkpoints and results here, and continue from what is there",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=_args.positive_int, metavar="N", help="run on a local Dask cluster"
    )
    where.add_argument(
        "--scheduler", metavar="tcp://HOST:8786", help="run on an existing Dask cluster"
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share the API budget with every process through Redis (default $WEAVR_REDIS_URL, "
        "the place for a URL that holds a password; the workers of a --scheduler cluster read "
        "such a URL from their own $WEAVR_REDIS_URL)",
    )
    parser.add_argument(
        "--budget-key",
        default="weavr-async",
        metavar="KEY",
        help="the shared budget's name in Redis (default weavr-async)",
    )
    parser.add_argument(
        "--budget",
        type=_budget,
        default="standard",
        metavar="standard|unlimited|N/SECONDS,...",
        help="the API's rate limits (default standard: 100/60,1000/3600,10000/86400)",
    )
    parser.add_argument(
        "--max-wait",
        type=_max_wait,
        default=120.0,
        metavar="SECONDS|none",
        help="longest wait for the budget before the run stops, resumable (default 120)",
    )
    parser.add_argument("--base-url", metavar="URL", help="API base URL")
    parser.add_argument(
        "--concurrency",
        type=_args.positive_int,
        default=16,
        help="requests in flight per client (default 16)",
    )
    parser.add_argument(
        "--identities-at-once",
        type=_args.positive_int,
        default=8,
        metavar="N",
        help="identities reconciled at once in one process (default 8)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no plan, progress or summary on stderr"
    )
    parser.set_defaults(run=run)


def _budget(text: str) -> str | tuple[tuple[int, float], ...]:
    if text in ("standard", "unlimited"):
        return text
    windows = []
    for part in text.split(","):
        count, _, seconds = part.partition("/")
        try:
            windows.append((int(count), float(seconds)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected standard, unlimited or N/SECONDS[,N/SECONDS...], got {text!r}"
            ) from None
    return tuple(windows)


def _max_wait(text: str) -> float | None:
    return None if text.lower() == "none" else _args.non_negative_float(text)


@attrs.frozen
class Command:
    """The run the arguments ask for."""

    targets: list[reconcile.Target]
    client: reconcile.ClientSettings
    window: reconcile.Window
    state_dir: Path
    keep_state: bool
    output: str | None
    csv: str | None
    workers: int | None
    scheduler: str | None
    identities_at_once: int
    quiet: bool


def _redis_url_from_env(budget: object) -> str | None:
    """`--redis`'s default: `$WEAVR_REDIS_URL`, unless the budget is unlimited (nothing to
    share; an explicit `--budget unlimited` wins over the environment)."""
    return None if budget == "unlimited" else env_value(REDIS_URL_VARIABLE)


def run(args: argparse.Namespace) -> int:
    if args.from_ts is not None and args.to_ts is not None and args.to_ts <= args.from_ts:
        return _fail("--to must be after --from")
    if args.budget == "unlimited" and args.redis:
        return _fail("--budget unlimited has nothing to share: leave out --redis")
    if args.scheduler is not None and args.resume is None:
        return _fail("--scheduler needs --resume STATE_DIR on a filesystem every worker sees")
    api_key = env_value(API_KEY_VARIABLE)
    if not api_key:
        return _fail(f"{API_KEY_VARIABLE} is not set; export your BackOffice API key first")
    try:
        targets = reconcile.read_targets(args.input)
    except reconcile.InputError as exc:
        return _fail(f"{exc.count} problem(s) in the input, nothing was sent:\n{exc}")
    except OSError as exc:
        return _fail(f"cannot read {args.input}: {exc.strerror or exc}")
    client = reconcile.ClientSettings(
        base_url=args.base_url or os.environ.get("WEAVR_BASE_URL") or SANDBOX_URL,
        max_concurrency=args.concurrency,
        retry=Retry(max_rate_limit_wait=args.max_wait),
        budget=args.budget,
        redis_url=args.redis or _redis_url_from_env(args.budget),
        budget_key=args.budget_key,
    )
    state_dir = Path(args.resume or tempfile.mkdtemp(prefix="weavr-reconcile-"))
    command = Command(
        targets=targets,
        client=client,
        window=reconcile.Window(args.from_ts, args.to_ts),
        state_dir=state_dir,
        keep_state=args.resume is not None,
        output=args.output,
        csv=args.csv,
        workers=args.workers,
        scheduler=args.scheduler,
        identities_at_once=args.identities_at_once,
        quiet=args.quiet,
    )
    try:
        return asyncio.run(_reconcile(command, api_key))
    except (reconcile.StateError, InvalidRequest) as exc:
        return _fail(str(exc).replace(api_key, "***"))


async def _reconcile(command: Command, api_key: str) -> int:
    store = reconcile.StateStore(command.state_dir)
    resumed = store.bind({"window": command.window.to_json()})
    local = command.workers is None and command.scheduler is None
    # The budget the estimates are timed against: in this process, the client's own.
    budget = make_budget(command.client if local else attrs.evolve(command.client, redis_url=None))
    try:
        return await _run(command, api_key, store, budget, resumed)
    finally:
        await budget.aclose()


async def _run(  # noqa: C901 (counted with the progress closures that share its tallies)
    command: Command,
    api_key: str,
    store: reconcile.StateStore,
    budget: RateBudget,
    resumed: bool,
) -> int:
    if not command.quiet:
        _say(plan_line(command.targets, store, budget, _where(command), resumed))
    board = ProgressBoard(sys.stderr, show_total=False)
    instruments = board.add("instruments", total=len(command.targets))
    entries = board.add("entries")
    walked: dict[str, int] = {}
    sizes: dict[str, int] = {}
    found: list[reconcile.InstrumentResult] = []
    estimate = Estimate(command.targets, budget)
    show = not command.quiet and sys.stderr.isatty()
    told = command.quiet or show  # off a terminal, the estimate is told once, as a line

    def refresh() -> None:
        nonlocal told
        entries.done = sum(walked.values())
        if len(sizes) == len(command.targets):
            entries.total = sum(sizes.values())
        entries.note = estimate.text()
        if not told and estimate.known >= min(8, len(command.targets)):
            told = True
            _say(f"plan, from the first {estimate.known} statements: {entries.note}")

    def on_progress(target: reconcile.Target, done: int, total: int | None) -> None:
        walked[target.key] = done
        if total is not None:
            sizes[target.key] = total
        estimate.walked(target, done, total)
        refresh()

    def on_result(result: reconcile.InstrumentResult) -> None:
        found.append(result)
        walked[result.target.key] = sizes[result.target.key] = result.entries
        estimate.finished(result)
        instruments.done = len(found)
        instruments.note = _failed_note(found)
        refresh()

    if show:
        board.start()
    started = time.monotonic()
    stopped: str | None = None
    try:
        work = _execute(command, api_key, store, budget, on_progress, on_result)
        report = await interruptible(work)
    except Interrupted as exc:
        stopped = f"interrupted ({exc})"
        report = None
    finally:
        instruments.finished = entries.finished = True
        await board.stop(draw=show)
    elapsed = time.monotonic() - started
    if report is not None:
        stopped = report.stopped
    if stopped is not None or report is None or report.pending:
        return _stopped(command, stopped or "stopped", len(found))
    results = report.results
    _write(command, results)
    if not command.quiet:
        _say(summary(results, elapsed), prefix=False)
    if not command.keep_state:
        shutil.rmtree(command.state_dir, ignore_errors=True)
    return report.exit_code


async def _execute(
    command: Command,
    api_key: str,
    store: reconcile.StateStore,
    budget: RateBudget,
    on_progress: ProgressCallback,
    on_result: ResultCallback,
) -> reconcile.Report:
    if command.workers is None and command.scheduler is None:
        async with open_client(api_key, command.client, budget) as client:
            return await reconcile.reconcile(
                client,
                command.targets,
                window=command.window,
                state=store,
                identities_at_once=command.identities_at_once,
                on_progress=on_progress,
                on_result=on_result,
            )
    return await reconcile.reconcile_on_dask(
        command.targets,
        client=command.client,
        workers=command.workers,
        scheduler=command.scheduler,
        window=command.window,
        state=store,
        on_result=on_result,
    )


def _where(command: Command) -> str:
    if command.workers is not None:
        return f"on {command.workers} local Dask workers"
    if command.scheduler is not None:
        return f"on the Dask cluster at {command.scheduler}"
    return "in this process"


def _stopped(command: Command, why: str, done: int) -> int:
    _say(
        f"{why}; {done:,} of {len(command.targets):,} instruments done. The state is saved in "
        f"{command.state_dir}: run the same command with --resume {command.state_dir} to "
        "continue where it stopped"
    )
    return EXIT_STOPPED


def _write(command: Command, results: list[reconcile.InstrumentResult]) -> None:
    try:
        if command.output is not None:
            reconcile.write_results(command.output, results)
        else:
            sys.stdout.buffer.write(reconcile.render_jsonl(results))
            sys.stdout.buffer.flush()
        if command.csv is not None:
            reconcile.write_results(command.csv, results, "csv")
    except OSError as exc:
        raise InvalidRequest("output", f"cannot write: {exc.strerror or exc}") from None


def summary(results: list[reconcile.InstrumentResult], elapsed: float, *, limit: int = 20) -> str:
    """Every check's tally, the totals, then the instruments that failed (the first `limit`),
    one line each with its failed checks or its error."""
    table = Table(
        ("check", "ok", "failed", "skipped"), numeric=frozenset({"ok", "failed", "skipped"})
    )
    for name, counts in reconcile.tally(results).items():
        table.add([name, f"{counts['ok']:,}", f"{counts['failed']:,}", f"{counts['skipped']:,}"])
    failed = [r for r in results if not r.ok]
    entries = sum(r.entries for r in results)
    rate = entries / elapsed if elapsed > 0 else 0.0
    verdict = f"{len(failed):,} did NOT reconcile" if failed else "every book holds"
    lines = [
        table.render(),
        "",
        f"{len(results):,} instruments, {entries:,} entries in {elapsed:.1f} s "
        f"({rate:,.0f} entries/s): {verdict}",
    ]
    for result in failed[:limit]:
        target = result.target
        checks = "; ".join(f"{n}: {result.checks[n].detail}" for n in result.failed_checks)
        lines.append(f"  {target.owner} {target.key}: {checks or result.error}")
    if len(failed) > limit:
        lines.append(f"  ... and {len(failed) - limit:,} more (see the results)")
    return "\n".join(lines)


def _failed_note(results: list[reconcile.InstrumentResult]) -> str:
    failed = sum(1 for r in results if not r.ok)
    return f"{failed} failed" if failed else ""


def _fail(message: str) -> int:
    _say(f"error: {message}")
    return EXIT_USAGE


def _say(text: str, *, prefix: bool = True) -> None:
    print(f"weavr-async reconcile: {text}" if prefix else text, file=sys.stderr, flush=True)
