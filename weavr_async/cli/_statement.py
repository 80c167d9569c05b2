"""`weavr-async statement`: export one account's or card's statement as JSON lines or CSV.

Ctrl-C (or SIGTERM) stops the walk cleanly: what was received is flushed, and with
`--checkpoint PATH` the walk's position is saved there, so the same command resumes it and
appends the rest, every entry ending up in the output exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import attrs

from .. import SANDBOX_URL, BackOffice, Checkpoint, Identity, Progress, Stream, WeavrError
from ..models import StatementEntry
from . import _args
from ._formats import EntryWriter, Format, open_writer
from ._progress import Bar, ProgressBoard
from ._shutdown import EXIT_INTERRUPTED, Interrupted, interruptible

__all__ = ["add_parser", "run"]

EXIT_ERROR = 2
_OUTPUT_BUFFER = 1 << 20


class StatementFailed(Exception):
    """A problem to report on one line (already free of secrets), exit status 2."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "statement",
        help="export a managed account's or card's statement (JSON lines or CSV)",
        description=(
            "Export one statement. The API key comes from $WEAVR_API_KEY, the base URL from "
            "--base-url, $WEAVR_BASE_URL or the sandbox. Ctrl-C stops cleanly; with "
            "--checkpoint the same command later resumes and appends the rest."
        ),
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--account", metavar="ID", help="managed account id")
    target.add_argument("--card", metavar="ID", help="managed card id")
    parser.add_argument(
        "--identity",
        required=True,
        type=_args.identity,
        metavar="corporate:ID|consumer:ID",
        help="the identity owning the instrument",
    )
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        help="output format (default: csv if --output ends in .csv, else jsonl)",
    )
    parser.add_argument(
        "--output", "-o", default="-", metavar="PATH|-", help="where to write (default: stdout)"
    )
    _args.add_time_window(parser)
    parser.add_argument(
        "--order", type=str.upper, choices=("ASC", "DESC"), help="by time (API default: DESC)"
    )
    parser.add_argument(
        "--type",
        dest="types",
        action="extend",
        nargs="+",
        metavar="T",
        help="only these transaction types (repeatable)",
    )
    parser.add_argument(
        "--concurrency", type=_args.positive_int, default=4, help="pages in flight (default 4)"
    )
    parser.add_argument(
        "--page-size",
        type=_args.positive_int,
        help="entries per request (default: the endpoint's maximum)",
    )
    parser.add_argument("--base-url", metavar="URL", help="API base URL")
    parser.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="save the position here when interrupted; resume from it if it exists",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bar or summary on stderr"
    )
    parser.set_defaults(run=run)


@attrs.frozen
class ExportJob:
    """Everything one export needs, resolved from the arguments and the environment."""

    api_key: str = attrs.field(repr=False)
    base_url: str
    identity: Identity
    instrument_kind: str
    instrument_id: str
    fmt: Format
    output: str
    order: str | None
    from_ts: int | None
    to_ts: int | None
    types: tuple[str, ...] | None
    concurrency: int
    page_size: int | None
    checkpoint_path: Path | None
    quiet: bool


def run(args: argparse.Namespace) -> int:
    api_key = os.environ.get("WEAVR_API_KEY", "").strip()
    if not api_key:
        _say("error: WEAVR_API_KEY is not set; export your BackOffice API key first")
        return EXIT_ERROR
    output: str = args.output
    fmt: Format = args.format or ("csv" if output.lower().endswith(".csv") else "jsonl")
    job = ExportJob(
        api_key=api_key,
        base_url=args.base_url or os.environ.get("WEAVR_BASE_URL") or SANDBOX_URL,
        identity=args.identity,
        instrument_kind="account" if args.account is not None else "card",
        instrument_id=args.account if args.account is not None else args.card,
        fmt=fmt,
        output=output,
        order=args.order,
        from_ts=args.from_ts,
        to_ts=args.to_ts,
        types=tuple(args.types) if args.types else None,
        concurrency=args.concurrency,
        page_size=args.page_size,
        checkpoint_path=Path(args.checkpoint) if args.checkpoint else None,
        quiet=args.quiet,
    )
    try:
        return asyncio.run(export(job))
    except StatementFailed as exc:
        _say(f"error: {_redact(str(exc), job.api_key)}")
        return EXIT_ERROR


