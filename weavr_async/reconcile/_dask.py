"""Running the job on Dask distributed: one task per identity, one client per worker process.

The driver starts a local cluster (`workers=N`: N processes of one thread, on 127.0.0.1,
no dashboard) or joins one (`scheduler="tcp://host:8786"`), and submits one task per identity
(all its instruments: its token obtained once, its transfers walked once). A task carries no
secret: each worker process reads the API key from its own environment (`WEAVR_API_KEY`) and
keeps one client, created on first use on an event loop of its own and closed when the worker
shuts down; with `redis_url` every worker draws on one shared budget.

A task writes its checkpoints to the state directory (which every worker must see: a local
cluster always does, a remote one needs a shared filesystem), so a task lost with its worker
is run again by Dask elsewhere and resumes from them: results stay exact.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import os
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future as ConcurrentFuture
from typing import Any

import attrs

from ..client import BackOffice
from ..errors import BudgetExhausted, InvalidRequest
from ..models import Identity
from ._clients import (
    API_KEY_VARIABLE,
    REDIS_URL_VARIABLE,
    ClientSettings,
    api_key_from_env,
    env_value,
    holds_credentials,
    make_budget,
    open_client,
)
from ._input import Target
from ._job import reconcile_identity
from ._result import InstrumentResult
from ._runner import Report, ResultCallback, group_by_identity, open_store
from ._settings import ALL_TIME, DEFAULT_SETTINGS, JobSettings, Window
from ._store import StateStore

__all__ = ["IdentityTask", "reconcile_on_dask", "run_identity_task"]

DEFAULT_RETRIES = 3
"""Times Dask runs a failed task again (a task lost with its worker is rescheduled anyway)."""


@attrs.frozen
class IdentityTask:
    """Everything a worker needs to reconcile one identity (no secret in it)."""

    identity: Identity
    targets: tuple[Target, ...]
    client: ClientSettings
    window: Window
    settings: JobSettings
    state_dir: str | None


@attrs.frozen
class TaskOutcome:
    """What a task sends back: its results as JSON objects, or why it stopped."""

    results: tuple[dict[str, Any], ...] = ()
    stopped: str | None = None


# -- on the workers ------------------------------------------------------------------------


class _WorkerRuntime:
    """This process's event loop (a thread of its own, apart from the worker's) and the one
    client per settings that every task of the process shares."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="weavr-async-reconcile", daemon=True
        )
        self._thread.start()
        self._clients: dict[ClientSettings, BackOffice] = {}
        self._budgets: list[Any] = []

    def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        future: ConcurrentFuture[Any] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result()

    async def client(self, settings: ClientSettings) -> BackOffice:
        client = self._clients.get(settings)
        if client is None:
            budget = make_budget(settings)
            if budget is not None:
                self._budgets.append(budget)
            client = open_client(api_key_from_env(), settings, budget)
            self._clients[settings] = client
        return client

    async def _close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        budgets, self._budgets = self._budgets, []
        for client in clients:
            await client.close()
        for budget in budgets:
            close = getattr(budget, "aclose", None)
            if close is not None:
                await close()

    def close(self) -> None:
        if not self._loop.is_running():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


_RUNTIME: _WorkerRuntime | None = None
_RUNTIME_LOCK = threading.Lock()


def _runtime() -> _WorkerRuntime:
    global _RUNTIME
    with _RUNTIME_LOCK:
        if _RUNTIME is None:
            _RUNTIME = _WorkerRuntime()
            atexit.register(close_worker_runtime)
        return _RUNTIME


def close_worker_runtime() -> None:
    """Close this process's clients and stop its loop (worker teardown, or exit)."""
    global _RUNTIME
    with _RUNTIME_LOCK:
        runtime, _RUNTIME = _RUNTIME, None
    if runtime is not None:
        runtime.close()


def run_identity_task(task: IdentityTask) -> TaskOutcome:
    """The Dask task: reconcile one identity with this worker's client."""
    runtime = _runtime()

    async def work() -> TaskOutcome:
        client = await runtime.client(task.client)
        store = None if task.state_dir is None else StateStore(task.state_dir)
        try:
            results = await reconcile_identity(
                client,
                task.identity,
                task.targets,
                window=task.window,
                settings=task.settings,
                store=store,
            )
        except BudgetExhausted as exc:
            return TaskOutcome(stopped=f"the API budget is exhausted: {exc}")
        return TaskOutcome(tuple(r.to_json() for r in results))

    outcome: TaskOutcome = runtime.run(work())
    return outcome


def _plugin() -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class ReconcileWorkerPlugin(WorkerPlugin):
        """Closes the worker's reconcile clients when the worker shuts down."""

        name = "weavr-async-reconcile"

        def teardown(self, worker: Any) -> None:
            close_worker_runtime()

    return ReconcileWorkerPlugin()


# -- on the driver -------------------------------------------------------------------------


