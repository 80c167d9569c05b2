"""The SDK and the simulator against the contract in spec/: the same operations, declared the
same way, and every simulator answer, happy or documented error, valid against the contract."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

import weavr_async.resources  # noqa: F401  (declares every operation)
from weavr_async import (
    APIError,
    BackOffice,
    CardSpendRules,
    CardSpendRulesUpdate,
    CurrencyAmount,
    Identity,
    IdentitySession,
    InstrumentRef,
    NewTransfer,
    SpendLimit,
)
from weavr_async._operation import OPERATIONS
from weavr_async.testing import BASE_PATH, FakeBackOffice, RecordedRequest
from weavr_async.testing.contract import operation_ids, spec_document

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@attrs.frozen
class Declared:
    """What the contract says of one operation, in the terms of an SDK `Operation`."""

    method: str
    path: str
    idempotency_ref: bool
    deprecated: bool
    secured: bool
    success: int


def _deref(node: Any) -> Any:
    document = spec_document()
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = document
        for token in node["$ref"].removeprefix("#/").split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def contract_operations() -> dict[str, Declared]:
    """operationId -> its declaration, read from the committed document."""
    document = spec_document()
    found: dict[str, Declared] = {}
    for template, raw_item in document["paths"].items():
        item = _deref(raw_item)
        for method in HTTP_METHODS:
            if method not in item:
                continue
            op = item[method]
            params = [_deref(p) for p in (*item.get("parameters", []), *op.get("parameters", []))]
            security = op.get("security", document.get("security", []))
            found[op["operationId"]] = Declared(
                method=method.upper(),
                path=template,
                idempotency_ref=any(
                    p["in"] == "header" and p["name"].lower() == "idempotency-ref" for p in params
                ),
                deprecated=bool(op.get("deprecated", False)),
                # An identity's token is needed when every alternative asks for the bearer.
                secured=bool(security) and all("auth_token" in req for req in security),
                success=_success_status(op),
            )
    return found


def _success_status(op: Mapping[str, Any]) -> int:
    """The one status below 400 the contract declares for an operation."""
    below_400 = [int(code) for code in op["responses"] if str(code).isdigit() and int(code) < 400]
    assert len(below_400) == 1, f"{op['operationId']} declares {below_400}"
    return below_400[0]


CONTRACT = contract_operations()


def simulator_routes() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path under the base) of the simulator's named routes."""
    app = FakeBackOffice().make_app()
    routes: dict[str, tuple[str, str]] = {}
    for route in app.router.routes():
        if route.name is None:
            continue
        assert route.name not in routes, f"two routes named {route.name}"
        path = route.resource.canonical if route.resource is not None else ""
        routes[route.name] = (route.method, path.removeprefix(BASE_PATH))
    return routes


# --------------------------------------------------------------------------- coverage


def test_contract_operations_are_read_consistently() -> None:
    assert set(CONTRACT) == operation_ids()
    assert len(CONTRACT) == 32


def test_every_contract_operation_has_an_sdk_operation_and_no_more() -> None:
    missing, extra = set(CONTRACT) - set(OPERATIONS), set(OPERATIONS) - set(CONTRACT)
    assert not missing, f"no SDK operation for {sorted(missing)}"
    assert not extra, f"SDK operations the contract lacks: {sorted(extra)}"


def test_every_contract_operation_has_a_simulator_route_and_no_more() -> None:
    routed = set(simulator_routes())
    missing, extra = set(CONTRACT) - routed, routed - set(CONTRACT)
    assert not missing, f"no simulator route for {sorted(missing)}"
    assert not extra, f"simulator routes the contract lacks: {sorted(extra)}"
    assert FakeBackOffice.operation_ids() == set(CONTRACT)


@pytest.mark.parametrize("operation_id", sorted(CONTRACT))
def test_sdk_operation_is_declared_as_the_contract_says(operation_id: str) -> None:
    declared = CONTRACT[operation_id]
    op = OPERATIONS.get(operation_id)
    assert op is not None, f"no SDK operation {operation_id}"
    sdk = Declared(op.method, op.path, op.idempotency_ref, op.deprecated, op.secured, op.success)
    assert sdk == declared


@pytest.mark.parametrize("operation_id", sorted(CONTRACT))
def test_simulator_route_is_declared_as_the_contract_says(operation_id: str) -> None:
    declared = CONTRACT[operation_id]
    assert simulator_routes().get(operation_id) == (declared.method, declared.path)


# --------------------------------------------------------------------------- simulator answers


