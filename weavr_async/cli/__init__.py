"""The `weavr-async` command (also `python -m weavr_async`): `demo`, `statement`, `simulate`."""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..client import configure_logging
from ..errors import InvalidRequest
from ._demo import add_parser as add_demo
from ._reconcile_cmd import add_parser as add_reconcile
from ._simulate import add_parser as add_simulate
from ._statement import add_parser as add_statement

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="weavr-async",
        description="Tools around the weavr-async SDK for the Weavr Multi BackOffice API v3.",
    )
    parser.add_argument("--version", action="version", version=f"weavr-async {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    add_demo(commands)
    add_statement(commands)
    add_simulate(commands)
    add_reconcile(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with `argv` (default: `sys.argv[1:]`); the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        level = os.environ.get("WEAVR_LOG", "").strip().lower()
        if level:  # the SDK's log on stderr, as BackOffice.from_env() does
            try:
                configure_logging(level)
            except InvalidRequest as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        status: int = args.run(args)
    except SystemExit as exit_:  # argparse: --help, --version, usage errors
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status
