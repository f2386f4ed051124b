"""The dispatcher's side of a shared delivery stream (`Store.delivery_stream()`, the Redis outbox).

Rules:
- `read_loop()` reads the deliveries no process holds yet (XREADGROUP on Redis) and hands each batch to
  `take` (the dispatcher's `resume`): from then on this process holds them and alone sends them.
- `save()` never waits: it keeps the latest record per delivery, and `flush_loop()` writes everything
  saved during one event-loop tick in ONE store call (one script run on Redis), so a burst costs one
  round trip per batch of attempts, not per attempt. A record not yet written when the process is
  killed leaves its delivery pending in the store, held by the dead process: another process takes it
  over (`reclaim`) and sends it again with the same `webhook-id` (at least once, never lost).
- A failed read or write is reported to `on_error` and retried after `RETRY_AFTER` s; unsaved records
  are kept (a newer record of the same delivery wins).
- Before each read, the deliveries this process holds in the store without knowing it (`orphans()`: a reply
  lost in an outage, whose command ran anyway) are taken too, but those it finished and has yet to write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio

from mock_server.scheduler import delay
from mock_server.store import DeliveryStream

__all__ = ["READ_BATCH", "StreamIntake"]

READ_BATCH = 1000
"""Entries one read takes at most."""
READ_BLOCK_MS = 1000
RETRY_AFTER = 0.2


class StreamIntake:
    """Reads this process's deliveries from `stream` and writes their records back in batches."""

    def __init__(
        self,
        stream: DeliveryStream,
        *,
        take: Callable[[list[dict[str, Any]]], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._stream = stream
        self._take = take
        self._on_error = on_error
        self._unsaved: dict[str, Mapping[str, Any]] = {}
        self._wanted = anyio.Event()
        self._held: set[str] = set()  # the pending deliveries this process holds (read, taken over)

    def hold(self, delivery_id: str) -> bool:
        """Count a delivery as this process's; False if it was already."""
        if delivery_id in self._held:
            return False
        self._held.add(delivery_id)
        return True

    def holds(self, delivery_id: str) -> bool:
        return delivery_id in self._held

    def release_all(self) -> None:
        """Forget what is held (a reset: the store's records and entries are gone too)."""
        self._held.clear()
        self._unsaved.clear()

    async def read_loop(self) -> None:
        """Until cancelled: read what nobody holds (and what this process holds unawares), hand it to `take`."""
        while True:
            try:
                orphans = [r for r in await self._stream.orphans() if r.get("delivery_id") not in self._unsaved]
                if orphans:
                    self._take(orphans)
                records = await self._stream.read(READ_BATCH, READ_BLOCK_MS)
            except Exception as exc:  # a Redis hiccup must not stop the intake
                self._on_error(exc)
                await delay(RETRY_AFTER)
                continue
            if records:
                self._take(records)

    def save(self, delivery_id: str, record: Mapping[str, Any], *, finished: bool) -> None:
        """Write `record` with this tick's others; a finished delivery is no longer held."""
        if finished:
            self._held.discard(delivery_id)
        self._unsaved.pop(delivery_id, None)  # re-inserted: the batch keeps the order of the latest saves
        self._unsaved[delivery_id] = record
        self._wanted.set()

    async def flush_loop(self) -> None:
        """Until cancelled: write what `save()` kept, one store call per batch."""
        while True:
            await self._wanted.wait()
            self._wanted = anyio.Event()
            if not await self.flush():
                await delay(RETRY_AFTER)
                self._wanted.set()

    async def flush(self) -> bool:
        """Write every unsaved record now; False (records kept) when the store failed."""
        batch, self._unsaved = self._unsaved, {}
        if not batch:
            return True
        try:
            await self._stream.save(list(batch.items()))
        except Exception as exc:
            self._on_error(exc)
            self._unsaved = {**batch, **self._unsaved}
            return False
        return True

    async def aclose(self) -> None:
        """Write what is left, then close the stream's connections."""
        with anyio.CancelScope(shield=True):
            await self.flush()
            await self._stream.aclose()
