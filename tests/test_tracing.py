"""Tracing: aiohttp's trace configs pass through, and with OpenTelemetry installed the SDK's
own spans wrap each logical call (the recipe in the README, exported in memory here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import FAST_RETRY
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from weavr_async import BackOffice, Identity, NotFound
from weavr_async.testing import FakeBackOffice

EXPORTER = InMemorySpanExporter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(PROVIDER)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    EXPORTER.clear()
    yield EXPORTER
    EXPORTER.clear()


def named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == name]


async def test_each_call_is_a_span_with_the_http_requests_under_it(
    fake: FakeBackOffice, corp: Identity, spans: InMemorySpanExporter
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    fake.faults.script(status=503, count=1, operation_id="managedAccountGet")
    async with BackOffice(
        fake.api_key,
        base_url=fake.url,
        retry=FAST_RETRY,
        trace_configs=[create_trace_config(tracer_provider=PROVIDER)],
    ) as bo:
        await bo.identity(corp).managed_accounts.get(account.id)
    (call,) = named(spans, "weavr managedAccountGet")
    attributes = dict(call.attributes or {})
    assert attributes["weavr.operation_id"] == "managedAccountGet"
    assert attributes["weavr.identity_type"] == "CORPORATE"
    assert attributes["weavr.attempts"] == 2
    assert attributes["weavr.retries"] == 1
    assert attributes["http.response.status_code"] == 200
    assert str(attributes["weavr.request_ref"]).startswith("fake-")
    # aiohttp's own spans (one per attempt, and the token request's) nest under the calls.
    http = [s for s in spans.get_finished_spans() if not s.name.startswith("weavr ")]
    assert call.context is not None
    under_call = [s for s in http if s.parent and s.parent.span_id == call.context.span_id]
    assert len(under_call) == 2
    (token_call,) = named(spans, "weavr requestAccessToken")
    assert token_call.parent is not None
    assert token_call.parent.span_id == call.context.span_id
    every_value = " ".join(
        str(v) for s in spans.get_finished_spans() for v in (s.attributes or {}).values()
    )
    assert fake.api_key not in every_value
    assert "Bearer" not in every_value


async def test_a_failed_call_is_a_failed_span_named_by_its_error(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(NotFound):
        await bo.identity(corp).managed_accounts.get("999999")
    (call,) = named(spans, "weavr managedAccountGet")
    assert call.status.status_code == trace.StatusCode.ERROR
    assert (call.attributes or {})["error.type"] == "NotFound"
    assert (call.attributes or {})["http.response.status_code"] == 404


async def test_a_session_of_your_own_takes_the_trace_configs_itself(fake: FakeBackOffice) -> None:
    import aiohttp

    from weavr_async import InvalidRequest

    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidRequest) as caught:
            BackOffice(
                fake.api_key,
                base_url=fake.url,
                session=session,
                trace_configs=[aiohttp.TraceConfig()],
            )
    assert caught.value.field == "trace_configs"


async def test_each_walk_is_a_span_that_ends_with_what_it_did(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, spans: InMemorySpanExporter
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=250)
    stream = bo.identity(corp).managed_accounts.statement(account.id, page_size=100)
    assert len(await stream.collect()) == 250
    (walk,) = named(spans, "weavr walk managedAccountStatement")
    attributes = dict(walk.attributes or {})
    assert attributes["weavr.items"] == 250
    assert attributes["weavr.pages"] == 3
    assert attributes["weavr.total"] == 250
    assert attributes["weavr.page_size"] == 100
    assert len(named(spans, "weavr managedAccountStatement")) == 3  # a span per page request
