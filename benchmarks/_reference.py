"""A reference server in a child process: pre-rendered answers, so the server is not what is
timed. `python -m benchmarks._reference` prints one JSON line (url, api key, ids) once it
serves, and runs until its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ._child import child_server, serve_on_loopback

API_KEY = "reference-api-key"
ACCOUNT_ID = "110299478262251521"
IDENTITY_ID = "110299478262251520"
ACCOUNT = orjson.dumps(
    {
        "id": ACCOUNT_ID,
        "profileId": "110299478262251522",
        "tag": "main",
        "friendlyName": "Operating account",
        "currency": "EUR",
        "balances": {"availableBalance": 4542138, "actualBalance": 4542138},
        "state": {"state": "ACTIVE"},
        "creationTimestamp": 1700000000000,
    }
)
TOKEN = orjson.dumps({"token": "reference-token-0123456789abcdef"})
HEADERS = {"content-type": "application/json", "request-ref": "ref-000000000001"}


async def _serve() -> None:
    async def token(_: web.Request) -> web.Response:
        return web.Response(body=TOKEN, headers=HEADERS)

    async def account(_: web.Request) -> web.Response:
        return web.Response(body=ACCOUNT, headers=HEADERS)

    app = web.Application()
    app.router.add_post("/multi/backoffice/access_token", token)
    app.router.add_get("/multi/backoffice/managed_accounts/{id}", account)
    runner, port = await serve_on_loopback(app)
    info = {
        "url": f"http://127.0.0.1:{port}/multi/backoffice",
        "api_key": API_KEY,
        "identity": IDENTITY_ID,
        "account": ACCOUNT_ID,
    }
    print(json.dumps(info), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


async def bare_headers(session: aiohttp.ClientSession, info: dict[str, Any]) -> dict[str, str]:
    """What the bare loops send on every request: the API key and a token for the corporate
    identity `info` names, asked for once over `session` (either token shape is read)."""
    async with session.post(
        f"{info['url']}/access_token",
        headers={"api-key": info["api_key"], "content-type": "application/json"},
        data=orjson.dumps({"identity": {"type": "CORPORATE", "id": info["identity"]}}),
    ) as resp:
        token = orjson.loads(await resp.read())["token"]
    token = token["token"] if isinstance(token, dict) else token
    return {"api-key": info["api_key"], "authorization": f"Bearer {token}"}


@contextmanager
def reference_server() -> Iterator[dict[str, Any]]:
    """Start the child reference server; yields what it printed; stops it on exit."""
    with child_server("benchmarks._reference") as info:
        yield info


if __name__ == "__main__":
    asyncio.run(_serve())
