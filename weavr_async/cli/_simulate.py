"""`weavr-async simulate`: the simulator as a standalone server, seeded and ready for
`weavr-async statement` or any SDK script, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from . import _args
from ._shutdown import Shutdown

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "simulate",
        help="run the BackOffice simulator on a local port",
        description=(
            "Serve the simulator on HOST:PORT with seeded identities, each holding one managed "
            "account (HISTORY entries) and one prepaid card (HISTORY/5 entries), their TRANSFER "
            "entries backed by transfers. Prints the base URL, the throwaway API key, the ids "
            "and an input for `weavr-async reconcile`; stops on Ctrl-C or SIGTERM."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_args.non_negative_int, default=8080, help="port (default 8080, 0: any)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of every generated value")
    parser.add_argument(
        "--identities", type=_args.non_negative_int, default=2, help="identities (default 2)"
    )
    parser.add_argument(
        "--history",
        type=_args.non_negative_int,
        default=5000,
        help="entries per account statement (default 5000)",
    )
    parser.add_argument(
        "--input-file",
        metavar="PATH",
        help="write the seeded instruments here as input for `weavr-async reconcile` "
        "(default: print it)",
    )
    parser.add_argument(
        "--latency",
        type=_args.non_negative_float,
        default=0.0,
        help="seconds added to every response (default 0)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))


async def serve(args: argparse.Namespace) -> int:
    from ..testing import FakeBackOffice  # only this command needs the simulator

    stop = asyncio.Event()
    fake = FakeBackOffice(seed=args.seed, host=args.host, port=args.port, latency=args.latency)
    fake.record_requests = False  # a long-running server must not grow with its traffic
    try:
        await fake.start()
    except OSError as exc:
        print(
            f"weavr-async simulate: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    try:
        lines = [
            f"Simulator listening on {fake.url}",
            f"WEAVR_BASE_URL={fake.url}",
            f"WEAVR_API_KEY={fake.api_key}",
        ]
        example = ""
        instruments = ["identity_type,identity_id,instrument_type,instrument_id"]
        for index in range(args.identities):
            kind = "CORPORATE" if index % 2 == 0 else "CONSUMER"
            ident = fake.add_identity(kind)
            account = fake.add_managed_account(ident, history=args.history)
            card = fake.add_managed_card(ident, history=args.history // 5)
            who = f"{kind.lower()}:{ident.id}"
            lines.append(f"identity {who} account {account.id} card {card.id}")
            for made in (account, card):
                # Seeded TRANSFER entries get their transfers, so that the books reconcile.
                fake.record_statement_transfers(made)
                instruments.append(f"{kind},{ident.id},{made.kind},{made.id}")
            if not example:
                example = (
                    f"WEAVR_API_KEY={fake.api_key} weavr-async statement --base-url {fake.url} "
                    f"--identity {who} --account {account.id} --output statement.jsonl"
                )
        if example:
            lines.append(f"Try: {example}")
            lines.extend(_reconcile_input(args.input_file, instruments, fake.url, fake.api_key))
        lines.append("Ctrl-C to stop.")
        print("\n".join(lines), flush=True)
        with Shutdown(stop.set):
            await stop.wait()
    finally:
        await fake.close()
    print("Simulator stopped.", file=sys.stderr, flush=True)
    return 0


def _reconcile_input(path: str | None, rows: list[str], url: str, api_key: str) -> list[str]:
    """Lines telling how to reconcile the seeded instruments: the input, written to `path`
    or printed, and the command (the simulator has no rate limits: no budget needed)."""
    text = "\n".join(rows) + "\n"
    lines: list[str] = []
    if path is not None:
        try:
            Path(path).write_text(text, encoding="utf-8")
            lines.append(f"Reconcile input written to {path}")
        except OSError as exc:
            lines.append(f"cannot write {path}: {exc.strerror or exc}")
            path = None
    if path is None:
        lines += ["Reconcile input (save it as instruments.csv):", *rows]
        path = "instruments.csv"
    lines.append(
        f"Try: WEAVR_API_KEY={api_key} WEAVR_BASE_URL={url} weavr-async reconcile "
        f"--budget unlimited --input {path} --output results.jsonl"
    )
    return lines
