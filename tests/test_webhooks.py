"""`weavr_async.webhooks`: verifying Weavr's signed deliveries, and the simulator sending them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from weavr_async import (
    BackOffice,
    CurrencyAmount,
    Identity,
    IdentitySession,
    InstrumentRef,
    InvalidRequest,
    NewTransfer,
    WeavrError,
    WebhookVerificationError,
    webhooks,
)
from weavr_async.testing import FakeBackOffice

KEY = "test-api-key-ZmFrZS1zZWNyZXQ"
BODY = b'{"bulkId":"1001","status":"RUNNING"}'
NOW = 1_767_225_600.0  # epoch seconds
REF = "0b6f3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def signed(body: bytes = BODY, *, key: str = KEY, at: float = NOW) -> dict[str, str]:
    return webhooks.sign(body, key, call_ref=REF, timestamp_ms=int(at * 1000))


def refused(
    headers: Any, body: bytes = BODY, *, now: float = NOW, **options: Any
) -> WebhookVerificationError:
    with pytest.raises(WebhookVerificationError) as caught:
        webhooks.verify(headers, body, KEY, now=now, **options)
    error = caught.value
    # Whatever failed, the message carries neither the key nor any signature.
    for secret in (KEY, *signed().values(), *signed(body).values()):
        if len(secret) > 20:
            assert secret not in str(error), secret
            assert secret not in repr(error), secret
    return error


def without(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in names}


# -- the signature scheme ------------------------------------------------------------------------


def test_sign_follows_weavrs_scheme() -> None:
    headers = signed()
    stamp = str(int(NOW * 1000))
    v2 = hmac.new(KEY.encode(), REF.encode() + BODY + stamp.encode(), hashlib.sha256).digest()
    legacy = hmac.new(KEY.encode(), stamp.encode(), hashlib.sha256).digest()
    assert headers == {
        "call-ref": REF,
        "published-timestamp": stamp,
        "signature": base64.b64encode(legacy).decode(),
        "signature-v2": base64.b64encode(v2).decode(),
    }


def test_sign_defaults_to_a_fresh_reference_and_now() -> None:
    first, second = webhooks.sign(BODY, KEY), webhooks.sign(BODY, KEY)
    assert first["call-ref"] != second["call-ref"]
    webhooks.verify(first, BODY, KEY)


# -- deliveries that pass ------------------------------------------------------------------------


def test_a_v2_signed_delivery_passes() -> None:
    webhooks.verify(signed(), BODY, KEY, now=NOW)
    webhooks.verify(without(signed(), "signature"), BODY, KEY, now=NOW, require_v2=True)


def test_a_legacy_only_delivery_passes_unless_v2_is_required() -> None:
    legacy = without(signed(), "signature-v2")
    webhooks.verify(legacy, BODY, KEY, now=NOW)
    webhooks.verify(without(legacy, "call-ref"), BODY, KEY, now=NOW)  # not covered by legacy
    assert refused(legacy, require_v2=True).reason == "missing"


def test_header_names_are_case_insensitive() -> None:
    headers = {name.upper() if n % 2 else name.title(): value
               for n, (name, value) in enumerate(signed().items())}  # fmt: skip
    webhooks.verify(headers, BODY, KEY, now=NOW)
    webhooks.verify(CIMultiDict(headers), BODY, KEY, now=NOW)  # aiohttp's request.headers


def test_the_window_is_tolerance_seconds_either_way() -> None:
    webhooks.verify(signed(), BODY, KEY, now=NOW + 299)
    webhooks.verify(signed(), BODY, KEY, now=NOW - 299)
    webhooks.verify(signed(), BODY, KEY, now=NOW + 3_000, tolerance=3_600)


# -- deliveries that fail ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b + b" "), id="body"),
        pytest.param(lambda h, b: (h, b.replace(b"RUNNING", b"COMPLETED")), id="body-field"),
        pytest.param(lambda h, b: ({**h, "call-ref": REF[:-1] + "c"}, b), id="call-ref"),
        pytest.param(
            lambda h, b: ({**h, "published-timestamp": str(int(NOW * 1000) + 1)}, b),
            id="timestamp",
        ),
    ],
)
def test_a_tampered_delivery_fails(
    tamper: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]],
) -> None:
    headers, body = tamper(signed(), BODY)
    error = refused(headers, body)
    assert error.reason == "mismatch"
    assert "signature-v2" in str(error)


def test_a_tampered_timestamp_fails_the_legacy_signature_too() -> None:
    legacy = without(signed(), "signature-v2")
    error = refused({**legacy, "published-timestamp": str(int(NOW * 1000) - 1)})
    assert error.reason == "mismatch"
    assert "the signature header" in str(error)


def test_another_key_fails() -> None:
    assert refused(signed(key="another-key")).reason == "mismatch"
    assert refused(without(signed(key="another-key"), "signature-v2")).reason == "mismatch"


def test_a_right_legacy_signature_never_rescues_a_wrong_v2_one() -> None:
    headers = {**signed(), "signature-v2": signed(b"another body")["signature-v2"]}
    error = refused(headers)
    assert error.reason == "mismatch"
    assert "signature-v2" in str(error)


def test_a_stale_delivery_fails() -> None:
    error = refused(signed(), now=NOW + 301)
    assert error.reason == "stale"
    assert "301 s ago" in str(error)
    assert refused(signed(), now=NOW + 61, tolerance=60).reason == "stale"


def test_a_delivery_from_the_future_fails() -> None:
    error = refused(signed(), now=NOW - 301)
    assert error.reason == "future"
    assert "future" in str(error)


@pytest.mark.parametrize(
    ("missing", "names"),
    [
        ("timestamp", ("published-timestamp",)),
        ("call-ref under v2", ("call-ref",)),
        ("both signatures", ("signature", "signature-v2")),
        ("everything", ("call-ref", "published-timestamp", "signature", "signature-v2")),
    ],
)
def test_missing_headers_fail(missing: str, names: tuple[str, ...]) -> None:
    error = refused(without(signed(), *names))
    assert error.reason == "missing"
    assert any(name in str(error) for name in names), missing


def test_a_repeated_header_fails() -> None:
    headers = signed()
    twice = CIMultiDict(headers)
    twice.add("Signature-V2", headers["signature-v2"])
    assert refused(twice).reason == "duplicate"
    assert refused({**headers, "Published-Timestamp": headers["published-timestamp"]}).reason == (
        "duplicate"
    )


GOOD = signed()


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("published-timestamp", "17672256000x0"),
        ("published-timestamp", "-1767225600000"),
        ("published-timestamp", "1767225600.000"),
        ("published-timestamp", "１７６７２２５６０００００"),  # digits, but not ASCII ones
        ("published-timestamp", "1" * 16),
        ("published-timestamp", ""),
        ("call-ref", "has space"),
        ("call-ref", "é" + REF),
        ("call-ref", "r" * 257),
        ("call-ref", ""),
        ("signature-v2", "not base64 at all!"),
        ("signature-v2", GOOD["signature-v2"][:-4]),  # a truncated digest
        ("signature-v2", base64.b64encode(bytes(33)).decode()),  # a digest too long
        ("signature-v2", GOOD["signature-v2"] + "A" * 2_000),
        ("signature-v2", ""),
    ],
)
def test_garbage_in_a_header_fails(header: str, value: str) -> None:
    error = refused({**GOOD, header: value})
    assert error.reason == "malformed"
    assert header in str(error)


def test_a_header_that_is_not_text_fails() -> None:
    assert refused({**GOOD, "signature-v2": b"bytes"}).reason == "malformed"


def test_no_secret_in_the_error_or_its_chain() -> None:
    for headers in (signed(key="another-key"), {**GOOD, "signature-v2": GOOD["signature"]}):
        error = refused(headers)
        assert isinstance(error, WeavrError)
        assert error.__cause__ is None
        assert error.__context__ is None
        assert KEY not in str(error.args)
        assert GOOD["signature-v2"] not in str(error.args)


@pytest.mark.parametrize(
    ("arguments", "field_name"),
    [
        ({"tolerance": 0}, "tolerance"),
        ({"tolerance": -1.0}, "tolerance"),
        ({"tolerance": math.inf}, "tolerance"),
        ({"tolerance": math.nan}, "tolerance"),
        ({"tolerance": True}, "tolerance"),
        ({"now": math.nan}, "now"),
        ({"api_key": ""}, "api_key"),
        ({"api_key": None}, "api_key"),
        ({"raw_body": BODY.decode()}, "raw_body"),
        ({"headers": [("signature", "x")]}, "headers"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, Any], field_name: str) -> None:
    call: dict[str, Any] = {"headers": GOOD, "raw_body": BODY, "api_key": KEY, "now": NOW}
    call.update(arguments)
    with pytest.raises(InvalidRequest) as caught:
        webhooks.verify(**call)
    assert caught.value.field == field_name
    assert KEY not in str(caught.value)


# -- the simulator delivers signed bulk progress -------------------------------------------------


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that verifies each delivery as a user's would."""

    api_key: str
    url: str = ""
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            webhooks.verify(request.headers, body, self.api_key, require_v2=True)
        except WebhookVerificationError as exc:
            self.refused.append(str(exc))
            return web.Response(status=401)
        self.accepted.append(orjson.loads(body))
        return web.Response(status=200)


