"""Fees (and the deprecated Corporates and Consumers fee charging)."""

from __future__ import annotations

from .._fees import charge_fee
from .._replies import Reply, forbidden
from ._call import Call

__all__ = ["charge", "charge_consumer", "charge_corporate"]


def charge(call: Call) -> Reply:
    return charge_fee(call.store, call.who, call.json_body())


def charge_corporate(call: Call) -> Reply:
    """The corporates' own fee charging: 403 for a consumer."""
    if call.who.type != "CORPORATE":
        raise forbidden()
    return charge(call)


def charge_consumer(call: Call) -> Reply:
    """The consumers' own fee charging: 403 for a corporate."""
    if call.who.type != "CONSUMER":
        raise forbidden()
    return charge(call)
