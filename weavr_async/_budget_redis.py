"""The API budget shared by every process of a programme, through Redis.

Each window is a sorted set, `weavr-async:budget:{<key>}:<seconds>`, of request starts scored
by the Redis server's clock in microseconds (`TIME`, so hosts whose clocks disagree still
agree). One Lua script, atomic on the server, drops the starts that left each window, checks
that every window has room and records the start in all of them, or records nothing and
answers how long until the fullest window frees a slot. A 429 closes a gate key with a PX
expiry that every process honours. The `{<key>}` hash tag keeps one budget's keys in one
slot of a Redis Cluster.

Within a process callers still queue first come, first served, and only the first of the
queue talks to Redis; this process's view of the windows (what `snapshot` and `time_for`
answer from) is what it recorded itself plus what its last `status()` read.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ._budget import RateBudget
from ._budget_windows import MAX_IMPOSED_SECONDS, Limit, Window, WindowState
from .errors import InvalidRequest, TransportError

__all__ = ["RedisRateBudget"]

log = logging.getLogger("weavr_async")

_SCHEMES = frozenset({"redis", "rediss", "unix"})
_KEY = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")
_PREFIX = "weavr-async:budget"
_SOCKET_TIMEOUT = 5.0  # a script answers in microseconds; a silent Redis must not hang a call

# KEYS: one sorted set per window, then the gate. ARGV: a unique member, then the limit and
# the width in microseconds of each window. Answers {wait µs, which (0 gate, i window), now}.
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS - 1
local wait, which = 0, -1
local gate = redis.call('PTTL', KEYS[n + 1])
if gate > 0 then wait, which = gate * 1000, 0 end
for i = 1, n do
  local limit, width = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('%.0f', now - width))
  local used = redis.call('ZCARD', KEYS[i])
  if used >= limit then
    local held = redis.call('ZRANGE', KEYS[i], used - limit, used - limit, 'WITHSCORES')
    local free = tonumber(held[2]) + width - now
    if free > wait then wait, which = free, i end
  end
end
if wait > 0 then return {wait, which, now} end
for i = 1, n do
  redis.call('ZADD', KEYS[i], string.format('%.0f', now), ARGV[1])
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2 * i + 1]) / 1000) + 1)
end
return {0, -1, now}
"""

# KEYS[1]: the gate. ARGV[1]: milliseconds it stays closed; it only ever closes for longer.
_CLOSE_GATE = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return redis.call('PTTL', KEYS[1])
"""

# Like _ACQUIRE's keys and limits, read-only. Answers {now, gate ms, {scores}...}: per window
# its newest starts still inside it (at most `limit`), newest first.
_STATUS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS - 1
local out = {now, redis.call('PTTL', KEYS[n + 1])}
for i = 1, n do
  local limit, width = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local since = '(' .. string.format('%.0f', now - width)
  local found = redis.call('ZREVRANGEBYSCORE', KEYS[i], '+inf', since, 'WITHSCORES',
                           'LIMIT', 0, limit)
  local scores = {}
  for j = 2, #found, 2 do scores[#scores + 1] = found[j] end
  out[#out + 1] = scores
end
return out
"""


