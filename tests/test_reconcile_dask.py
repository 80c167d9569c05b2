"""`weavr_async.reconcile` on Dask distributed: the same results as in one process.

Local clusters of 2 worker processes on 127.0.0.1 reach the simulator served by the test's own
event loop (the Dask client runs asynchronously on it). Workers read the API key from their
environment, which they inherit from this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from reconcile_books import (
    api_key_in_env,
    client_settings,
    run_in_process,
    seed_books,
    until,
    write_input,
)

from weavr_async import RateBudget, reconcile
from weavr_async.cli import main
from weavr_async.errors import InvalidRequest
from weavr_async.reconcile._clients import make_budget
from weavr_async.reconcile._dask import IdentityTask, _secrets_out_of_tasks
from weavr_async.testing import FakeBackOffice

distributed: Any = pytest.importorskip("distributed")


def local_cluster(workers: int, env: dict[str, str] | None = None) -> Any:
    """A local cluster of `workers` one-thread processes on 127.0.0.1, no dashboard, for
    `async with`; its workers inherit this process's environment, plus `env`."""
    return distributed.LocalCluster(
        n_workers=workers,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        asynchronous=True,
        env=env,
    )


@pytest.fixture
async def sim() -> AsyncIterator[FakeBackOffice]:
    async with FakeBackOffice(seed=33) as fake:
        yield fake


async def test_two_workers_give_the_results_of_one_process_with_faults_on(
    sim: FakeBackOffice, tmp_path: Path
) -> None:
    books = await seed_books(sim, 40, history=250, card_history=50)
    accounts = books.accounts()
    for account, fault in zip(
        accounts[::9],
        ("break_chain", "duplicate_entry", "lose_transfer", "forget_transfer"),
        strict=False,
    ):
        sim.corrupt(account, fault)  # type: ignore[arg-type]
    sim.faults.error_rate = 0.05  # 5xx on one request in twenty
    local = await run_in_process(sim, books.targets)
    assert sim.faults.injected, "no fault was injected"

    with api_key_in_env(sim.api_key):
        on_dask = await reconcile.reconcile_on_dask(
            books.targets, client=client_settings(sim), workers=2, state=tmp_path / "state"
        )

    assert on_dask.exit_code == local.exit_code == 1
    assert len(on_dask.results) == 80
    assert reconcile.render_jsonl(on_dask.results) == reconcile.render_jsonl(local.results)
    assert sum(not r.ok for r in on_dask.results) == 4


async def test_a_worker_killed_mid_job_changes_nothing(sim: FakeBackOffice, tmp_path: Path) -> None:
    books = await seed_books(sim, 12, history=1500, card_history=300)
    sim.corrupt(books.accounts()[7], "break_chain")
    expected = await run_in_process(sim, books.targets)
    sim.reset_requests()
    sim.latency = 0.004  # tasks long enough to be killed in the middle
    settings = reconcile.JobSettings(page_concurrency=2, checkpoint_every=0.0)
    finished: list[reconcile.InstrumentResult] = []
    with api_key_in_env(sim.api_key):
        async with (
            local_cluster(2) as cluster,
            distributed.Client(cluster, asynchronous=True) as watcher,
        ):
            run = asyncio.ensure_future(
                reconcile.reconcile_on_dask(
                    books.targets,
                    client=client_settings(sim),
                    scheduler=cluster.scheduler_address,
                    settings=settings,
                    state=tmp_path / "state",
                    on_result=finished.append,
                )
            )
            await until(lambda: len(finished) >= 2)
            # Hold every task at its next request while one is picked and killed, so that the
            # one picked cannot end in between; a task past its last request ends meanwhile.
            sim.latency = 2.0
            await asyncio.sleep(0.3)
            victim, identity = await a_task_in_the_middle(watcher, sim, finished)
            with contextlib.suppress(Exception):  # the worker dies before it can answer
                await asyncio.wait_for(watcher.run(os._exit, 1, workers=[victim]), 10)
            sim.latency = 0.004
            report = await asyncio.wait_for(run, 60)

    assert reconcile.render_jsonl(report.results) == reconcile.render_jsonl(expected.results)
    # The killed task ran again in another process, which asked for the identity's token again.
    assert token_requests(sim).count(identity) == 2
    assert len(token_requests(sim)) == 13


