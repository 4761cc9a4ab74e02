"""Minting unified case codes (统一办件编码) and mapping local case numbers to them.

The mapping ``map.<system>.<local number>`` is written create-only, so two
adapters racing on the same case cannot mint two codes: the loser's write is
rejected and it reads the winner's code. Sequence numbers are claimed in
blocks per region and day with compare-and-set, so minting does not cost a
round trip per case. A block claimed by a process that then stops leaves a
gap in the sequence, never a reuse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date

import nats.js.errors
import structlog
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from adapters.ingest.keys import kv_token
from adapters.ingest.kvget import get_many
from adapters.ingest.lru import BoundedCache
from bus.errors import StreamError
from bus.i18n import N_
from bus.publisher import WRONG_LAST_SEQUENCE, Publisher
from bus.streams import CASE_CODES
from contracts.casecode import MAX_SEQUENCE, make_unified_code

log = structlog.get_logger(__name__)

BLOCK_SIZE = 100
CAS_ATTEMPTS = 20
CACHE_CASES = 200_000

CaseRef = tuple[str, str]
"""(issuing system, local case number)."""


def mapping_key(system: str, local_no: str) -> str:
    return f"map.{kv_token(system)}.{kv_token(local_no)}"


class CaseCodes:
    """Resolves (system, local number) pairs to unified codes, minting new ones."""

    def __init__(self, js: JetStreamContext, publisher: Publisher) -> None:
        self._js = js
        self._publisher = publisher
        self._bucket: KeyValue | None = None
        self._cache: BoundedCache[CaseRef, str] = BoundedCache(CACHE_CASES)
        self._blocks: dict[tuple[str, str], tuple[int, int]] = {}
        self.minted = 0

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._js.key_value(CASE_CODES)
        return self._bucket

    def cached(self, ref: CaseRef) -> str | None:
        return self._cache.get(ref)

    async def lookup(self, refs: Iterable[CaseRef]) -> dict[CaseRef, str]:
        """Return the unified code of each case already mapped; never mints one.

        A reference with no code yet is left out and not cached, so a later
        lookup finds the code once the case reaches the bus.
        """
        codes: dict[CaseRef, str] = {}
        missing = []
        for ref in dict.fromkeys(refs):
            known = self._cache.get(ref)
            if known is None:
                missing.append(ref)
            else:
                codes[ref] = known
        if not missing:
            return codes
        stored = await get_many(await self._kv(), (mapping_key(*ref) for ref in missing))
        for ref in missing:
            entry = stored.get(mapping_key(*ref))
            if entry is not None:
                codes[ref] = entry[0].decode()
                self._cache.put(ref, codes[ref])
        return codes

    async def resolve(self, wanted: dict[CaseRef, tuple[str, date]]) -> dict[CaseRef, str]:
        """Return the unified code of each case; ``wanted`` gives region and date for minting."""
        codes = await self.lookup(wanted)
        to_mint = [ref for ref in wanted if ref not in codes]
        if not to_mint:
            return codes

        lost_race = await self._mint(to_mint, wanted, codes)
        if lost_race:
            again = await get_many(await self._kv(), (mapping_key(*ref) for ref in lost_race))
            for ref in lost_race:
                codes[ref] = again[mapping_key(*ref)][0].decode()

        for ref, code in codes.items():
            self._cache.put(ref, code)
        return codes

    async def _mint(
        self,
        refs: list[CaseRef],
        wanted: dict[CaseRef, tuple[str, date]],
        codes: dict[CaseRef, str],
    ) -> list[CaseRef]:
        attempts = []
        for ref in refs:
            region, day = wanted[ref]
            code = make_unified_code(region, day, await self._next_sequence(region, day))
            future = await self._publisher.publish(
                f"$KV.{CASE_CODES}.{mapping_key(*ref)}",
                code.encode(),
                {"Nats-Expected-Last-Subject-Sequence": "0"},
            )
            attempts.append((ref, code, future))

        lost_race = []
        for ref, code, future in attempts:
            ack = await future
            if ack.ok:
                codes[ref] = code
                self.minted += 1
            elif ack.error_code == WRONG_LAST_SEQUENCE:
                lost_race.append(ref)
            else:
                raise StreamError(
                    N_("Writing the case code mapping failed: {detail}"), detail=ack.error
                )
        return lost_race

    async def _next_sequence(self, region: str, day: date) -> int:
        slot = (region, f"{day:%Y%m%d}")
        current = self._blocks.get(slot)
        if current is None or current[0] >= current[1]:
            current = await self._claim_block(*slot)
        next_value, end = current
        self._blocks[slot] = (next_value + 1, end)
        return next_value

    async def _claim_block(self, region: str, day: str) -> tuple[int, int]:
        bucket = await self._kv()
        key = f"seq.{region}.{day}"
        for attempt in range(CAS_ATTEMPTS):
            try:
                entry = await bucket.get(key)
            except nats.js.errors.KeyNotFoundError:
                start, revision = 1, None
            else:
                start, revision = int(entry.value or b"1"), entry.revision
            end = start + BLOCK_SIZE
            if end - 1 > MAX_SEQUENCE:
                raise StreamError(
                    N_("Region {region} ran out of case sequence numbers for {day}."),
                    region=region,
                    day=day,
                )
            try:
                if revision is None:
                    await bucket.create(key, str(end).encode())
                else:
                    await bucket.update(key, str(end).encode(), last=revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                log.debug("case_sequence_block_contended", region=region, day=day, attempt=attempt)
                await asyncio.sleep(0.01 * (attempt + 1))
                continue
            return start, end
        raise StreamError(
            N_(
                "Could not claim case sequence numbers for region {region} on {day} after "
                "{attempts} attempts; another process holds the counter. Retry later."
            ),
            region=region,
            day=day,
            attempts=CAS_ATTEMPTS,
        )