@pytest.fixture
async def receiver(fake: FakeBackOffice) -> AsyncIterator[Receiver]:
    receiver = Receiver(fake.api_key)
    app = web.Application()
    app.router.add_post("/hook", receiver.hook)
    async with TestServer(app, host="127.0.0.1") as server:
        receiver.url = str(server.make_url("/hook"))
        yield receiver


@pytest.fixture
def acme(bo: BackOffice, corp: Identity) -> IdentitySession:
    return bo.identity(corp)


async def submit_transfers(fake: FakeBackOffice, acme: IdentitySession, count: int) -> str:
    source = fake.add_managed_account(acme.identity.id, currency="EUR", history=40)
    target = fake.add_managed_account(acme.identity.id, currency="EUR")
    transfer = NewTransfer(
        profile_id="1",
        source=InstrumentRef.managed_account(source.id),
        destination=InstrumentRef.managed_account(target.id),
        destination_amount=CurrencyAmount("EUR", 1),
    )
    submitted = await acme.bulks.create_transfers([transfer] * count)
    assert submitted.bulk_id
    return submitted.bulk_id


def completed(delivery: dict[str, Any]) -> int:
    counts = {c["status"]: c["count"] for c in delivery["operationStatusCounts"]}
    return int(counts["COMPLETED"])


