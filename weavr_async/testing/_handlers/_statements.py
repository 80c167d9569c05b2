"""The statement query both instrument kinds share (accounts page by ``statementLimit``, up to
500, and may hide what moves no funds; cards page by ``limit``, up to 100)."""

from __future__ import annotations

from .._entities import ACCOUNTS
from .._history import STATEMENT_TYPES
from .._render import accept_kind
from .._replies import invalid
from .._statements import StatementPage, StatementQuery, entry_kinds, statement
from .._validation import Problems
from ._call import Call

__all__ = ["serve_statement"]


def serve_statement(call: Call, kind: str) -> StatementPage:
    """The page of the instrument's statement the query asks for."""
    inst_id = call.path_id()
    account = kind == ACCOUNTS
    problems = Problems()
    offset, limit = call.paging(
        problems, "statementLimit" if account else "limit", 500 if account else 100
    )
    order = call.query_enum("orderByTimestamp", problems, ("ASC", "DESC"))
    from_ts = call.query_int("fromTimestamp", problems)
    to_ts = call.query_int("toTimestamp", problems)
    if from_ts is not None and to_ts is not None and to_ts <= from_ts:
        problems.add(
            "toTimestamp", "INVALID_TYPE_OR_VALUE", "toTimestamp must be greater than fromTimestamp"
        )
    types = call.query_enums("transactionType", problems, STATEMENT_TYPES)
    fund_only = call.query_bool("showFundMovementsOnly", problems) if account else None
    single = call.query_bool("singleEntryPerTransaction", problems)
    if problems:
        raise invalid(problems)
    if single is None and accept_kind(call.accept) == "pdf":
        single = True  # a PDF statement shows one entry per transaction unless told otherwise
    kinds = entry_kinds(types, bool(fund_only), bool(single))
    query = StatementQuery(offset, limit, order != "ASC", from_ts, to_ts, kinds)
    arrivals = call.knobs.arrivals_per_statement_request
    return statement(call.store, call.who, kind, inst_id, query, arrivals)
