"""The billable-call budget: never more than `limit` createPrediction calls accepted by the target.

A call reserves a slot before it is sent and settles it when the answer comes: a 2xx keeps the slot, anything
else gives it back. An answer that never came (timeout, reset) keeps the slot, because the target may have
accepted it. So `accepted + in flight <= limit` holds at every instant, under any retry or concurrency.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Budget", "BudgetExhausted", "BudgetState"]


class BudgetExhausted(Exception):
    """Raised (or answered) instead of sending a billable call that could exceed the budget."""


@dataclass(frozen=True, slots=True)
class BudgetState:
    limit: int | None
    spent: int
    in_flight: int
    refused: int
    released: int


class Budget:
    """Thread-safe counter of billable calls; `limit=None` means unlimited."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValueError(f"budget must be >= 0, got {limit}")
        self._limit = limit
        self._lock = threading.Lock()
        self._spent = 0
        self._in_flight = 0
        self._refused = 0
        self._released = 0

    @property
    def limit(self) -> int | None:
        return self._limit

    def try_reserve(self, *, keep: int = 0) -> bool:
        """Take a slot, leaving at least `keep` free for other callers; False (and counted) when none is left."""
        with self._lock:
            if self._limit is not None and self._spent + self._in_flight + keep >= self._limit:
                self._refused += 1
                return False
            self._in_flight += 1
            return True

    def settle(self, *, accepted: bool) -> None:
        """Close a reservation: `accepted=True` when the target took the call, or may have."""
        with self._lock:
            self._in_flight -= 1
            if accepted:
                self._spent += 1
            else:
                self._released += 1

    def remaining(self) -> int | None:
        with self._lock:
            return None if self._limit is None else self._limit - self._spent - self._in_flight

    def state(self) -> BudgetState:
        with self._lock:
            return BudgetState(self._limit, self._spent, self._in_flight, self._refused, self._released)
