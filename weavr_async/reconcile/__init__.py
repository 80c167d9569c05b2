"""The reconciliation job: check the books of many instruments, in one process or on Dask.

For each instrument of an input file (`read_targets`: CSV or JSON lines of identity_type,
identity_id, instrument_type, instrument_id), the statement is walked oldest first within a
`Window` and checked as it streams, then matched against the identity's transfers. Each
`InstrumentResult` names its checks (`CHECKS`):

- `balance_chain`: each entry's balance-after follows from the balance before it;
- `balance_equation`: start balance + adjustments = end balance;
- `unique_transactions`: no transaction twice;
- `count`: the walk brought exactly the entries the API counted;
- `transfers_on_statement`: every COMPLETED transfer touching the instrument is on its
  statement with the same amount;
- `statement_transfers_known`: every TRANSFER entry has its transfer.

    from weavr_async import BackOffice, reconcile

    targets = reconcile.read_targets("instruments.csv")
    async with BackOffice.from_env() as bo:
        report = await reconcile.reconcile(bo, targets, state="state/")
    reconcile.write_results("results.jsonl", report.results)

`reconcile_on_dask` runs the same job on a Dask cluster (the `distributed` extra), with the
same results. A `StateStore` keeps checkpoints, so a stopped run continues where it stopped.
The command line is `weavr-async reconcile`.
"""

from ._checks import CHECKS, MAX_LISTED, CheckOutcome, StatementChecks
from ._clients import ClientSettings, connect
from ._crossledger import TransferMatch
from ._dask import reconcile_on_dask
from ._input import COLUMNS, InputError, Target, parse_targets, read_targets
from ._job import reconcile_identity
from ._output import CSV_COLUMNS, render_csv, render_jsonl, tally, write_results
from ._result import InstrumentResult, describe_error
from ._runner import Plan, Report, group_by_identity, plan, reconcile
from ._settings import JobSettings, ProgressCallback, Window
from ._store import StateError, StateStore

__all__ = [
    "CHECKS",
    "COLUMNS",
    "CSV_COLUMNS",
    "MAX_LISTED",
    "CheckOutcome",
    "ClientSettings",
    "InputError",
    "InstrumentResult",
    "JobSettings",
    "Plan",
    "ProgressCallback",
    "Report",
    "StateError",
    "StateStore",
    "StatementChecks",
    "Target",
    "TransferMatch",
    "Window",
    "connect",
    "describe_error",
    "group_by_identity",
    "parse_targets",
    "plan",
    "read_targets",
    "reconcile",
    "reconcile_identity",
    "reconcile_on_dask",
    "render_csv",
    "render_jsonl",
    "tally",
    "write_results",
]