class RedisRateBudget(RateBudget):
    """`RateBudget` over Redis (built by `RateBudget.redis`): the same interface, one budget
    for every process and host that uses the same Redis and `key`."""

    def __init__(
        self,
        url: str,
        *,
        limits: Sequence[Limit],
        key: str,
        client: aioredis.Redis | None = None,
    ) -> None:
        super().__init__(limits)
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidRequest("key", "must be 1-128 characters of A-Z a-z 0-9 . _ : @ / -")
        self._shown, self._secrets = _inspect_url(url)
        if client is None:
            client = self._connect(url)
            self._owns_client = True
        else:
            self._owns_client = False
        self._client = client
        self._key = key
        self._scope = f"{_PREFIX}:{{{key}}}"
        self._acquire_script = client.register_script(_ACQUIRE)
        self._gate_script = client.register_script(_CLOSE_GATE)
        self._status_script = client.register_script(_STATUS)
        self._gate_pending = -math.inf  # local time the shared gate must stay closed until
        self._pushes: set[asyncio.Task[None]] = set()

    def _connect(self, url: str) -> aioredis.Redis:
        try:
            return aioredis.from_url(
                url, socket_timeout=_SOCKET_TIMEOUT, socket_connect_timeout=_SOCKET_TIMEOUT
            )
        except ValueError:
            pass  # its message may quote the URL: say it without
        raise InvalidRequest("url", f"not a usable Redis URL: {self._shown}")

    def __repr__(self) -> str:
        own = f"RateBudget.redis({self._shown!r}, key={self._key!r}, limits={list(self.limits)!r})"
        return own if self._parent is None else f"{own} sharing {self._parent!r}"

    def _view(self, windows: list[Window], fraction: float) -> RateBudget:
        view = object.__new__(RedisRateBudget)
        view._setup(windows, self._clock, self)
        view._shown, view._secrets = self._shown, self._secrets
        view._client, view._owns_client, view._key = self._client, False, self._key
        # Every process that takes the same fraction shares one slice.
        view._scope = f"{self._scope}:share={fraction!r}"
        view._acquire_script = self._acquire_script
        view._gate_script = self._gate_script
        view._status_script = self._status_script
        view._gate_pending, view._pushes = -math.inf, set()
        return view

    # -- pacing

    async def _try_start(self) -> tuple[float, Limit | None]:
        """Start now if every window has room (0 and the start is recorded), or the wait.
        What this process knows (its own starts, a 429 it met) costs no round trip; then
        Redis decides. Redis failures raise `TransportError`."""
        await self._push_gate()  # a 429 learned where no event loop ran to send it
        wait, window = self._wait(self._clock())
        if wait > 0:
            return wait, window
        windows = self._chain_windows()
        keys = [*(self._window_key(w) for w in windows), self._gate_key()]
        args: list[str | int] = [secrets.token_hex(12)]
        for w in windows:
            args += [w.limit, _micros(w.seconds)]
        reply = await self._run(self._acquire_script, keys, args)
        if not (isinstance(reply, list) and len(reply) == 3 and _ints(reply)):
            raise TransportError(f"rate budget {self._shown}: unreadable answer from Redis")
        wait_us, which, _ = reply
        if wait_us <= 0:
            self._record(self._clock())
            return 0.0, None
        if which == 0:  # a gate some process closed, never for longer than a 429 could
            return min(wait_us / 1e6, MAX_IMPOSED_SECONDS), self._root()._gate_window
        if 1 <= which <= len(windows):
            return wait_us / 1e6, windows[which - 1].pair
        raise TransportError(f"rate budget {self._shown}: unreadable answer from Redis")

    def learn(self, limit: Limit | None, reset: float | None) -> None:
        """See `RateBudget.learn`; the gate also closes in Redis, for every process (sent in
        the background; `flush()` waits for it). Learned windows stay in this process."""
        if self._parent is not None:
            self._parent.learn(limit, reset)
            return
        before = self._gate
        super().learn(limit, reset)
        if self._gate > before:
            self._gate_pending = max(self._gate_pending, self._gate)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop: the next acquire sends it
            push = loop.create_task(self._push_gate())
            self._pushes.add(push)
            push.add_done_callback(self._pushed)

    def _pushed(self, push: asyncio.Task[None]) -> None:
        self._pushes.discard(push)
        if not push.cancelled() and push.exception() is not None:
            log.warning("rate budget %s: could not share a 429's gate: %s",
                        self._shown, push.exception())  # fmt: skip

    async def _push_gate(self) -> None:
        root = self._root()
        assert isinstance(root, RedisRateBudget)
        until, root._gate_pending = root._gate_pending, -math.inf
        if until > self._clock():
            ms = math.ceil((until - self._clock()) * 1000)
            try:
                await self._run(self._gate_script, [self._gate_key()], [ms])
            except TransportError:
                root._gate_pending = max(root._gate_pending, until)  # the next call tries again
                raise

    async def flush(self) -> None:
        """Wait until what `learn` took in has reached Redis."""
        root = self._root()
        assert isinstance(root, RedisRateBudget)
        if root._pushes:
            await asyncio.gather(*root._pushes, return_exceptions=True)
        await self._push_gate()

    # -- what is left

    async def status(self) -> list[WindowState]:
        """Every window that binds this budget, as Redis has it now (all processes' starts);
        it also refreshes what `snapshot()` and `time_for` plan from."""
        windows = self._chain_windows()
        keys = [*(self._window_key(w) for w in windows), self._gate_key()]
        args: list[int] = []
        for w in windows:
            args += [w.limit, _micros(w.seconds)]
        reply = await self._run(self._status_script, keys, args)
        local_now = self._clock()
        if not (
            isinstance(reply, list)
            and len(reply) == len(windows) + 2
            and _ints(reply[:2])
            and all(isinstance(scores, list) for scores in reply[2:])
        ):
            raise TransportError(f"rate budget {self._shown}: unreadable answer from Redis")
        server_now, gate_ms = reply[0], reply[1]
        for w, scores in zip(windows, reply[2:], strict=True):
            try:
                ages = [(server_now - float(score)) / 1e6 for score in reversed(scores)]
            except (TypeError, ValueError):
                raise TransportError(
                    f"rate budget {self._shown}: unreadable answer from Redis"
                ) from None
            w.starts.clear()
            w.starts.extend(local_now - age for age in ages[-w.limit :])
        root = self._root()
        if gate_ms > 0:
            root._gate = max(root._gate, local_now + min(gate_ms / 1000, MAX_IMPOSED_SECONDS))
        return self.snapshot()

    async def aclose(self) -> None:
        """Send what `learn` took in, then close the Redis connections this budget opened."""
        try:
            await self.flush()
        except TransportError as exc:  # closing must not fail because Redis went away
            log.warning("rate budget %s: could not share a 429's gate: %s", self._shown, exc)
        finally:
            if self._owns_client:
                await self._client.aclose()

    # -- internals

    def _window_key(self, window: Window) -> str:
        owner = self._owner_of(window)
        return f"{owner._scope}:{window.seconds:g}"

    def _owner_of(self, window: Window) -> RedisRateBudget:
        budget: RateBudget | None = self
        while budget is not None:
            if any(w is window for w in budget._windows):
                assert isinstance(budget, RedisRateBudget)
                return budget
            budget = budget._parent
        raise AssertionError("a window outside this budget's chain")

    def _gate_key(self) -> str:
        root = self._root()
        assert isinstance(root, RedisRateBudget)
        return f"{root._scope}:gate"

    async def _run(self, script: Any, keys: list[str], args: Sequence[str | int]) -> Any:
        """Run a script; Redis failures become a `TransportError` that names the store by its
        URL without credentials and keeps nothing of the driver's (frames, arguments)."""
        try:
            return await script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        for secret in self._secrets:
            problem = problem.replace(secret, "***")
        raise TransportError(f"rate budget {self._shown}: Redis failed: {problem}")


