"""How a run makes its client, the same way in this process and on every worker of a cluster.

Everything here travels to workers inside task arguments, so it holds no secret: the API key
is read from the environment of the process that opens the client, and so is a Redis URL that
holds credentials (`redis_url_from_env`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import Literal
from urllib.parse import urlsplit

import attrs

from .._budget import STANDARD_LIMITS, RateBudget
from .._transport import SANDBOX_URL, Retry
from ..client import BackOffice
from ..errors import InvalidRequest

__all__ = [
    "API_KEY_VARIABLE",
    "REDIS_URL_VARIABLE",
    "ClientSettings",
    "api_key_from_env",
    "connect",
    "env_value",
    "make_budget",
    "open_client",
]

API_KEY_VARIABLE = "WEAVR_API_KEY"
REDIS_URL_VARIABLE = "WEAVR_REDIS_URL"
Limits = tuple[tuple[int, float], ...]


@attrs.frozen
class ClientSettings:
    """The client of a run, minus its key. `budget` is the API's rate limits: Weavr's
    `"standard"` ones, `"unlimited"` (pace only after a 429: the simulator, raised limits) or
    windows of (requests, seconds); with `redis_url` the budget is shared by every process
    using the same URL and `budget_key`, or with `redis_url_from_env` by every process using
    the URL in its own `$WEAVR_REDIS_URL` (how a URL holding a password reaches Dask workers:
    never inside a task). `retry.max_rate_limit_wait` is how long a request may wait for the
    budget before the run stops with `BudgetExhausted`."""

    base_url: str = SANDBOX_URL
    max_concurrency: int = 16
    page_concurrency: int = 4
    timeout: float = 30.0
    retry: Retry | None = None
    budget: Literal["standard", "unlimited"] | Limits = "standard"
    redis_url: str | None = attrs.field(default=None, repr=False)
    budget_key: str = "weavr-async"
    redis_url_from_env: bool = False


def holds_credentials(redis_url: str) -> bool:
    """Whether a Redis URL names a user or a password (then it is a secret)."""
    parts = urlsplit(redis_url)
    return bool(parts.username or parts.password) or "password=" in parts.query


def env_value(name: str) -> str | None:
    """Environment variable `name` as this process has it, stripped; None if unset or blank."""
    return os.environ.get(name, "").strip() or None


def api_key_from_env() -> str:
    key = env_value(API_KEY_VARIABLE)
    if key is None:
        raise InvalidRequest(API_KEY_VARIABLE, "is not set: export your BackOffice API key")
    return key


def make_budget(settings: ClientSettings) -> RateBudget:
    """The run's `RateBudget` (see `ClientSettings.budget`); the caller closes it."""
    budget = settings.budget
    redis_url = settings.redis_url
    if settings.redis_url_from_env:
        redis_url = env_value(REDIS_URL_VARIABLE)
        if redis_url is None:
            raise InvalidRequest(
                REDIS_URL_VARIABLE, "is not set in this process: the shared budget's Redis URL"
            )
    if redis_url is not None:
        if budget == "unlimited":
            raise InvalidRequest("budget", "an unlimited budget has nothing to share in Redis")
        limits: Sequence[tuple[int, float]] = STANDARD_LIMITS if budget == "standard" else budget
        return RateBudget.redis(redis_url, limits=limits, key=settings.budget_key)
    if budget == "standard":
        return RateBudget.standard()
    if budget == "unlimited":
        return RateBudget.unlimited()
    return RateBudget(budget)


def open_client(
    api_key: str, settings: ClientSettings, budget: RateBudget | None = None
) -> BackOffice:
    """A client for the run drawing on `budget` (see `make_budget`; None: the client's
    default), which stays the caller's to close."""
    return BackOffice(
        api_key,
        base_url=settings.base_url,
        max_concurrency=settings.max_concurrency,
        page_concurrency=settings.page_concurrency,
        timeout=settings.timeout,
        retry=settings.retry,
        budget=budget,
    )


@contextlib.asynccontextmanager
async def connect(api_key: str, settings: ClientSettings) -> AsyncIterator[BackOffice]:
    """A client for the run with the budget its settings say; both closed on exit."""
    budget = make_budget(settings)
    try:
        async with open_client(api_key, settings, budget) as client:
            yield client
    finally:
        await budget.aclose()
