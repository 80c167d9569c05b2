"""What a successful call's response said besides its body: status, `request-ref`, headers.

Support tickets and audit logs need the `request-ref` of a transfer that was created or a fee
that was charged. Calls that return a model keep it in the model (`response_info(model)`);
calls that return nothing else return it.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .models._answered import Answered

__all__ = ["ResponseInfo", "response_info"]


@attrs.frozen
class ResponseInfo:
    """The API's answer to one logical call: its operation, status and `request-ref`, and the
    response headers (the API sends no credential back; request headers are never kept)."""

    operation: str
    status: int
    request_ref: str | None
    headers: Mapping[str, str] = attrs.field(repr=False, eq=False)


_Kept = tuple[str, int, "str | None", Mapping[str, str]]
_SLOT = Answered.__dict__["_weavr_response"]  # set and read past a frozen model's __setattr__
_set_kept = _SLOT.__set__
_get_kept = _SLOT.__get__


def remember(
    result: Answered,
    operation: str,
    status: int,
    request_ref: str | None,
    headers: Mapping[str, str],
) -> None:
    """Keep what the call's response said in the model it returned, for as long as it lives.

    Paid on every call, read on few: one store into the model's own slot (every model a call
    returns is an `Answered`), and the `ResponseInfo` built only when asked for."""
    _set_kept(result, (operation, status, request_ref, headers))


def response_info(result: object) -> ResponseInfo | None:
    """The `ResponseInfo` of the call that returned `result` (a model), or None.

    ```python
    transfer = await acme.transfers.create(...)
    print(response_info(transfer).request_ref)
    ```
    """
    if not isinstance(result, Answered):
        return None
    try:
        info: ResponseInfo | _Kept = _get_kept(result, type(result))
    except AttributeError:  # not returned by a call (made by hand, copied, evolved)
        return None
    if not isinstance(info, ResponseInfo):
        info = ResponseInfo(*info)
        _set_kept(result, info)
    return info