def _micros(seconds: float) -> int:
    return max(1, round(seconds * 1_000_000))


def _ints(values: list[Any]) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _inspect_url(url: str) -> tuple[str, tuple[str, ...]]:
    """The URL as it may be shown (credentials and query left out) and the secrets it holds
    (password and user name, raw and decoded), to scrub from any message."""
    if not isinstance(url, str) or len(url) > 4096:
        raise InvalidRequest("url", "must be a redis://, rediss:// or unix:// URL")
    try:
        parts = urlsplit(url)
        secrets_found = {
            s
            for raw in (parts.password, parts.username)
            if raw
            for s in (raw, unquote(raw), quote(unquote(raw), safe=""))
        }
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise InvalidRequest("url", "not a parsable URL") from None
    for name, value in _query_pairs(parts.query):
        if name in ("password", "username") and value:
            secrets_found |= {value, unquote(value)}
    if parts.scheme not in _SCHEMES:
        raise InvalidRequest("url", "must be a redis://, rediss:// or unix:// URL")
    if parts.scheme != "unix" and not host:
        raise InvalidRequest("url", "names no host")
    credentials = "***@" if "@" in parts.netloc else ""
    where = f"[{host}]" if ":" in host else host
    if port is not None:
        where += f":{port}"
    shown = f"{parts.scheme}://{credentials}{where}{parts.path}"
    return shown, tuple(sorted(secrets_found, key=len, reverse=True))


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for item in query.split("&"):
        name, _, value = item.partition("=")
        pairs.append((unquote(name), value))
    return pairs
