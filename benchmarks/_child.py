"""A server in a child process, so the benchmarked client has a core of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["child_server"]


@contextmanager
def child_server(module: str, *args: str) -> Iterator[dict[str, Any]]:
    """Run `python -m module *args`, a server that prints one JSON line once it serves and
    runs until its stdin closes; yields that line; stops the child on exit."""
    child = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"the benchmark server {module} did not start")
        yield json.loads(line)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
