"""Signed webhook deliveries of bulk-process progress, POSTed by the simulator to a loopback URL.

The contract defines no bulk webhook body, so the simulator sends its own: the JSON that
``GET /bulks/{bulk_id}`` answers at that moment (a BulkProcessDetails), signed as Weavr signs
its deliveries (`weavr_async.webhooks.sign`, keyed with the simulator's API key).

A delivery goes out on every state change of an executed process; with a ``webhookInterval``
of N > 0 in the execute body (the contract does not say its unit; the simulator reads it as a
number of operations), also each time N more operations of a RUNNING process have run.
Deliveries leave in order from one background task, so request handling never waits on a
receiver; each gets one attempt, and its outcome is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections import deque
from collections.abc import Callable

import aiohttp
import attrs
import orjson
from yarl import URL

from ..webhooks import sign
from ._entities import StoredBulk

__all__ = ["DRAIN_SECONDS", "WebhookDelivery", "WebhookSender", "loopback_url"]

# How long flushing (and closing the simulator) waits for queued deliveries: a receiver that
# hangs must not hang the test that started it.
DRAIN_SECONDS = 10.0


@attrs.define
class WebhookDelivery:
    """One delivery the simulator made: what it sent, and how the receiver answered.

    ``status`` is the receiver's HTTP status, or 0 when it could not be reached in time
    (``error`` then says why).
    """

    url: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    error: str | None = None


def loopback_url(url: str) -> str:
    """`url` when it is an http(s) URL on a loopback IP address; ValueError otherwise."""
    if not isinstance(url, str):
        raise ValueError("webhook_url must be a string")
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        raise ValueError("webhook_url is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("webhook_url must be an http:// or https:// URL")
    try:
        address = ipaddress.ip_address(parsed.host)
    except ValueError:
        raise ValueError(
            "webhook_url must name a loopback IP address, e.g. 127.0.0.1, not a host name"
        ) from None
    if not address.is_loopback:
        raise ValueError("webhook_url must be on a loopback address (127.0.0.0/8 or ::1)")
    return url


class WebhookSender:
    """Decides which bulk changes make a delivery, and sends them in order in the background."""

    def __init__(
        self,
        api_key: Callable[[], str],
        *,
        timeout: float = 5.0,
        max_pending: int = 10_000,
    ) -> None:
        self._api_key = api_key
        self._timeout = timeout
        self._max_pending = max_pending
        self.url: str | None = None
        self.deliveries: list[WebhookDelivery] = []
        self.dropped = 0
        self._pending: deque[WebhookDelivery] = deque()
        self._sent: dict[str, tuple[str, int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def bulk_changed(self, bulk: StoredBulk) -> None:
        """Called by the backend whenever a bulk process moved; queues a delivery if due."""
        url = self.url
        if url is None:
            return
        interval = bulk.webhook_interval or 0
        mark = (bulk.status, bulk.next_index // interval if interval > 0 else 0)
        if self._sent.get(bulk.id) == mark:
            return
        self._sent[bulk.id] = mark
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            return
        body = orjson.dumps(bulk.to_json(details=True))
        headers = {"content-type": "application/json", **sign(body, self._api_key())}
        self._pending.append(WebhookDelivery(url, headers, body))
        self._kick()

    def _kick(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # called outside the loop: `flush` sends what is queued
        self._task = loop.create_task(self._send_pending())

    async def _send_pending(self) -> None:
        while self._pending:
            delivery = self._pending[0]  # stays queued while in flight: `close` counts it
            await self._send(delivery)
            self._pending.popleft()
            self.deliveries.append(delivery)

    async def _send(self, delivery: WebhookDelivery) -> None:
        if self._session is None or self._session.closed:
            # Never a proxy from the environment, never a redirect: loopback only.
            self._session = aiohttp.ClientSession(trust_env=False)
        try:
            async with self._session.post(
                delivery.url,
                data=delivery.body,
                headers=delivery.headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                await response.read()
                delivery.status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"

    async def flush(self) -> None:
        """Wait until every queued delivery has been made, at most `DRAIN_SECONDS`."""
        self._kick()
        task = self._task
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), DRAIN_SECONDS)

    async def close(self) -> None:
        """Send what is queued (at most `DRAIN_SECONDS`), then drop the rest and stop."""
        await self.flush()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.dropped += len(self._pending)
        self._pending.clear()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
