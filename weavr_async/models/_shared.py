"""Equal values decoded as one object: repeated amounts and words.

A statement entry carries up to ten amounts and most of them repeat one before: the balance
after it is sent three times (`balanceAfter`, `availableBalanceAfter`, `actualBalanceAfter`),
the balance adjustments repeat the transaction amount when there is no fee. Building each as
its own CurrencyAmount cost the typed walk three ways (benchmarks/bench_walk.py): the
instance, its deallocation, and the cyclic collector, which walks every tracked object a page
leaves alive (and promotes them, so the full collections come sooner). CurrencyAmount is
frozen, so the generated structure functions hand out the amount decoded just before (`_p`)
when the next one is equal to it, and build only the others. (A memo of every amount of the
page was measured too: its lookups and insertions cost more than they saved.)

Strings that repeat across a page (states, transaction types, currency codes) are held once
per page in `Words`: a collected walk does not keep the same few words thousands of times.

Neither weakens a check: an amount is shared only when it equals one that passed every check
and is an int itself (`true` equals 1), and a JSON value equal to a str is a str; a word is
looked up only once it is checked to be a str.
"""

from __future__ import annotations

from typing import Any

from .common import CurrencyAmount

__all__ = ["NO_AMOUNT", "Words", "set_amount", "set_currency"]

# Frozen instances are built by setting their slots directly: attrs' frozen __init__ goes
# through object.__setattr__ per field and measured 290 ns against 175 ns this way (the class
# has no validators, converters or post-init; tests/test_models.py holds the two ways equal).
set_currency: Any = CurrencyAmount.__dict__["currency"].__set__
set_amount: Any = CurrencyAmount.__dict__["amount"].__set__

NO_AMOUNT: CurrencyAmount = object.__new__(CurrencyAmount)
"""What `_p` is before the first amount: equal to no JSON value (its fields are None, and
only an int amount is compared with it)."""
set_currency(NO_AMOUNT, None)
set_amount(NO_AMOUNT, None)


class Words(dict[str, str]):
    """One string object per distinct value of the fields marked `shared_str` (and of the
    currency codes), for a page. Only values already checked to be strings are looked up."""

    __slots__ = ()

    def __missing__(self, word: str) -> str:
        self[word] = word
        return word