async def reconcile_on_dask(
    targets: Sequence[Target],
    *,
    client: ClientSettings,
    workers: int | None = None,
    scheduler: str | None = None,
    window: Window = ALL_TIME,
    settings: JobSettings = DEFAULT_SETTINGS,
    state: StateStore | str | os.PathLike[str] | None = None,
    retries: int = DEFAULT_RETRIES,
    api_key: str | None = None,
    on_result: ResultCallback | None = None,
) -> Report:
    """Reconcile `targets` on a local Dask cluster of `workers` processes, or on the cluster
    at `scheduler`; the same results as `reconcile` in this process.

    Workers read the API key from their environment (`WEAVR_API_KEY`); a local cluster's
    workers inherit this process's, or get `api_key` in theirs. A `client.redis_url` holding
    credentials never travels in a task either: a local cluster's workers get it in their
    environment, a remote cluster's read it from their own `WEAVR_REDIS_URL`. An exhausted
    budget stops the run (`Report.stopped`), as does cancelling this coroutine, which stops a
    local cluster.
    """
    if (workers is None) == (scheduler is None):
        raise InvalidRequest("workers", "give either workers (a local cluster) or scheduler")
    if workers is not None and workers < 1:
        raise InvalidRequest("workers", "must be at least 1")
    if scheduler is not None and api_key is not None:
        raise InvalidRequest(
            "api_key", f"a cluster's workers read the key from their own ${API_KEY_VARIABLE}"
        )
    if api_key is None and scheduler is None:
        api_key_from_env()  # fail here, not on every worker
    client, env = _secrets_out_of_tasks(client, api_key)
    store = open_store(state, window)
    state_dir = None if store is None else str(store.root.resolve())
    tasks = [
        IdentityTask(identity, tuple(mine), client, window, settings, state_dir)
        for identity, mine in group_by_identity(targets)
    ]
    distributed = _distributed()
    cluster: Any = None
    if workers is not None:
        cluster = await distributed.LocalCluster(
            n_workers=workers,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            asynchronous=True,
            env=env,
        )
    try:
        dask = await distributed.Client(
            cluster if cluster is not None else scheduler, asynchronous=True
        )
        try:
            if cluster is None:
                await _check_worker_environment(dask, client)
            await dask.register_plugin(_plugin())
            return await _submit(dask, targets, tasks, retries, on_result)
        finally:
            await dask.close()
    finally:
        if cluster is not None:
            await cluster.close()


def missing_variables(names: Sequence[str]) -> list[str]:
    """Run on each worker: which of these environment variables it lacks (or has empty)."""
    return [name for name in names if env_value(name) is None]


async def _check_worker_environment(dask: Any, client: ClientSettings) -> None:
    """Before a task is submitted to a cluster this process did not start: every worker
    connected has the variables its tasks will read (else each would fail, after Dask's
    retries, with nothing to show for the requests its neighbours spent)."""
    names = [API_KEY_VARIABLE]
    if client.redis_url_from_env:
        names.append(REDIS_URL_VARIABLE)
    found: dict[str, list[str]] = await dask.run(missing_variables, names)
    for name in names:
        lacking = sorted(worker for worker, missing in found.items() if name in missing)
        if lacking:
            shown = ", ".join(lacking[:3]) + (", ..." if len(lacking) > 3 else "")
            raise InvalidRequest(
                name,
                f"is not set on {len(lacking)} of the cluster's {len(found)} workers "
                f"({shown}): each reads it from its own environment",
            )


def _secrets_out_of_tasks(
    client: ClientSettings, api_key: str | None
) -> tuple[ClientSettings, dict[str, str]]:
    """The client settings tasks carry, and the environment a local cluster's workers get.

    A task travels to the scheduler and the workers as data: it holds no secret. The API key
    goes into a local worker's environment (`api_key`; else each worker reads its own), and so
    does a Redis URL holding credentials, which tasks then name only by `redis_url_from_env`
    (a remote cluster's workers read it from their own `$WEAVR_REDIS_URL`)."""
    env = {} if api_key is None else {API_KEY_VARIABLE: api_key}
    if client.redis_url is not None and holds_credentials(client.redis_url):
        env[REDIS_URL_VARIABLE] = client.redis_url
        client = attrs.evolve(client, redis_url=None, redis_url_from_env=True)
    return client, env


def _distributed() -> Any:
    """The `distributed` package (the `distributed` extra), untyped for mypy."""
    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise InvalidRequest(
            "workers", "Dask is not installed: pip install 'weavr-async[distributed]'"
        ) from None


async def _submit(
    dask: Any,
    targets: Sequence[Target],
    tasks: list[IdentityTask],
    retries: int,
    on_result: ResultCallback | None,
) -> Report:
    as_completed = _distributed().as_completed
    futures = [
        dask.submit(
            run_identity_task,
            task,
            key=f"weavr-reconcile-{task.identity.type}-{task.identity.id}",
            retries=retries,
            pure=False,
        )
        for task in tasks
    ]
    found: dict[str, InstrumentResult] = {}
    stopped: str | None = None
    try:
        async for future in as_completed(futures):
            outcome: TaskOutcome = await future
            if outcome.stopped is not None:
                stopped = outcome.stopped
                break
            for data in outcome.results:
                result = InstrumentResult.from_json(data)
                found[result.target.key] = result
                if on_result is not None:
                    on_result(result)
    finally:
        await dask.cancel([f for f in futures if not f.done()])
    results = [found[t.key] for t in targets if t.key in found]
    return Report(results, stopped, len(targets) - len(results))
