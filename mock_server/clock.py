"""Time for the mock: a `Clock` protocol, the real `SystemClock` and a `FakeClock` that tests advance.

Rules: nothing outside this module reads the wall clock. The clock only tells time; durations are
scaled by the service (`--time-scale`), not here. A `FakeClock` tells its listeners when it moves so
that the scheduler can run due work at once instead of waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "MovableClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Tells the time in unix seconds."""

    def now(self) -> float: ...


@runtime_checkable
class MovableClock(Clock, Protocol):
    """A clock `POST /_mock/clock/advance` can move, telling its listeners (the scheduler) when it does."""

    @property
    def running(self) -> bool:
        """True when time also passes on its own (wall time), False when it moves only when told."""
        ...

    def advance(self, seconds: float) -> float: ...
    def subscribe(self, listener: Callable[[], None]) -> None: ...


class SystemClock:
    """The wall clock, plus an offset that `advance()` grows (so `POST /_mock/clock/advance` works on a live mock)."""

    __slots__ = ("_listeners", "_offset")

    def __init__(self) -> None:
        self._offset = 0.0
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return time.time() + self._offset

    @property
    def running(self) -> bool:
        return True

    @property
    def offset(self) -> float:
        """Seconds this clock is ahead of the wall clock (what `advance()` added)."""
        return self._offset

    def advance(self, seconds: float) -> float:
        """Jump forward by `seconds` (>= 0); wall time keeps running from there."""
        if seconds < 0:
            raise ValueError(f"SystemClock.advance({seconds!r}): time never goes backwards, pass seconds >= 0")
        self._offset += seconds
        for listener in list(self._listeners):
            listener()
        return self.now()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every `advance()`."""
        self._listeners.append(listener)


class FakeClock:
    """A clock that only moves when told to: `advance(seconds)` or `set(t)`."""

    __slots__ = ("_listeners", "_lock", "_now")

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    @property
    def running(self) -> bool:
        return False

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"FakeClock.advance({seconds!r}): time never goes backwards, pass seconds >= 0")
        with self._lock:
            self._now += seconds
            now = self._now
        self._notify()
        return now

    def set(self, t: float) -> float:
        """Jump to unix time `t` (not earlier than now) and return it."""
        with self._lock:
            if t < self._now:
                raise ValueError(f"FakeClock.set({t!r}): earlier than now ({self._now!r}); time never goes backwards")
            self._now = float(t)
        self._notify()
        return t

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every move (the scheduler's `wake`)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()
