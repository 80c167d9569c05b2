"""Where a run keeps its state, so a run stopped anywhere continues exactly where it stopped.

A directory of JSON files, each replaced atomically (written beside it, flushed to disk,
renamed over it), so a crash mid-write leaves the previous state, never half of one:

    run.json                         the window the state belongs to (refused for another)
    instruments/<type>-<id>.json     a statement walk: its checkpoint and checks, then the
                                     instrument's final result
    identities/<TYPE>-<id>.json      an identity's cross-ledger match: the transfers walk's
                                     checkpoint and every instrument's match so far

Several processes (the workers of a cluster) may write the same directory: every file
belongs to one identity's task, and a task retried elsewhere resumes from it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from ..models import Identity
from ._input import Target

__all__ = ["StateError", "StateStore"]

VERSION = 1


class StateError(ValueError):
    """The state directory cannot be used for this run (another window, unreadable)."""


class StateStore:
    """The state of one run in directory `root` (created if missing)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"StateStore({str(self.root)!r})"

    def bind(self, run: Mapping[str, Any]) -> bool:
        """Tie the directory to `run` (what must not change between a run and its resumption,
        e.g. its window); True when it already held state of that run, StateError when it
        holds another's."""
        (self.root / "instruments").mkdir(parents=True, exist_ok=True)
        (self.root / "identities").mkdir(exist_ok=True)
        path = self.root / "run.json"
        wanted = {"version": VERSION, **run}
        saved = self._read(path)
        if saved is None:
            self._write(path, wanted)
            return False
        if saved != wanted:
            raise StateError(
                f"{self.root} holds the state of another run ({_describe(saved)}), not of "
                f"this one ({_describe(wanted)}): use another directory"
            )
        return True

    def load_instrument(self, target: Target) -> dict[str, Any] | None:
        return self._read(self._instrument_path(target))

    def save_instrument(self, target: Target, state: Mapping[str, Any]) -> None:
        self._write(self._instrument_path(target), state)

    def load_identity(self, identity: Identity) -> dict[str, Any] | None:
        return self._read(self._identity_path(identity))

    def save_identity(self, identity: Identity, state: Mapping[str, Any]) -> None:
        self._write(self._identity_path(identity), state)

    def _instrument_path(self, target: Target) -> Path:
        return self.root / "instruments" / f"{target.instrument.type}-{target.instrument.id}.json"

    def _identity_path(self, identity: Identity) -> Path:
        return self.root / "identities" / f"{identity.type}-{identity.id}.json"

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StateError(f"{path} is not a weavr-async state file") from None
        if not isinstance(value, dict):
            raise StateError(f"{path} is not a weavr-async state file")
        return value

    @staticmethod
    def _write(path: Path, value: Mapping[str, Any]) -> None:
        # A unique temporary name: two workers racing on one file (a task retried while the
        # first is still running) each rename a whole file of their own.
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(orjson.dumps(value))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise


def _describe(run: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in run.items() if k != "version")