async def test_the_simulator_delivers_signed_progress_of_a_bulk_process(
    fake: FakeBackOffice, acme: IdentitySession, receiver: Receiver
) -> None:
    fake.bulk_auto_run = False
    fake.webhook_url = receiver.url
    bulk_id = await submit_transfers(fake, acme, 5)
    await acme.bulks.execute(bulk_id, webhook_interval=2)  # progress every 2 operations

    final = await acme.bulks.wait(
        bulk_id, poll=0.01, timeout=10.0, on_progress=lambda _: fake.advance_bulks(1)
    )
    await fake.flush_webhooks()

    assert final.status == "COMPLETED"
    assert receiver.refused == []
    progress = [(d["bulkId"], d["status"], completed(d)) for d in receiver.accepted]
    assert progress == [
        (bulk_id, "RUNNING", 0),  # executed
        (bulk_id, "RUNNING", 2),
        (bulk_id, "RUNNING", 4),
        (bulk_id, "COMPLETED", 5),  # the final state comes last
    ]
    assert [d.status for d in fake.webhook_deliveries] == [200] * 4


async def test_without_an_interval_each_state_change_is_delivered(
    fake: FakeBackOffice, acme: IdentitySession, receiver: Receiver
) -> None:
    fake.webhook_url = receiver.url
    fake.bulk_auto_run = False
    bulk_id = await submit_transfers(fake, acme, 3)
    await acme.bulks.execute(bulk_id)
    fake.advance_bulks(1)
    await acme.bulks.pause(bulk_id)
    await acme.bulks.resume(bulk_id)
    await acme.bulks.cancel(bulk_id)
    await fake.flush_webhooks()

    assert [d["status"] for d in receiver.accepted] == ["RUNNING", "PAUSED", "RUNNING", "CANCELLED"]
    assert receiver.refused == []


async def test_a_receiver_that_cannot_be_reached_does_not_hold_requests(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake.webhook_url = f"http://127.0.0.1:{port}/hook"
    bulk_id = await submit_transfers(fake, acme, 2)
    await acme.bulks.execute(bulk_id)  # runs to COMPLETED: two deliveries queued

    assert (await acme.bulks.get(bulk_id)).status == "COMPLETED"
    await fake.flush_webhooks()
    assert [(d.status, d.error is not None) for d in fake.webhook_deliveries] == [(0, True)] * 2


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://192.168.1.20:8080/hook",
        "https://example.com/hook",
        "http://localhost:8080/hook",  # a name may resolve anywhere
        "ftp://127.0.0.1/hook",
        "/hook",
        "not a url",
    ],
)
async def test_the_simulator_delivers_to_loopback_only(fake: FakeBackOffice, url: str) -> None:
    with pytest.raises(ValueError, match="webhook_url"):
        fake.webhook_url = url
    assert fake.webhook_url is None


async def test_loopback_urls_are_accepted_and_none_stops_deliveries(fake: FakeBackOffice) -> None:
    for url in ("http://127.0.0.1:9/hook", "https://127.1.2.3/x", "http://[::1]:9/hook"):
        fake.webhook_url = url
        assert fake.webhook_url == url
    fake.webhook_url = None
    assert fake.webhook_url is None
