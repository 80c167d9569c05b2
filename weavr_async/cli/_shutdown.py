"""Graceful shutdown: SIGINT and SIGTERM run a callback on the event loop instead of killing the
process, so a command can stop its work, flush what it wrote and save where it was."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from types import TracebackType

__all__ = ["EXIT_INTERRUPTED", "Shutdown"]

EXIT_INTERRUPTED = 130
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Shutdown:
    """While entered, SIGINT/SIGTERM call `on_signal` (once per signal) and are remembered in
    `received`. Outside the main thread (no signal handlers there) it does nothing."""

    def __init__(self, on_signal: Callable[[], None]) -> None:
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
