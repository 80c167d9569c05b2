"""Keeping credentials out of what an exception or a traceback can show: request headers that
redact themselves, and library exceptions kept as causes without their frames."""

from __future__ import annotations

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from ..models import Secret

__all__ = ["RequestHeaders", "frameless"]


class RequestHeaders(dict[str, str]):
    """Request headers whose repr hides the credentials, so that not even a traceback that
    renders local variables shows the API key or a bearer token."""

    SECRET = frozenset({"api-key", "authorization"})

    def __init__(self, *, api_key: Secret, token: Secret | None, accept: str) -> None:
        super().__init__({"api-key": api_key.reveal(), "accept": accept})
        if token is not None:
            self["authorization"] = f"Bearer {token.reveal()}"

    @classmethod
    def copy_of(cls, headers: RequestHeaders) -> RequestHeaders:
        """A copy to add headers to (`dict.copy` would give a plain dict, without the repr)."""
        copy = dict.__new__(cls)
        copy.update(headers)
        return copy

    def __repr__(self) -> str:
        shown = {k: ("**********" if k in self.SECRET else v) for k, v in self.items()}
        return f"RequestHeaders({shown!r})"

    __str__ = __repr__


def frameless(exc: BaseException) -> BaseException:
    """`exc`, and every exception it chains, without frames: how a library's exception is
    kept as the cause of the SDK's own. aiohttp's frames hold the request headers in a plain
    dict (API key and bearer token in clear), the decoders' the response body (a token, for
    an access-token answer); a traceback rendered with its locals would show them all. An
    aiohttp response error (a bad status line, say) also keeps the request's headers, which
    its repr shows: they are redacted. Type and message stay."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        if isinstance(current, aiohttp.ClientResponseError):
            info = current.request_info
            hidden = CIMultiDict(
                (k, "**********" if k.lower() in RequestHeaders.SECRET else v)
                for k, v in info.headers.items()
            )
            current.request_info = aiohttp.RequestInfo(
                info.url, info.method, CIMultiDictProxy(hidden), info.real_url
            )
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return exc
