"""Books to reconcile, shared by the reconcile tests: identities with an account and a card
whose seeded TRANSFER entries have their transfers, plus real transfers between the two."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from weavr_async import BackOffice, CurrencyAmount, Identity, InstrumentRef, Retry, reconcile
from weavr_async.testing import FakeBackOffice, SeededInstrument

# Retries that wait milliseconds, with room for the fault rates the tests inject.
PATIENT_RETRY = Retry(max_attempts=10, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=5.0)


@attrs.frozen
class Books:
    """What `seed_books` made: the targets in input order, and each instrument by key."""

    targets: list[reconcile.Target]
    instruments: dict[str, SeededInstrument]

    def target(self, instrument: SeededInstrument) -> reconcile.Target:
        return next(t for t in self.targets if t.instrument.id == instrument.id)

    def accounts(self) -> list[SeededInstrument]:
        return [i for i in self.instruments.values() if i.kind == "managed_accounts"]


async def seed_books(
    fake: FakeBackOffice,
    identities: int,
    *,
    history: int = 300,
    card_history: int = 60,
    transfers: int = 1,
) -> Books:
    """`identities` identities (corporates and consumers in turn), each with an account of
    `history` entries and a card of `card_history`, every TRANSFER entry backed by its
    transfer, and `transfers` API transfers from the account to the card."""
    targets: list[reconcile.Target] = []
    instruments: dict[str, SeededInstrument] = {}
    made: list[tuple[Identity, SeededInstrument, SeededInstrument]] = []
    for n in range(identities):
        seeded = fake.add_identity("CORPORATE" if n % 2 == 0 else "CONSUMER")
        identity = Identity(seeded.type, seeded.id)
        account = fake.add_managed_account(seeded, history=history)
        card = fake.add_managed_card(seeded, history=card_history)
        for instrument in (account, card):
            fake.record_statement_transfers(instrument)
            ref = (
                InstrumentRef.managed_account(instrument.id)
                if instrument.kind == "managed_accounts"
                else InstrumentRef.managed_card(instrument.id)
            )
            target = reconcile.Target(identity, ref)
            targets.append(target)
            instruments[target.key] = instrument
        made.append((identity, account, card))
    if transfers:
        async with BackOffice(fake.api_key, base_url=fake.url, retry=PATIENT_RETRY) as bo:
            for identity, account, card in made:
                for n in range(transfers):
                    await bo.identity(identity).transfers.create(
                        profile_id="1",
                        source=InstrumentRef.managed_account(account.id),
                        destination=InstrumentRef.managed_card(card.id),
                        amount=CurrencyAmount(account.currency, 100 + n),
                    )
    return Books(targets, instruments)


def client_settings(fake: FakeBackOffice, **changes: object) -> reconcile.ClientSettings:
    """A run's client for the simulator: no budget of its own (the simulator enforces none
    unless a test sets one), patient retries."""
    settings = reconcile.ClientSettings(base_url=fake.url, budget="unlimited", retry=PATIENT_RETRY)
    return attrs.evolve(settings, **changes)  # type: ignore[arg-type]


async def run_in_process(
    fake: FakeBackOffice, targets: list[reconcile.Target], **options: object
) -> reconcile.Report:
    async with reconcile.connect(fake.api_key, client_settings(fake)) as bo:
        return await reconcile.reconcile(bo, targets, **options)  # type: ignore[arg-type]


@contextmanager
def api_key_in_env(key: str) -> Iterator[None]:
    """WEAVR_API_KEY set for this process (and the workers it starts), then restored."""
    saved = os.environ.get("WEAVR_API_KEY")
    os.environ["WEAVR_API_KEY"] = key
    try:
        yield
    finally:
        if saved is None:
            del os.environ["WEAVR_API_KEY"]
        else:
            os.environ["WEAVR_API_KEY"] = saved


async def until(condition: Callable[[], bool]) -> None:
    """Wait (at most 20 s) until `condition()` holds."""
    for _ in range(2_000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def write_input(path: Path, targets: list[reconcile.Target]) -> Path:
    """`targets` as the CSV input of `weavr-async reconcile`, at `path`."""
    rows = [",".join(reconcile.COLUMNS)]
    rows += [
        f"{t.identity.type},{t.identity.id},{t.instrument.type},{t.instrument.id}" for t in targets
    ]
    path.write_text("\n".join(rows) + "\n")
    return path
