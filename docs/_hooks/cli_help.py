"""mkdocs hook: replace each `<!-- cli-help COMMAND -->` with that command's `--help` text.

The text comes from the parser the installed `weavr-async` runs, so the page cannot drift from
the command.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from typing import Any

from weavr_async.cli import main

MARKER = re.compile(r"<!-- cli-help(?: (?P<command>[a-z-]+))? -->")
WIDTH = "96"  # argparse wraps to $COLUMNS; fixed, so the page is the same on every machine


def help_text(command: str | None) -> str:
    out = io.StringIO()
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        with contextlib.redirect_stdout(out):
            status = main([command, "--help"] if command else ["--help"])
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    if status != 0:
        raise RuntimeError(f"weavr-async {command or ''} --help exited {status}")
    return out.getvalue().rstrip()


def on_page_markdown(markdown: str, **_: Any) -> str:
    return MARKER.sub(lambda m: f"```text\n{help_text(m['command'])}\n```", markdown)
