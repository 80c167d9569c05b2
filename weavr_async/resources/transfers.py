"""Transfers between the identity's own accounts and cards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from .._operation import Operation
from .._pagination import Checkpoint, Endpoint, Progress, SnapshotRule, Stream
from ..errors import InvalidRequest
from ..models import CurrencyAmount, InstrumentRef, NewTransfer, Transfer
from ..models.common import TRANSACTION_STATES
from ._base import Paging, Resource
from ._validators import (
    check_choices,
    check_description,
    check_identifier,
    check_instrument,
    check_money,
    check_tag,
    check_time_range,
    check_timestamp,
)

CREATE = Operation("transferCreate", "POST", "/transfers", idempotency_ref=True)
LIST = Operation("transfersGet", "GET", "/transfers")
GET = Operation("transferGet", "GET", "/transfers/{id}")
LIST_PAGES = Endpoint(
    LIST,
    "transfer",
    "limit",
    100,
    # Transfers come newest first and can only be bounded by creation time.
    snapshot=SnapshotRule("creationTimestamp", "createdFrom", "createdTo", fixed_order="DESC"),
    key_fields=("id",),
)


def transfer_body(transfer: NewTransfer, field: str = "transfer") -> dict[str, object]:
    """Validate a transfer to create and encode it as the API's CreateTransferRequest."""
    if not isinstance(transfer, NewTransfer):
        raise InvalidRequest(field, "expected a NewTransfer")
    body: dict[str, object] = {
        "profileId": check_identifier(transfer.profile_id, f"{field}.profile_id"),
        "source": check_instrument(transfer.source, f"{field}.source"),
        "destination": check_instrument(transfer.destination, f"{field}.destination"),
        "destinationAmount": check_money(
            transfer.destination_amount, f"{field}.destination_amount", positive=True
        ),
    }
    if transfer.tag is not None:
        body["tag"] = check_tag(transfer.tag, f"{field}.tag")
    if transfer.description is not None:
        body["description"] = check_description(transfer.description, f"{field}.description")
    if transfer.scheduled_timestamp is not None:
        body["scheduledTimestamp"] = check_identifier(
            transfer.scheduled_timestamp, f"{field}.scheduled_timestamp"
        )
    return body


class Transfers(Resource):
    """Create, read and list transfers."""

    async def create(
        self,
        *,
        profile_id: str,
        source: InstrumentRef,
        destination: InstrumentRef,
        amount: CurrencyAmount,
        tag: str | None = None,
        description: str | None = None,
        scheduled_at: datetime | int | None = None,
        idempotency_ref: str | None = None,
    ) -> Transfer:
        """Move `amount` from `source` to `destination`.

        Safe to retry: one `idempotency-ref` (yours, or one generated for this call) is sent on
        every attempt, so the API applies the transfer at most once.
        """
        scheduled = (
            None if scheduled_at is None else str(check_timestamp(scheduled_at, "scheduled_at"))
        )
        body = transfer_body(
            NewTransfer(
                profile_id=profile_id,
                source=source,
                destination=destination,
                destination_amount=amount,
                tag=tag,
                description=description,
                scheduled_timestamp=scheduled,
            ),
            field="transfer",
        )
        return await self._call(CREATE, Transfer, body=body, idempotency_ref=idempotency_ref)

    async def get(self, transfer_id: str) -> Transfer:
        return await self._call(
            GET, Transfer, path={"id": check_identifier(transfer_id, "transfer_id")}
        )

    def list(
        self,
        *,
        profile_id: str | None = None,
        instrument: InstrumentRef | None = None,
        states: Sequence[str] | None = None,
        created_from: datetime | int | None = None,
        created_to: datetime | int | None = None,
        tag: str | None = None,
        page_size: int | None = None,
        concurrency: int | None = None,
        checkpoint: Checkpoint | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Stream[Transfer]:
        """The identity's transfers, newest first, as a stream (pages of up to 100)."""
        start, end = check_time_range(created_from, created_to, "created_from", "created_to")
        params: dict[str, object] = {
            "profileId": None if profile_id is None else check_identifier(profile_id, "profile_id"),
            "state": None
            if states is None
            else check_choices(states, "states", TRANSACTION_STATES),
            "createdFrom": start,
            "createdTo": end,
            "tag": None if tag is None else check_tag(tag),
        }
        if instrument is not None:
            # The contract's `instrumentId` filter is an object in form style: its two fields
            # travel as top-level query parameters.
            ref = check_instrument(instrument, "instrument")
            params["id"] = ref["id"]
            params["type"] = ref["type"]
        paging = Paging(page_size, concurrency, checkpoint, on_progress)
        return self._stream(LIST_PAGES, Transfer, paging, params=params)