async def test_every_operation_answers_on_contract_through_the_sdk(
    fake: FakeBackOffice, bo: BackOffice, tmp_path: Path
) -> None:
    """Each of the 32 operations, happy path and (where the simulator has one for a valid
    request) a documented error, through the SDK; the fixture's response validator must have
    judged at least one answer of every operation, and every expected error, and found nothing.
    """
    checked: Counter[tuple[str | None, int]] = Counter()
    judge = fake.response_validator
    assert judge is not None, "the fake fixture runs without a response validator"

    def counting(
        request: RecordedRequest,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        content_type: str,
    ) -> str | None:
        checked[request.operation_id, status] += 1
        return judge(request, status, headers, body, content_type)

    fake.response_validator = counting
    fake.bulk_auto_run = False
    missing = "987654321"

    async def fails(status: int, call: Awaitable[object]) -> None:
        with pytest.raises(APIError) as caught:
            await call
        assert caught.value.status == status, caught.value

    corporate = fake.add_identity("CORPORATE")
    consumer = fake.add_identity("CONSUMER")
    stranger = fake.add_identity("CORPORATE")
    refused = fake.add_identity("CORPORATE")
    fake.refuse_identity(refused)
    acme: IdentitySession = bo.identity(Identity.corporate(corporate.id))
    solo: IdentitySession = bo.identity(Identity.consumer(consumer.id))
    account = fake.add_managed_account(corporate, currency="EUR", history=60)
    other_account = fake.add_managed_account(corporate, currency="EUR")
    foreign = fake.add_managed_account(stranger, currency="EUR")
    card = fake.add_managed_card(corporate, currency="EUR", history=30)
    debit = fake.add_managed_card(corporate, mode="DEBIT_MODE", parent_account=account)
    empty_card = fake.add_managed_card(corporate, currency="EUR")
    fee_type = next(iter(fake.fee_types))
    source = InstrumentRef.managed_account(account.id)

    # Access tokens (the session's own token comes from requestAccessToken on first use).
    await bo.access_tokens.create(Identity.corporate(corporate.id))
    await fails(409, bo.access_tokens.create(Identity.corporate(refused.id)))
    with pytest.warns(DeprecationWarning, match="impersonateIdentityLogin is deprecated"):
        await acme.impersonate_identity_login()
    with pytest.warns(DeprecationWarning, match="impersonateIdentityLogin is deprecated"):
        await fails(409, acme.impersonate_identity_login(Identity.corporate(refused.id)))

    # Managed accounts: details, statement as JSON pages and as CSV / PDF exports.
    await acme.managed_accounts.get(account.id)
    await fails(404, acme.managed_accounts.get(missing))
    await fails(403, acme.managed_accounts.get(foreign.id))
    await acme.managed_accounts.statement(account.id, page_size=25).collect()
    await fails(404, acme.managed_accounts.statement(missing).collect())
    await acme.managed_accounts.download_statement(account.id, tmp_path / "a.csv", format="csv")
    await acme.managed_accounts.download_statement(account.id, tmp_path / "a.pdf", format="pdf")

    # Managed cards.
    await acme.managed_cards.get(card.id)
    await fails(404, acme.managed_cards.get(missing))
    await acme.managed_cards.statement(card.id).collect()
    await fails(404, acme.managed_cards.statement(missing).collect())
    await acme.managed_cards.block(card.id)
    await fails(409, acme.managed_cards.block(card.id))
    await acme.managed_cards.unblock(card.id)
    await fails(409, acme.managed_cards.unblock(card.id))
    await acme.managed_cards.set_renewal_type(card.id, "NO_RENEW")
    await fails(404, acme.managed_cards.set_renewal_type(missing, "RENEW"))
    await acme.managed_cards.remove(empty_card.id)
    await fails(409, acme.managed_cards.remove(empty_card.id))

    rules = acme.managed_cards.spend_rules
    limit = SpendLimit(CurrencyAmount("EUR", 5_000), "MONTHLY")
    await rules.create(debit.id, CardSpendRules(allow_atm=False, spend_limit=[limit]))
    await fails(409, rules.create(debit.id, CardSpendRules(allow_atm=True)))
    await rules.get(debit.id)
    await fails(404, rules.get(missing))
    await rules.update(debit.id, CardSpendRules(allow_contactless=False))
    await fails(404, rules.update(missing, CardSpendRules(allow_contactless=False)))
    await rules.delete(debit.id)
    await fails(404, rules.delete(missing))

    # Transfers.
    transfer = await acme.transfers.create(
        profile_id="1",
        source=source,
        destination=InstrumentRef.managed_account(other_account.id),
        amount=CurrencyAmount("EUR", 10),
        tag="conformance",
    )
    await fails(
        409,
        acme.transfers.create(
            profile_id="1", source=source, destination=source, amount=CurrencyAmount("EUR", 1)
        ),
    )
    await acme.transfers.get(transfer.id)
    await fails(404, acme.transfers.get(missing))
    await acme.transfers.list(instrument=source).collect()
    theirs = InstrumentRef.managed_account(foreign.id)
    await fails(403, acme.transfers.list(instrument=theirs).collect())

    # Fees, including the deprecated identity-type-specific ones.
    await acme.fees.charge(fee_type, source)
    await fails(409, acme.fees.charge("NO_SUCH_FEE", source))
    with pytest.warns(DeprecationWarning, match="corporateChargeFee is deprecated"):
        await acme.corporates.charge_fee(fee_type, source)
    with pytest.warns(DeprecationWarning, match="corporateChargeFee is deprecated"):
        await fails(403, solo.corporates.charge_fee(fee_type, source))
    consumer_account = InstrumentRef.managed_account(
        fake.add_managed_account(consumer, currency="EUR", history=30).id
    )
    with pytest.warns(DeprecationWarning, match="consumerChargeFee is deprecated"):
        await solo.consumers.charge_fee(fee_type, consumer_account)
    with pytest.warns(DeprecationWarning, match="consumerChargeFee is deprecated"):
        await fails(403, acme.consumers.charge_fee(fee_type, source))

    # Authorised users.
    user = await acme.users.create(name="Ada", surname="Lovelace", email="ada@example.com")
    await fails(409, acme.users.create(name="Ada", surname="L", email="ada@example.com"))
    await acme.users.invite(user.id)
    await fails(404, acme.users.invite(missing))
    await acme.users.deactivate(user.id)
    await fails(404, acme.users.deactivate(missing))

    # Bulks: submit both kinds, then walk one through its states by hand.
    submitted = await acme.bulks.create_transfers(
        [
            NewTransfer(
                profile_id="1",
                source=source,
                destination=InstrumentRef.managed_account(other_account.id),
                destination_amount=CurrencyAmount("EUR", 1 + i),
            )
            for i in range(3)
        ]
    )
    bulk_id = submitted.bulk_id
    assert bulk_id is not None
    await acme.bulks.update_card_spend_rules(
        [CardSpendRulesUpdate(card_id=debit.id, rules=CardSpendRules(allow_atm=True))]
    )
    await acme.bulks.get(bulk_id)
    await fails(404, acme.bulks.get(missing))
    await acme.bulks.execute(bulk_id)
    await fails(409, acme.bulks.execute(bulk_id))
    fake.advance_bulks(1)
    await acme.bulks.pause(bulk_id)
    await fails(409, acme.bulks.pause(bulk_id))
    await acme.bulks.resume(bulk_id)
    await fails(409, acme.bulks.resume(bulk_id))
    await acme.bulks.cancel(bulk_id)
    await fails(409, acme.bulks.cancel(bulk_id))
    await acme.bulks.operations(bulk_id).collect()
    await fails(404, acme.bulks.operations(missing).collect())
    # Listing has no documented 4xx a valid request can meet but the 401 of a dead token,
    # which the SDK answers by fetching a new token and sending again.
    fake.expire_tokens(corporate)
    await acme.bulks.list().collect()

    # The two bulk submissions declare no error response (see UNDECLARED_RESPONSES).
    expected_errors = {
        "requestAccessToken": 409,
        "impersonateIdentityLogin": 409,
        "managedAccountGet": 403,
        "managedAccountStatement": 404,
        "managedCardGet": 404,
        "managedCardStatement": 404,
        "managedCardBlock": 409,
        "managedCardUnblock": 409,
        "managedCardRenewalTypeUpdate": 404,
        "managedCardRemove": 409,
        "managedCardSpendRulesCreate": 409,
        "managedCardSpendRulesGet": 404,
        "managedCardSpendRulesUpdate": 404,
        "managedCardSpendRulesDelete": 404,
        "transferCreate": 409,
        "transferGet": 404,
        "transfersGet": 403,
        "chargeFee": 409,
        "corporateChargeFee": 403,
        "consumerChargeFee": 403,
        "userCreate": 409,
        "userInviteSend": 404,
        "userDeactivate": 404,
        "bulkId": 404,
        "bulkIdOperations": 404,
        "bulkIdExecute": 409,
        "bulkIdPause": 409,
        "bulkIdResume": 409,
        "bulkIdCancel": 409,
        "bulks": 401,
    }
    judged = {op for op, _ in checked}
    assert judged == set(CONTRACT), f"never judged: {sorted(set(CONTRACT) - judged)}"
    unjudged = {op: s for op, s in expected_errors.items() if checked[op, s] == 0}
    assert not unjudged, f"expected errors never judged: {unjudged}"
    assert set(expected_errors) == set(CONTRACT) - {
        "bulksTransferCreate",
        "bulksManagedCardSpendRulesUpdate",
    }
    assert fake.response_violations == []
