"""What every resource shares: the context it runs in, the call and stream helpers."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, TypeVar, overload

import attrs

from .._operation import Operation, QueryPairs
from .._pagination import Checkpoint, Endpoint, Progress, Stream
from .._responses import ResponseInfo, remember
from .._transport import Auth, CallOptions, Retry, Transport, frameless
from .._wire import check_header_value
from ..errors import InvalidRequest, MalformedResponse
from ..models import structure
from ..models._answered import Answered
from ._validators import check_int

__all__ = ["Context", "Paging", "Resource"]

T = TypeVar("T")
M = TypeVar("M", bound=Answered)
"""A model a call returns: it keeps the call's `ResponseInfo` (`remember`)."""

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@attrs.frozen
class Context:
    """What an identity session hands its resources."""

    transport: Transport
    auth: Auth | None
    page_concurrency: int
    options: CallOptions


@attrs.frozen
class Paging:
    """The four paging arguments every list method takes, as the caller gave them; `_stream`
    checks them against the endpoint and fills in the defaults."""

    page_size: int | None = None
    concurrency: int | None = None
    checkpoint: Checkpoint | None = None
    on_progress: Callable[[Progress], None] | None = None


class Resource:
    """Base of the resources: thin declarations over `Transport.send` and `Stream`."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @overload
    async def _call(
        self,
        op: Operation,
        into: type[M],
        *,
        path: Mapping[str, str] | None = ...,
        query: QueryPairs | None = ...,
        body: Any = ...,
        idempotency_ref: str | None = ...,
        retry: Retry | None = ...,
    ) -> M: ...

    @overload
    async def _call(
        self,
        op: Operation,
        into: None = ...,
        *,
        path: Mapping[str, str] | None = ...,
        query: QueryPairs | None = ...,
        body: Any = ...,
        idempotency_ref: str | None = ...,
        retry: Retry | None = ...,
    ) -> ResponseInfo: ...

    async def _call(
        self,
        op: Operation,
        into: type[M] | None = None,
        *,
        path: Mapping[str, str] | None = None,
        query: QueryPairs | None = None,
        body: Any = None,
        idempotency_ref: str | None = None,
        retry: Retry | None = None,
    ) -> M | ResponseInfo:
        if op.deprecated:
            _warn_if_deprecated(op)
        if idempotency_ref is not None:
            # It goes into a header: printable ASCII only.
            check_header_value(idempotency_ref, "idempotency_ref", max_length=255, allow_space=True)
        options = self._context.options
        if retry is not None:
            options = attrs.evolve(options, retry=retry)
        response = await self._context.transport.send(
            op,
            path_params=path,
            query=query,
            json_body=body,
            auth=self._context.auth if op.secured else None,
            idempotency_ref=idempotency_ref,
            options=options,
        )
        if into is None:
            return ResponseInfo(
                op.operation_id, response.status, response.request_ref, response.headers
            )
        try:
            result = structure(response.data, into)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedResponse(
                f"{op.operation_id}: the response does not fit {into.__name__}: "
                f"{type(exc).__name__}: {exc} (request-ref {response.request_ref})",
                operation=op.operation_id,
            ) from frameless(exc)  # the converter's frames hold the data, maybe a token
        remember(result, op.operation_id, response.status, response.request_ref, response.headers)
        return result

    def _stream(
        self,
        endpoint: Endpoint,
        item_type: type[T],
        paging: Paging,
        *,
        params: Mapping[str, object],
        path: Mapping[str, str] | None = None,
    ) -> Stream[T]:
        if endpoint.operation.deprecated:
            _warn_if_deprecated(endpoint.operation)
        size = endpoint.max_limit if paging.page_size is None else paging.page_size
        check_int(size, "page_size", 1, endpoint.max_limit)
        concurrency = paging.concurrency
        workers = self._context.page_concurrency if concurrency is None else concurrency
        check_int(workers, "concurrency", 1, 256)
        checkpoint = paging.checkpoint
        if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
            raise InvalidRequest("checkpoint", "expected a Checkpoint (Checkpoint.from_json)")
        transport = self._context.transport
        auth = self._context.auth
        options = self._context.options
        op = endpoint.operation
        path_params = {} if path is None else path

        async def fetch(query: QueryPairs, decode: bool) -> Any:
            response = await transport.send(
                op, path_params=path_params, query=query, auth=auth, decode=decode, options=options
            )
            return response.data

        try:
            return Stream(
                endpoint,
                fetch,
                item_type=item_type,
                params=params,
                path_params=path_params,
                page_size=size,
                concurrency=workers,
                checkpoint=checkpoint,
                on_progress=paging.on_progress,
                budget=transport.budget,
            )
        except ValueError as exc:
            raise InvalidRequest("checkpoint", str(exc)) from exc


def _warn_if_deprecated(op: Operation) -> None:
    """Warn of a call of a deprecated operation, at the line of the caller's code that made it
    (however many of the SDK's own frames lie between)."""
    message = op.deprecation
    if message is None:
        return
    level = 1  # this function's own frame
    frame: FrameType | None = sys._getframe()
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    warnings.warn(message, DeprecationWarning, stacklevel=level)