async def export(job: ExportJob) -> int:
    """Walk the statement into the output; the exit status."""
    checkpoint = _load_checkpoint(job.checkpoint_path)
    resuming = checkpoint is not None
    board = ProgressBoard(sys.stderr, show_total=False)
    bar = board.add(f"{job.instrument_kind} {job.instrument_id}")
    if checkpoint is not None:
        bar.done = bar.baseline = checkpoint.yielded
    started = time.monotonic()
    try:
        async with BackOffice(
            job.api_key, base_url=job.base_url, max_concurrency=max(job.concurrency, 4)
        ) as client:
            stream = _statement_stream(client, job, checkpoint, bar)
            with _open_output(job.output, appending=resuming) as (sink, has_content):
                if resuming and not has_content and job.output != "-":
                    _say(
                        f"warning: resuming, but {job.output} was empty or missing: the entries "
                        "of the earlier run are not in it"
                    )
                writer = open_writer(job.fmt, sink, appending=resuming and has_content)
                if not job.quiet:
                    board.start()
                try:
                    stop = await _walk(stream, writer)
                finally:
                    await board.stop(draw=not job.quiet and bar.done > 0)
                if isinstance(stop, BrokenPipeError):
                    # The reader went away (`| head`): stop quietly, like other Unix tools.
                    _silence_stdout()
                    writer.release()
                    return EXIT_ERROR
                writer.release()
                if isinstance(stop, OSError):
                    raise StatementFailed(f"cannot write {job.output}: {stop.strerror or stop}")
                if stop is not None:
                    return _stopped(job, stream, stop, time.monotonic() - started)
    except WeavrError as exc:
        raise StatementFailed(str(exc)) from None
    if job.checkpoint_path is not None:
        with contextlib.suppress(FileNotFoundError):
            job.checkpoint_path.unlink()
    if not job.quiet:
        elapsed = time.monotonic() - started
        where = "stdout" if job.output == "-" else job.output
        _say(f"wrote {stream.progress.items:,} entries to {where} in {elapsed:.1f} s")
    return 0


async def _walk(
    stream: Stream[StatementEntry], writer: EntryWriter
) -> Interrupted | WeavrError | OSError | None:
    """Copy the stream into `writer` until done or stopped; what stopped it, if anything.

    Every entry is written as soon as it is yielded, so when the walk stops the stream's
    checkpoint covers exactly what was written.
    """
    try:
        await interruptible(_copy(stream.raw(), writer.write))
    except (Interrupted, WeavrError, OSError) as stop:
        return stop
    return None


async def _copy(
    entries: AsyncGenerator[dict[str, Any], None], write: Callable[[Mapping[str, Any]], None]
) -> None:
    # Close the walk here, in this task, when a write fails: left to the garbage collector,
    # its nested generators would be finalised out of order.
    async with contextlib.aclosing(entries):
        async for entry in entries:
            write(entry)


def _statement_stream(
    client: BackOffice, job: ExportJob, checkpoint: Checkpoint | None, bar: Bar
) -> Stream[StatementEntry]:
    def on_progress(progress: Progress) -> None:
        bar.done = progress.items
        bar.total = progress.total

    session = client.identity(job.identity)
    common: dict[str, Any] = {
        "order": job.order,
        "from_timestamp": job.from_ts,
        "to_timestamp": job.to_ts,
        "transaction_types": list(job.types) if job.types else None,
        "page_size": job.page_size,
        "concurrency": job.concurrency,
        "checkpoint": checkpoint,
        "on_progress": on_progress,
    }
    if job.instrument_kind == "account":
        return session.managed_accounts.statement(job.instrument_id, **common)
    return session.managed_cards.statement(job.instrument_id, **common)


def _stopped(
    job: ExportJob, stream: Stream[StatementEntry], stop: Exception, elapsed: float
) -> int:
    """Report an interrupted or failed walk, saving its checkpoint if asked; the exit status."""
    done = stream.checkpoint.yielded
    interrupted = isinstance(stop, Interrupted)
    if not interrupted:
        _say(f"error: {_redact(str(stop), job.api_key)}")
    if job.checkpoint_path is not None and (interrupted or done):
        _save_checkpoint(job.checkpoint_path, stream.checkpoint)
        _say(
            f"{'interrupted' if interrupted else 'stopped'} after {done:,} entries "
            f"({elapsed:.1f} s); position saved to {job.checkpoint_path}: "
            "run the same command again to resume and append the rest"
        )
    elif interrupted:
        _say(
            f"interrupted after {done:,} entries ({elapsed:.1f} s); without --checkpoint "
            "the export cannot be resumed"
        )
    return EXIT_INTERRUPTED if interrupted else EXIT_ERROR


def _load_checkpoint(path: Path | None) -> Checkpoint | None:
    if path is None or not path.exists():
        return None
    try:
        return Checkpoint.from_json(path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise StatementFailed(f"cannot resume from {path}: {exc}") from None


def _save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write atomically: a crash mid-write must not leave a checkpoint that lies."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(checkpoint.to_json(), encoding="utf-8")
    os.replace(temp, path)


@contextlib.contextmanager
def _open_output(output: str, *, appending: bool) -> Iterator[tuple[BinaryIO, bool]]:
    """The byte stream to write to, and whether it already holds something (when appending)."""
    if output == "-":
        yield sys.stdout.buffer, appending
        sys.stdout.buffer.flush()
        return
    path = Path(output)
    try:
        has_content = appending and path.exists() and path.stat().st_size > 0
        sink = path.open("ab" if appending else "wb", buffering=_OUTPUT_BUFFER)
    except OSError as exc:
        raise StatementFailed(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        yield sink, has_content
        sink.flush()
        os.fsync(sink.fileno())
    finally:
        sink.close()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _say(line: str) -> None:
    print(f"weavr-async statement: {line}", file=sys.stderr, flush=True)
