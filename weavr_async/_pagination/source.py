"""PageSource: one listing as a walk asks it for pages, and BufferedPage, a page fetched ahead.

A walk gets everything it needs of its listing through a PageSource: the request function, the
endpoint, the caller's filters, the page size and window, how entries become models, and the
Progress that counts requests. It builds every query through `query`, the one gate an offset
passes before it is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import orjson

from .._operation import QueryPairs
from .checks import StatementParts, malformed, read_page, statement_parts, timestamps
from .values import INT32_MAX, Endpoint, Page, Progress, RawItem

FetchPage = Callable[[QueryPairs, bool], Awaitable[Any]]
"""Sends one page request: with True the decoded JSON body, with False its undecoded bytes."""
Decode = Callable[[list[RawItem]], list[Any]]
"""Builds the models of a page's entries, or raises MalformedResponse."""
PageAndBody = tuple[Page[RawItem], Mapping[str, Any]]
"""A checked page of JSON entries, and the body it came in (a statement's balances are there)."""


@attrs.frozen
class BufferedPage:
    """A page fetched ahead of the consumer, kept as its undecoded body until its turn, and
    the query that fetched it (to fetch it again).

    Buffered pages as bytes rather than decoded dicts are several times smaller, and the
    cyclic GC has nothing in them to traverse again and again while they wait: that was
    measured as the largest cost of a walk after JSON decoding itself.
    """

    query: QueryPairs
    offset: int
    limit: int
    body: bytes

    def json_object(self) -> Mapping[str, Any] | None:
        """The body as a JSON object, or None when it is not one (to be fetched again)."""
        try:
            body = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None
        return body if isinstance(body, Mapping) else None

    def entries(self, items_field: str, kept: tuple[int, ...] | None) -> list[RawItem]:
        """The page's entries read once more from its body (those at the `kept` indices; all
        when None): the body was read and checked at its turn, and reads alike again."""
        items: list[RawItem] = orjson.loads(self.body)[items_field]
        return items if kept is None else [items[index] for index in kept]


@attrs.define
class PageSource:
    """The listing a walk pages through. `decode` is None for a walk of the JSON objects."""

    endpoint: Endpoint
    fetch: FetchPage
    params: Mapping[str, object]
    filters: QueryPairs
    page_size: int
    concurrency: int
    decode: Decode | None
    progress: Progress

    @property
    def operation(self) -> str:
        return self.endpoint.operation.operation_id

    def query(self, pairs: QueryPairs, offset: int, limit: int) -> QueryPairs:
        if not 0 <= offset <= INT32_MAX:
            # Unreachable from counts that passed their checks; kept as the one gate every
            # request passes, so no arithmetic on server numbers can ever send one.
            raise malformed(self.operation, f"offset {offset} is beyond the API's int32")
        return [*pairs, ("offset", str(offset)), (self.endpoint.limit_param, str(limit))]

    async def get(self, pairs: QueryPairs, offset: int, *, limit: int | None = None) -> PageAndBody:
        """Fetch and check a page now (the first of a segment, or a probe)."""
        size = self.page_size if limit is None else limit
        query = self.query(pairs, offset, size)
        self.progress.requests += 1
        body = await self.fetch(query, True)
        return self.read(body, offset, size)

    async def fetch_ahead(self, pairs: QueryPairs, offset: int, limit: int) -> BufferedPage:
        """Fetch a page ahead of the consumer, kept as bytes until its turn."""
        query = self.query(pairs, offset, limit)
        self.progress.requests += 1
        body: bytes = await self.fetch(query, False)
        return BufferedPage(query, offset, limit, body)

    async def fetch_again(self, page: BufferedPage) -> Any:
        """A buffered page unreadable at its turn, fetched again decoded, through the
        transport's retries (which turn a body that stays broken into MalformedResponse)."""
        self.progress.requests += 1
        return await self.fetch(page.query, True)

    def read(self, body: Any, offset: int, limit: int) -> PageAndBody:
        page = read_page(
            body,
            operation=self.operation,
            items_field=self.endpoint.items_field,
            offset=offset,
            limit=limit,
        )
        return page, body

    def stamps(self, items: list[RawItem], offset: int) -> list[int]:
        rule = self.endpoint.snapshot
        assert rule is not None
        return timestamps(items, rule.timestamp_field, self.operation, offset)

    def statement_parts(self, body: Mapping[str, Any]) -> StatementParts:
        return statement_parts(body, self.operation)
