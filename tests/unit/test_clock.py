from __future__ import annotations

import pytest

from mock_server.clock import Clock, FakeClock, SystemClock


def test_fake_clock_moves_only_when_told_and_notifies() -> None:
    clock = FakeClock(100.0)
    calls: list[float] = []
    clock.subscribe(lambda: calls.append(clock.now()))
    assert clock.now() == 100.0
    assert clock.advance(5) == 105.0
    assert clock.set(200.0) == 200.0
    assert calls == [105.0, 200.0]


def test_fake_clock_refuses_to_go_backwards() -> None:
    clock = FakeClock(100.0)
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="earlier than now"):
        clock.set(50.0)


def test_system_clock_advance_adds_an_offset() -> None:
    clock = SystemClock()
    before = clock.now()
    assert clock.advance(3600) >= before + 3600
    assert isinstance(clock, Clock)
