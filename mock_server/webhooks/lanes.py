"""Fair per-receiver queues: which waiting delivery goes next, under a global and a per-receiver cap.

Rules:
- Work waits in one FIFO lane per receiver (`policy.receiver_of(url)`: scheme, host and port).
- A receiver is *ready* when its lane is not empty and fewer than `per_receiver` of its items are in flight.
- `take()` serves the ready receivers round-robin, one item per turn, so a receiver with 10,000 waiting
  items and one with a single item alternate; it returns None when nothing is ready or `total` items are
  in flight. A slow, hanging or dead receiver therefore holds at most `per_receiver` of the `total` slots,
  and never delays another receiver's items by more than one turn.
- `done(key)` frees a slot; the receiver is ready again if it still has work. Every call that frees or adds
  work is followed by a `take()` in the shell, so no ready item is left without a sender.
- Pure: no I/O, no locks (it lives on the event loop); every operation is O(1).
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

__all__ = ["Lanes"]

T = TypeVar("T")


class Lanes(Generic[T]):
    """Per-receiver FIFO lanes served round-robin, with `total` and `per_receiver` caps on items in flight."""

    __slots__ = ("_active", "_in_flight", "_lanes", "_per_receiver", "_ready", "_ringed", "_total")

    def __init__(self, *, total: int, per_receiver: int) -> None:
        if total < 1 or per_receiver < 1:
            raise ValueError(f"total={total!r}, per_receiver={per_receiver!r}: both caps must be >= 1")
        self._total = total
        self._per_receiver = per_receiver
        self._lanes: dict[str, deque[T]] = {}
        self._active: dict[str, int] = {}
        self._ready: deque[str] = deque()
        self._ringed: set[str] = set()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    def push(self, key: str, item: T) -> None:
        """Queue `item` at the end of receiver `key`'s lane."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = deque()
        lane.append(item)
        self._ring(key)

    def take(self) -> tuple[str, T] | None:
        """The next item to send and its receiver (now counted in flight), or None."""
        if self._in_flight >= self._total or not self._ready:
            return None
        key = self._ready.popleft()
        self._ringed.discard(key)
        lane = self._lanes[key]
        item = lane.popleft()
        if not lane:
            del self._lanes[key]
        self._active[key] = self._active.get(key, 0) + 1
        self._in_flight += 1
        self._ring(key)
        return key, item

    def done(self, key: str) -> None:
        """An item of receiver `key` finished (sent, failed or cancelled)."""
        left = self._active[key] - 1
        if left:
            self._active[key] = left
        else:
            del self._active[key]
        self._in_flight -= 1
        self._ring(key)

    def clear(self) -> None:
        """Drop every waiting item; items in flight still report `done()`."""
        self._lanes.clear()
        self._ready.clear()
        self._ringed.clear()

    def _ring(self, key: str) -> None:
        if key not in self._ringed and key in self._lanes and self._active.get(key, 0) < self._per_receiver:
            self._ready.append(key)
            self._ringed.add(key)
