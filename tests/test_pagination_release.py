"""A walk lets each page go once it has been handed out: the next page is decoded with one
page of objects alive, not two (the collector runs once a page is decoded, and walks, and
promotes, whatever is alive then)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from weavr_async import BackOffice, Identity
from weavr_async._pagination import Stream
from weavr_async.testing import FakeBackOffice


def _watch_decoding(
    stream: Stream[Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[weakref.ref[object]], list[int]]:
    """Weak references to the entries handed out so far, and, at each page decoded, how many
    of them were alive then."""
    handed: list[weakref.ref[object]] = []
    alive_at_decode: list[int] = []
    decode: Callable[[list[Any]], list[Any]] = stream._decode

    def watched(items: list[Any]) -> list[Any]:
        alive_at_decode.append(sum(ref() is not None for ref in handed))
        return decode(items)

    monkeypatch.setattr(stream, "_decode", watched)
    return handed, alive_at_decode


async def test_a_page_handed_out_is_not_held_while_the_next_is_decoded(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=250)
    stream = bo.identity(corp).managed_accounts.statement(account.id, page_size=100, concurrency=2)
    handed, alive_at_decode = _watch_decoding(stream, monkeypatch)
    gc.disable()  # only reference counting frees the pages here
    try:
        async for entry in stream:
            handed.append(weakref.ref(entry))
            del entry
    finally:
        gc.enable()
    assert len(handed) == 250
    assert alive_at_decode == [0, 0, 0]


async def test_pages_mode_lets_a_page_go_too(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=250)
    stream = bo.identity(corp).managed_accounts.statement(account.id, page_size=100, concurrency=2)
    handed, alive_at_decode = _watch_decoding(stream, monkeypatch)
    gc.disable()
    try:
        async for page in stream.pages():
            handed.extend(weakref.ref(entry) for entry in page.items)
            del page
    finally:
        gc.enable()
    assert len(handed) == 250
    assert alive_at_decode == [0, 0, 0]
