"""What a successful call's response said besides its body: status, `request-ref`, headers.

Support tickets and audit logs need the `request-ref` of a transfer that was created or a fee
that was charged. Calls that return a model keep it beside the model (`response_info(model)`);
calls that return nothing else return it.
"""

from __future__ import annotations

import weakref
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
_INFOS: dict[int, tuple[weakref.KeyedRef[int, object], ResponseInfo | _Kept]] = {}


def remember(
    result: object, operation: str, status: int, request_ref: str | None, headers: Mapping[str, str]
) -> None:
    """Keep what the call's response said for as long as `result` lives.

    Paid on every call, read on few: a model a call returns (an `Answered`) keeps it in a slot
    of its own, one store; anything else that can be weakly referenced, beside it, by a weak
    reference whose callback forgets it. The `ResponseInfo` is built only when asked for."""
    kept = (operation, status, request_ref, headers)
    if isinstance(result, Answered):
        _set_kept(result, kept)
        return
    key = id(result)
    try:
        ref = weakref.KeyedRef(result, _forget, key)
    except TypeError:
        return
    _INFOS[key] = (ref, kept)


def _forget(ref: weakref.KeyedRef[int, object]) -> None:
    # Called as the result is freed, before its id can be reused; only its own entry goes.
    kept = _INFOS.get(ref.key)
    if kept is not None and kept[0] is ref:
        del _INFOS[ref.key]


def response_info(result: object) -> ResponseInfo | None:
    """The `ResponseInfo` of the call that returned `result` (a model), or None.

    ```python
    transfer = await acme.transfers.create(...)
    print(response_info(transfer).request_ref)
    ```
    """
    if isinstance(result, Answered):
        try:
            info = _get_kept(result, type(result))
        except AttributeError:  # not returned by a call (made by hand, copied, evolved)
            return None
        if not isinstance(info, ResponseInfo):
            info = ResponseInfo(*info)
            _set_kept(result, info)
        return info
    key = id(result)
    kept = _INFOS.get(key)
    if kept is None or kept[0]() is not result:
        return None
    ref, info = kept
    if not isinstance(info, ResponseInfo):
        info = ResponseInfo(*info)
        _INFOS[key] = (ref, info)
    return info
