"""An aiohttp endpoint for Weavr webhooks: every delivery is verified before it is believed.

    POST /webhooks/weavr   200 once verified (or already seen), 401 when verification fails

Weavr signs each delivery with your API key (see `weavr_async.webhooks`); a delivery whose
signature, headers or timestamp fail the checks is answered 401 and never reaches your code.
A verified delivery already seen (the same `call-ref`, as a retry or a replay brings) is
answered 200 again without being handled twice.

    python examples/webhook_receiver.py   # WEAVR_API_KEY set: serve on 127.0.0.1:8080
    python examples/webhook_receiver.py   # without it: a demo against the embedded simulator

The demo runs a bulk process of transfers through the SDK while the simulator posts its signed
progress to this receiver, and prints each delivery the receiver accepted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from weavr_async import (
    BackOffice,
    CurrencyAmount,
    Identity,
    InstrumentRef,
    NewTransfer,
    WebhookVerificationError,
    webhooks,
)
from weavr_async.testing import FakeBackOffice

PATH = "/webhooks/weavr"
# Bulk-progress deliveries are a few hundred bytes: anything near this is not Weavr's.
MAX_BODY = 256 * 1024
# How many call-refs to remember for spotting a delivery twice; older ones are past the replay
# window long before they fall out.
SEEN_CALL_REFS = 10_000

Event = dict[str, Any]
EventHandler = Callable[[Event], Awaitable[None]]
log = logging.getLogger("webhook_receiver")


class WeavrWebhooks:
    """The receiving endpoint: verify, drop repeats, hand the event over."""

    def __init__(self, api_key: str, on_event: EventHandler, *, tolerance: float = 300.0) -> None:
        self._api_key = api_key
        self._on_event = on_event
        self._tolerance = tolerance
        self._seen: OrderedDict[str, None] = OrderedDict()

    def __repr__(self) -> str:
        return "WeavrWebhooks()"  # never the key

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()  # the bytes as sent: the signature covers exactly these
        try:
            webhooks.verify(request.headers, body, self._api_key, tolerance=self._tolerance)
        except WebhookVerificationError as exc:
            log.warning("refused a delivery from %s: %s", request.remote, exc)
            return web.json_response({"error": exc.reason}, status=401)
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError:
            return web.json_response({"error": "not JSON"}, status=400)
        if not isinstance(event, dict):
            return web.json_response({"error": "not a JSON object"}, status=400)
        call_ref = request.headers.get(webhooks.CALL_REF, "")
        if call_ref and call_ref in self._seen:
            return web.Response(status=200)  # handled already: say so, do nothing
        await self._on_event(event)
        if call_ref:  # remembered once handled: a delivery whose handling failed comes again
            self._seen[call_ref] = None
            if len(self._seen) > SEEN_CALL_REFS:
                self._seen.popitem(last=False)
        return web.Response(status=200)


async def log_event(event: Event) -> None:
    log.info("webhook: %s", event)


def create_app(
    api_key: str, on_event: EventHandler = log_event, *, tolerance: float = 300.0
) -> web.Application:
    endpoint = WeavrWebhooks(api_key, on_event, tolerance=tolerance)
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(PATH, endpoint.receive)
    return app


# -- the demo ------------------------------------------------------------------------------------


def describe(event: Event) -> str:
    counts = {c.get("status"): c.get("count") for c in event.get("operationStatusCounts", [])}
    done, size = counts.get("COMPLETED", 0), event.get("submittedItemsCount")
    return f"bulk {event.get('bulkId')}: {event.get('status')}, {done}/{size} done"


async def demo(transfers: int = 5) -> bool:
    """True when every delivery of the run was verified and handled."""
    async with FakeBackOffice(seed=1) as fake:
        corporate = fake.add_identity("CORPORATE")
        source = fake.add_managed_account(corporate, currency="EUR", history=100).id
        target = fake.add_managed_account(corporate, currency="EUR").id
        fake.bulk_auto_run = False  # the simulator runs one operation per poll, below

        async def show(event: Event) -> None:
            print(f"webhook: {describe(event)}")

        runner = web.AppRunner(create_app(fake.api_key, show), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            fake.webhook_url = f"http://127.0.0.1:{port}{PATH}"
            async with BackOffice(fake.api_key, base_url=fake.url) as bo:
                acme = bo.identity(Identity.corporate(corporate.id))
                transfer = NewTransfer(
                    profile_id="1",
                    source=InstrumentRef.managed_account(source),
                    destination=InstrumentRef.managed_account(target),
                    destination_amount=CurrencyAmount("EUR", 100),
                )
                bulk = await acme.bulks.create_transfers([transfer] * transfers)
                assert bulk.bulk_id is not None
                await acme.bulks.execute(bulk.bulk_id, webhook_interval=2)
                final = await acme.bulks.wait(
                    bulk.bulk_id,
                    poll=0.05,
                    timeout=30.0,
                    on_progress=lambda _: fake.advance_bulks(1),
                )
            await fake.flush_webhooks()
            print(f"wait: bulk {final.bulk_id} {final.status}")
            refused = [d for d in fake.webhook_deliveries if d.status != 200]
            print(f"deliveries: {len(fake.webhook_deliveries)}, refused: {len(refused)}")
            return not refused
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    api_key = os.environ.get("WEAVR_API_KEY")
    if api_key:
        web.run_app(create_app(api_key), host="127.0.0.1", port=8080)
    else:
        sys.exit(0 if asyncio.run(demo()) else 1)
