"""The simulator behind a caching front, in a child process: each distinct request is rendered
by the simulator once and answered from memory after that, so the server is not what is timed.

`python -m benchmarks._prerendered --history N` runs the simulator (seed 42, one corporate
identity, one EUR managed account with N entries of history) in-process, and in front of it a
small aiohttp server that forwards a request it has not seen (same method, path, query string
and body) to the simulator and keeps the answer: status, body bytes, content-type. Every answer
gets a request-ref of its own, as a real server's would. Only successful answers are kept (a
refusal is passed on, never replayed). `GET /__stats` answers the cache's counters as JSON.

It prints one JSON line (url, api key, identity and account ids, stats url) once it serves and
runs until its stdin closes. Nothing is rendered ahead: the benchmark walks once, untimed, to
fill the cache, and reads `/__stats` around its timed rounds to show they were all hits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp import web

from weavr_async.testing import FakeBackOffice

from ._child import child_server, serve_on_loopback

__all__ = ["CacheStats", "cache_stats", "prerendered", "timed_report"]

# Request headers that are the connection's, not the request's: aiohttp sets its own.
_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding"})

CacheStats = dict[str, int]  # hits, misses, cached (answers held), bytes (their bodies)


class _Front:
    """The caching front: answers from memory what the simulator at `upstream` answered."""

    def __init__(self, session: aiohttp.ClientSession, upstream: str) -> None:
        self._session = session
        self._upstream = upstream  # scheme://host:port of the simulator
        self._cache: dict[tuple[str, str, bytes], tuple[int, bytes, str]] = {}
        self._refs = 0
        self.hits = 0
        self.misses = 0

    async def answer(self, request: web.Request) -> web.Response:
        body = await request.read() if request.body_exists else b""
        key = (request.method, request.raw_path, body)
        kept = self._cache.get(key)
        if kept is None:
            self.misses += 1
            kept = await self._forward(request, body)
            if 200 <= kept[0] < 300:
                self._cache[key] = kept
        else:
            self.hits += 1
        status, payload, content_type = kept
        self._refs += 1
        headers = {"content-type": content_type, "request-ref": f"front-{self._refs:010d}"}
        return web.Response(status=status, body=payload, headers=headers)

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, bytes, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method,
            self._upstream + request.raw_path,
            data=body or None,
            headers=headers,
            allow_redirects=False,
        ) as resp:
            payload = await resp.read()
            return resp.status, payload, resp.headers.get("content-type", "application/json")

    async def stats(self, _: web.Request) -> web.Response:
        counts: CacheStats = {
            "hits": self.hits,
            "misses": self.misses,
            "cached": len(self._cache),
            "bytes": sum(len(payload) for _, payload, _ in self._cache.values()),
        }
        return web.Response(body=orjson.dumps(counts), content_type="application/json")


async def serve(history: int) -> None:
    async with FakeBackOffice(seed=42) as fake, aiohttp.ClientSession() as session:
        fake.record_requests = False  # a benchmark server keeps no log of what it served
        ident = fake.add_identity("CORPORATE")
        account = fake.add_managed_account(ident, currency="EUR", history=history)
        upstream = urlsplit(fake.url)
        front = _Front(session, f"{upstream.scheme}://{upstream.netloc}")
        app = web.Application()
        app.router.add_get("/__stats", front.stats)
        app.router.add_route("*", "/{tail:.*}", front.answer)
        runner, port = await serve_on_loopback(app)
        origin = f"http://127.0.0.1:{port}"
        info = {
            "url": origin + upstream.path,
            "stats": origin + "/__stats",
            "api_key": fake.api_key,
            "identity": ident.id,
            "account": account.id,
        }
        print(json.dumps(info), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()


@contextmanager
def prerendered(history: int) -> Iterator[dict[str, Any]]:
    """The child simulator behind its caching front, one account of `history` entries."""
    with child_server("benchmarks._prerendered", "--history", str(history)) as info:
        yield info


def cache_stats(info: dict[str, Any]) -> CacheStats:
    """The front's counters now (hits and misses since it started)."""
    return asyncio.run(_fetch_stats(info["stats"]))


async def _fetch_stats(url: str) -> CacheStats:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        counts: CacheStats = orjson.loads(await resp.read())
    return counts


def timed_report(before: CacheStats, after: CacheStats) -> str:
    """What the front served between two readings of its counters (the timed rounds)."""
    misses = after["misses"] - before["misses"]
    requests = after["hits"] - before["hits"] + misses
    line = (
        f"pre-rendered server: {after['cached']:,} answers cached "
        f"({after['bytes'] / 1e6:,.0f} MB); timed rounds: {requests:,} requests, "
        f"{misses:,} cache misses"
    )
    if misses:
        line += " -- the simulator rendered during timed rounds: figures not trusted"
    return line


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, required=True)
    asyncio.run(serve(parser.parse_args().history))