def token_requests(sim: FakeBackOffice) -> list[str]:
    """The identity ids access tokens were asked for, in order."""
    return [
        orjson.loads(r.body)["identity"]["id"]
        for r in sim.requests
        if r.operation_id == "requestAccessToken"
    ]


async def a_task_in_the_middle(
    watcher: Any, sim: FakeBackOffice, finished: list[reconcile.InstrumentResult]
) -> tuple[str, str]:
    """A worker and the identity of a task it runs that has begun (it asked for its token) and
    not ended (no result yet): killing a worker that only holds queued or finished tasks would
    re-run nothing."""
    for _ in range(2_000):
        started = set(token_requests(sim))
        done = {result.target.identity.id for result in finished}
        busy: dict[str, list[str]] = await watcher.processing()
        for worker, keys in busy.items():
            for key in keys:
                identity = str(key).rsplit("-", 1)[1]
                if identity in started and identity not in done:
                    return worker, identity
        await asyncio.sleep(0.005)
    raise AssertionError("no task was seen in the middle")


async def test_the_command_on_two_workers_sharing_a_redis_budget(
    sim: FakeBackOffice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
) -> None:
    books = await seed_books(sim, 6)
    sim.corrupt(books.accounts()[3], "misstate_end_balance")
    source = write_input(tmp_path / "instruments.csv", books.targets)
    monkeypatch.setenv("WEAVR_API_KEY", sim.api_key)
    common = ["reconcile", "--input", str(source), "--base-url", sim.url, "--quiet"]
    alone, shared = tmp_path / "alone.jsonl", tmp_path / "shared.jsonl"
    assert await asyncio.to_thread(main, [*common, "--budget", "unlimited", "-o", str(alone)]) == 1
    sim.reset_requests()

    status = await asyncio.to_thread(
        main,
        [*common, "--workers", "2", "--redis", redis_url, "--budget", "100000/60",
         "--budget-key", "reconcile-test", "-o", str(shared)],
    )  # fmt: skip

    assert status == 1
    assert shared.read_bytes() == alone.read_bytes()
    budget = RateBudget.redis(redis_url, limits=[(100_000, 60.0)], key="reconcile-test")
    try:
        (window,) = await budget.status()
    finally:
        await budget.aclose()
    # Every request of both workers was drawn from the one budget in Redis.
    assert window.used == len(sim.requests) > 0


async def test_a_redis_url_with_a_password_reaches_the_workers_outside_the_tasks(
    sim: FakeBackOffice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
) -> None:
    password = secrets.token_hex(8)
    admin = redis.Redis.from_url(redis_url)
    try:  # a user of its own: the session's server stays open to the other tests
        admin.acl_setuser(
            "weavr-test", enabled=True, passwords=[f"+{password}"], keys=["*"], categories=["+@all"]
        )
    finally:
        admin.close()
    secret_url = redis_url.replace("redis://", f"redis://weavr-test:{password}@", 1)
    books = await seed_books(sim, 4)
    expected = await run_in_process(sim, books.targets)
    sim.reset_requests()
    source = write_input(tmp_path / "instruments.csv", books.targets)
    monkeypatch.setenv("WEAVR_API_KEY", sim.api_key)
    monkeypatch.setenv("WEAVR_REDIS_URL", secret_url)  # not on the command line
    out = tmp_path / "out.jsonl"

    status = await asyncio.to_thread(
        main,
        ["reconcile", "--input", str(source), "--base-url", sim.url, "--quiet", "--workers", "2",
         "--budget", "100000/60", "--budget-key", "reconcile-secret", "-o", str(out)],
    )  # fmt: skip

    assert status == 0
    assert out.read_bytes() == reconcile.render_jsonl(expected.results)
    budget = RateBudget.redis(secret_url, limits=[(100_000, 60.0)], key="reconcile-secret")
    try:
        (window,) = await budget.status()
    finally:
        await budget.aclose()
    # Both workers drew every request from the budget behind the password.
    assert window.used == len(sim.requests) > 0


