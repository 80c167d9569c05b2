"""Graceful shutdown: SIGINT and SIGTERM run a callback on the event loop instead of killing the
process, so a command can stop its work, flush what it wrote and save where it was."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["EXIT_INTERRUPTED", "Interrupted", "Shutdown", "interruptible"]

T = TypeVar("T")

EXIT_INTERRUPTED = 130
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Shutdown:
    """While entered, SIGINT/SIGTERM call `on_signal` (once per signal) and are remembered in
    `received`. Outside the main thread (no signal handlers there) it does nothing."""

    def __init__(self, on_signal: Callable[[], object]) -> None:
        self._on_signal = on_signal
        self.received: signal.Signals | None = None
        self._installed: list[signal.Signals] = []

    def _handle(self, sig: signal.Signals) -> None:
        if self.received is None:
            self.received = sig
        self._on_signal()

    def __enter__(self) -> Shutdown:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            try:
                loop.add_signal_handler(sig, self._handle, sig)
            except (RuntimeError, ValueError, NotImplementedError):
                continue
            self._installed.append(sig)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            with contextlib.suppress(RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        self._installed.clear()


class Interrupted(Exception):
    """The work was stopped by SIGINT or SIGTERM."""


async def interruptible(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` as a task that SIGINT/SIGTERM cancel; its result, or `Interrupted`.

    Cancelling the work's own task (not the caller's) lets the caller carry on afterwards:
    flush what it wrote, save a checkpoint, print a summary.
    """
    task = asyncio.ensure_future(work)
    try:
        with Shutdown(task.cancel) as shutdown:
            await asyncio.wait([task])
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait([task])
        raise
    if task.cancelled() and shutdown.received is not None:
        raise Interrupted(shutdown.received.name)
    return task.result()
