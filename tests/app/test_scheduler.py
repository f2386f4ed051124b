from __future__ import annotations

import anyio
import pytest

from mock_server.clock import FakeClock
from mock_server.scheduler import Scheduler

pytestmark = pytest.mark.anyio


async def test_run_due_runs_only_due_timers_in_time_order() -> None:
    clock = FakeClock(0.0)
    scheduler = Scheduler(clock, sleeps=False)
    ran: list[str] = []
    scheduler.call_at(5.0, lambda: ran.append("b"))
    scheduler.call_at(1.0, lambda: ran.append("a"))
    scheduler.call_at(9.0, lambda: ran.append("c"))
    clock.advance(5.0)
    assert await scheduler.run_due() == 2
    assert ran == ["a", "b"]
    assert scheduler.next_due() == 9.0


async def test_cancelled_timer_never_runs() -> None:
    clock = FakeClock(0.0)
    scheduler = Scheduler(clock, sleeps=False)
    ran: list[int] = []
    handle = scheduler.call_at(1.0, lambda: ran.append(1))
    scheduler.cancel(handle)
    clock.advance(2.0)
    assert await scheduler.run_due() == 0
    assert ran == []
    assert len(scheduler) == 0


async def test_failing_callback_is_reported_and_loop_continues() -> None:
    clock = FakeClock(0.0)
    errors: list[BaseException] = []
    scheduler = Scheduler(clock, sleeps=False, on_error=errors.append)
    ran: list[int] = []
    scheduler.call_at(1.0, lambda: 1 / 0)  # type: ignore[arg-type, return-value]
    scheduler.call_at(1.0, lambda: ran.append(1))
    clock.advance(1.0)
    await scheduler.run_due()
    assert ran == [1]
    assert isinstance(errors[0], ZeroDivisionError)


async def test_background_loop_wakes_when_the_fake_clock_moves() -> None:
    clock = FakeClock(0.0)
    scheduler = Scheduler(clock, sleeps=False)
    clock.subscribe(scheduler.wake)
    done = anyio.Event()

    async def fire() -> None:
        done.set()

    async with anyio.create_task_group() as tg:
        scheduler.start(tg)
        scheduler.call_at(30.0, fire)
        await anyio.sleep(0)
        assert not done.is_set()
        clock.advance(30.0)
        with anyio.fail_after(2):
            await done.wait()
        scheduler.stop()
        tg.cancel_scope.cancel()