def test_a_redis_url_with_credentials_travels_in_the_environment_not_the_task() -> None:
    secret = reconcile.ClientSettings(redis_url="redis://ops:hunter2@127.0.0.1:6379/0")
    sent, env = _secrets_out_of_tasks(secret, "the-api-key")
    assert env == {"WEAVR_API_KEY": "the-api-key", "WEAVR_REDIS_URL": secret.redis_url}
    assert sent.redis_url is None
    assert sent.redis_url_from_env
    target = reconcile.Target.of("CORPORATE", "1", "managed_accounts", "2")
    task = IdentityTask(
        target.identity, (target,), sent, reconcile.Window(), reconcile.JobSettings(), None
    )
    blob = pickle.dumps(task)
    assert b"hunter2" not in blob
    assert b"the-api-key" not in blob
    # Without credentials the URL is no secret: the task names it, no environment needed.
    plain = reconcile.ClientSettings(redis_url="redis://127.0.0.1:6379/0")
    assert _secrets_out_of_tasks(plain, None) == (plain, {})


def test_a_worker_without_the_redis_url_says_which_variable_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WEAVR_REDIS_URL", raising=False)
    settings = reconcile.ClientSettings(redis_url_from_env=True)
    with pytest.raises(InvalidRequest) as caught:
        make_budget(settings)
    assert caught.value.field == "WEAVR_REDIS_URL"


async def test_a_cluster_whose_workers_lack_a_variable_is_refused_before_any_request(
    sim: FakeBackOffice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    books = await seed_books(sim, 2)
    sim.reset_requests()
    monkeypatch.delenv("WEAVR_API_KEY", raising=False)
    monkeypatch.delenv("WEAVR_REDIS_URL", raising=False)
    # The key in the workers' environment, and no Redis URL.
    async with local_cluster(1, env={"WEAVR_API_KEY": sim.api_key}) as cluster:
        with_redis = client_settings(sim, redis_url="redis://ops:hunter2@127.0.0.1:1/0")
        with pytest.raises(InvalidRequest) as caught:
            await reconcile.reconcile_on_dask(
                books.targets, client=with_redis, scheduler=cluster.scheduler_address
            )
        assert caught.value.field == "WEAVR_REDIS_URL"
        assert "1 of the cluster's 1 workers" in str(caught.value)
        assert "hunter2" not in str(caught.value)
        # With what the workers have, the same cluster runs the job.
        report = await reconcile.reconcile_on_dask(
            books.targets, client=client_settings(sim), scheduler=cluster.scheduler_address
        )
        assert len(report.results) == len(books.targets)
    async with local_cluster(1) as keyless:
        with pytest.raises(InvalidRequest) as caught:
            await reconcile.reconcile_on_dask(
                books.targets, client=client_settings(sim), scheduler=keyless.scheduler_address
            )
        assert caught.value.field == "WEAVR_API_KEY"
    # Only the run with everything in place sent requests.
    assert sim.count("requestAccessToken") == len({t.identity for t in books.targets})


def test_a_task_carries_no_secret() -> None:
    books = [
        reconcile.Target.of("CORPORATE", "1", "managed_accounts", "2"),
        reconcile.Target.of("CORPORATE", "1", "managed_cards", "3"),
    ]
    settings = reconcile.ClientSettings(redis_url="redis://:hunter2@127.0.0.1:6379/0")
    task = IdentityTask(
        books[0].identity, tuple(books), settings, reconcile.Window(), reconcile.JobSettings(), None
    )
    with api_key_in_env("key-that-must-stay-home"):
        blob = pickle.dumps(task)
    assert b"key-that-must-stay-home" not in blob
    assert "hunter2" not in repr(task)
