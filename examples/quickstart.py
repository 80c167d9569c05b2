"""weavr-async in one page: run `python examples/quickstart.py` as it is.

It talks to the embedded simulator, so it needs no credentials. Against the sandbox, drop the
`FakeBackOffice` and its seeding, and build the client as `BackOffice(api_key)`.
"""

import asyncio

from weavr_async import BackOffice, Conflict, CurrencyAmount, Identity, InstrumentRef
from weavr_async.testing import FakeBackOffice

TRANSFER_PROFILE_ID = "1"  # your transfers profile, from the Weavr portal (any id on the simulator)


async def main() -> None:
    async with FakeBackOffice(seed=1) as fake:
        # What a tenant already has: a corporate with a busy account and an empty card.
        corporate = fake.add_identity("CORPORATE")
        account_id = fake.add_managed_account(corporate, currency="EUR", history=5_000).id
        card_id = fake.add_managed_card(corporate, currency="EUR").id

        # One client for the whole program: it pools connections, and fetches and caches each
        # identity's access token on first use.
        async with BackOffice(fake.api_key, base_url=fake.url) as bo:
            acme = bo.identity(Identity.corporate(corporate.id))
            account = await acme.managed_accounts.get(account_id)
            print(f"account {account.id}: {account.currency} {account.balances.actual_balance}")

            # Oldest first, 8 page requests in flight, pages still yielded in order. The pages
            # carry the balances before and after the walk: the entries must bridge the two.
            statement = acme.managed_accounts.statement(account_id, order="ASC", concurrency=8)
            opening: CurrencyAmount | None = None
            closing: CurrencyAmount | None = None
            moved = 0
            async for page in statement.pages():
                opening, closing = opening or page.start_balance, page.end_balance
                moved += sum(
                    e.actual_balance_adjustment.amount
                    for e in page.items
                    if e.actual_balance_adjustment is not None
                )
            assert opening and closing and opening.amount + moved == closing.amount
            print(f"statement: {statement.progress.items} entries, {opening} + {moved} = {closing}")

            # Money is an int of minor units (EUR 25.00 here), never a float.
            transfer = await acme.transfers.create(
                profile_id=TRANSFER_PROFILE_ID,
                source=InstrumentRef.managed_account(account_id),
                destination=InstrumentRef.managed_card(card_id),
                amount=CurrencyAmount("EUR", 2500),
            )
            print(f"transfer {transfer.id}: {transfer.state} {transfer.destination_amount}")

            await acme.managed_cards.block(card_id)
            try:
                await acme.managed_cards.block(card_id)
            except Conflict as exc:  # 409: the card's state forbids it; error_code says why
                print(f"blocked twice: {exc.error_code} (request-ref {exc.request_ref})")


if __name__ == "__main__":
    asyncio.run(main())
