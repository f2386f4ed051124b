"""The delivery engine over real loopback sockets: the dispatcher, the mock's scheduler on a FakeClock,
and the contracts receiver in a thread. Backoff is crossed by advancing the clock, never by sleeping."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from contracts.receiver import WebhookReceiver
from mock_server.clock import FakeClock
from mock_server.scheduler import Scheduler
from mock_server.store.sqlite import SqliteStore
from mock_server.webhooks.delivery import Answer, WebhookSender
from mock_server.webhooks.dispatcher import DeliveryStore, WebhookDispatcher
from mock_server.webhooks.journal import Delivery
from mock_server.webhooks.settings import DEV_SECRET, WebhookChaos, WebhookSettings
from mock_server.webhooks.signing import generate_secret
from tests._support import free_port, until

pytestmark = pytest.mark.anyio

FAST = WebhookSettings(backoff_base=10.0, backoff_factor=2.0, jitter=0.0, timeout=2.0, max_attempts=4)


@dataclass(frozen=True)
class Task:
    task_id: str
    webhook: str | None


def body(task_id: str, status: str = "success") -> dict[str, object]:
    return {"code": "0", "data": {"task_id": task_id, "task_status": status}, "request_id": "f" * 32}


@asynccontextmanager
async def engine(
    settings: WebhookSettings = FAST,
    *,
    clock: FakeClock | None = None,
    store: DeliveryStore | None = None,
    sender: WebhookSender | None = None,
) -> AsyncIterator[tuple[WebhookDispatcher, FakeClock]]:
    clock = clock or FakeClock(start=time.time())
    scheduler = Scheduler(clock, sleeps=False)
    clock.subscribe(scheduler.wake)
    errors: list[BaseException] = []
    dispatcher = WebhookDispatcher(
        settings, clock=clock, scheduler=scheduler, store=store, sender=sender, on_error=errors.append
    )
    async with anyio.create_task_group() as tg:
        scheduler.start(tg)
        await dispatcher.start()
        try:
            yield dispatcher, clock
        finally:
            await dispatcher.aclose()
            scheduler.stop()
            tg.cancel_scope.cancel()
    assert not errors, errors


async def received(receiver: WebhookReceiver, count: int) -> list[dict[str, Any]]:
    await until(lambda: len(receiver.deliveries()) >= count)
    return receiver.deliveries()


def attempts(dispatcher: WebhookDispatcher, delivery_id: str) -> int:
    return len(dispatcher.get(delivery_id).attempts)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver([DEV_SECRET]) as r:
        yield r


async def test_fails_twice_then_delivered_on_attempt_3_with_one_webhook_id(receiver: WebhookReceiver) -> None:
    receiver.set_behaviour(script=[500, 500, 200])
    async with engine() as (dispatcher, clock):
        delivery_id = dispatcher.on_event(Task("a" * 32, receiver.url), "success", body("a" * 32))
        assert delivery_id is not None
        await until(lambda: attempts(dispatcher, delivery_id) == 1)
        clock.advance(10)
        await until(lambda: attempts(dispatcher, delivery_id) == 2)
        clock.advance(20)
        await until(lambda: dispatcher.get(delivery_id).status == "delivered")
        record = dispatcher.get(delivery_id)
    assert [a.status_code for a in record.attempts] == [500, 500, 200]
    assert [a.number for a in record.attempts] == [1, 2, 3]
    assert record.attempts[1].at - record.attempts[0].at == 10
    assert record.attempts[2].at - record.attempts[1].at == 20
    got = receiver.deliveries()
    assert [d["answered"] for d in got] == [500, 500, 200]
    assert {d["webhook_id"] for d in got} == {delivery_id}
    assert all(d["verified"] and not d["schema_errors"] for d in got)


async def test_retry_after_is_honoured(receiver: WebhookReceiver) -> None:
    receiver.set_behaviour(script=[503], retry_after="42")
    async with engine() as (dispatcher, clock):
        delivery_id = dispatcher.on_event(Task("b" * 32, receiver.url), "failed", body("b" * 32, "failed"))
        assert delivery_id is not None
        await until(lambda: attempts(dispatcher, delivery_id) == 1)
        first = dispatcher.get(delivery_id)
        assert first.next_attempt_at == first.attempts[0].at + 42
        clock.advance(41)
        await anyio.sleep(0)
        assert attempts(dispatcher, delivery_id) == 1
        clock.advance(1)
        await until(lambda: dispatcher.get(delivery_id).status == "delivered")
    assert len(receiver.deliveries()) == 2


async def test_410_gone_stops_retrying_and_is_journaled_gone(receiver: WebhookReceiver) -> None:
    receiver.set_behaviour(script=[410])
    async with engine() as (dispatcher, clock):
        delivery_id = dispatcher.on_event(Task("b1" * 16, receiver.url), "success", body("b1" * 16))
        assert delivery_id is not None
        await until(lambda: dispatcher.get(delivery_id).status == "gone")
        clock.advance(3600)
        await anyio.wait_all_tasks_blocked()  # a retry would be under way by now
        record = dispatcher.get(delivery_id)
        assert [d.delivery_id for d in dispatcher.list(status="gone")] == [delivery_id]
    assert [a.status_code for a in record.attempts] == [410]
    assert record.next_attempt_at is None
    assert len(receiver.deliveries()) == 1


async def test_receiver_down_exhausts_after_the_configured_attempts() -> None:
    url = f"http://127.0.0.1:{free_port()}/webhook"
    async with engine(WebhookSettings(max_attempts=3, backoff_base=1.0, jitter=0.0)) as (dispatcher, clock):
        delivery_id = dispatcher.on_event(Task("c" * 32, url), "success", body("c" * 32))
        assert delivery_id is not None
        for n in (1, 2):
            await until(functools.partial(lambda n: attempts(dispatcher, delivery_id) == n, n))
            clock.advance(60)
        await until(lambda: dispatcher.get(delivery_id).status == "exhausted")
        record = dispatcher.get(delivery_id)
    assert len(record.attempts) == 3
    assert all(a.status_code is None and (a.error or "").startswith("connect") for a in record.attempts)
    assert record.next_attempt_at is None


async def test_slow_receiver_times_out_and_is_retried(receiver: WebhookReceiver) -> None:
    receiver.set_behaviour(delay=1.0)
    settings = WebhookSettings(timeout=0.1, backoff_base=5.0, jitter=0.0)
    async with engine(settings) as (dispatcher, clock):
        delivery_id = dispatcher.on_event(Task("d" * 32, receiver.url), "success", body("d" * 32))
        assert delivery_id is not None
        await until(lambda: attempts(dispatcher, delivery_id) == 1)
        receiver.set_behaviour(delay=0)
        clock.advance(5)
        await until(lambda: dispatcher.get(delivery_id).status == "delivered")
        record = dispatcher.get(delivery_id)
    assert (record.attempts[0].error or "").startswith("timeout")
    assert record.attempts[0].latency_ms < 900
    assert record.attempts[1].status_code == 200


async def test_receiver_with_the_wrong_secret_rejects_every_attempt() -> None:
    with WebhookReceiver([generate_secret(b"someone else")]) as wrong:
        async with engine(WebhookSettings(max_attempts=2, jitter=0.0)) as (dispatcher, clock):
            delivery_id = dispatcher.on_event(Task("e" * 32, wrong.url), "success", body("e" * 32))
            assert delivery_id is not None
            await until(lambda: attempts(dispatcher, delivery_id) == 1)
            clock.advance(1)
            await until(lambda: dispatcher.get(delivery_id).status == "exhausted")
        got = wrong.deliveries()
    assert [d["answered"] for d in got] == [401, 401]
    assert not any(d["verified"] for d in got)


async def test_rotation_two_secrets_verify_at_a_receiver_knowing_only_the_new_one() -> None:
    old, new = generate_secret(b"old"), generate_secret(b"new")
    with WebhookReceiver([new]) as r:
        async with engine(WebhookSettings(secrets=(old, new))) as (dispatcher, _):
            dispatcher.on_event(Task("f" * 32, r.url), "success", body("f" * 32))
            (got,) = await received(r, 1)
    assert got["verified"] is True
    assert len(got["headers"]["webhook-signature"].split(" ")) == 2


async def test_bad_signature_chaos_is_rejected_then_the_retry_verifies(receiver: WebhookReceiver) -> None:
    settings = WebhookSettings(jitter=0.0, chaos=WebhookChaos(bad_signature=1.0))
    async with engine(settings) as (dispatcher, clock):
        delivery_id = dispatcher.on_event(Task("1" * 32, receiver.url), "success", body("1" * 32))
        assert delivery_id is not None
        await until(lambda: attempts(dispatcher, delivery_id) == 1)
        clock.advance(1)
        await until(lambda: dispatcher.get(delivery_id).status == "delivered")
        record = dispatcher.get(delivery_id)
    assert [d["verified"] for d in receiver.deliveries()] == [False, True]
    assert [a.signature for a in record.attempts] == ["bad", "valid"]


async def test_duplicate_chaos_sends_the_same_webhook_id_twice(receiver: WebhookReceiver) -> None:
    async with engine(WebhookSettings(chaos=WebhookChaos(duplicate=1.0))) as (dispatcher, _):
        delivery_id = dispatcher.on_event(Task("2" * 32, receiver.url), "success", body("2" * 32))
        assert delivery_id is not None
        await until(lambda: attempts(dispatcher, delivery_id) == 2)
        record = dispatcher.get(delivery_id)
    got = receiver.deliveries()
    assert [d["webhook_id"] for d in got] == [delivery_id, delivery_id]
    assert got[0]["body"] == got[1]["body"]
    assert record.status == "delivered"
    assert [a.duplicate for a in record.attempts] == [False, True]


async def test_out_of_order_chaos_delivers_the_later_task_first(receiver: WebhookReceiver) -> None:
    async with engine(WebhookSettings(chaos=WebhookChaos(out_of_order=True, out_of_order_window=5))) as (d, clock):
        d.on_event(Task("3" * 32, receiver.url), "success", body("3" * 32))
        d.on_event(Task("4" * 32, receiver.url), "failed", body("4" * 32, "failed"))
        d.on_event(Task("5" * 32, receiver.url), "success", body("5" * 32))
        got = await received(receiver, 2)
        assert [g["body"]["data"]["task_id"] for g in got] == ["4" * 32, "3" * 32]
        clock.advance(5)  # the odd one out goes alone once its window closes
        got = await received(receiver, 3)
    assert got[2]["body"]["data"]["task_id"] == "5" * 32


class RecordingSender:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        self.calls.append(url)
        return Answer(200, None, "", 0.0)


@pytest.mark.parametrize(
    "url", ["https://api.shuyou.ai/api/callback", "https://your-domain.com/webhook/image-done", "https://10.0.0.8/x"]
)
async def test_non_allowlisted_host_is_journaled_blocked_and_never_sent(url: str) -> None:
    sender = RecordingSender()
    async with engine(sender=sender) as (dispatcher, clock):
        delivery_id = dispatcher.on_event(Task("6" * 32, url), "success", body("6" * 32))
        assert delivery_id is not None
        clock.advance(3600)
        await anyio.wait_all_tasks_blocked()  # whatever the advance set off has run
        record = dispatcher.get(delivery_id)
        assert dispatcher.redeliver(delivery_id).status == "blocked"
    assert record.status == "blocked"
    assert record.attempts == ()
    assert sender.calls == []


async def test_bounded_concurrency() -> None:
    in_flight = peak = 0
    release = anyio.Event()

    class Slow:
        async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await release.wait()
            in_flight -= 1
            return Answer(204, None, "", 0.0)

    async with engine(WebhookSettings(concurrency=3), sender=Slow()) as (dispatcher, _):
        ids = [dispatcher.on_event(Task(f"{i:032x}", "http://127.0.0.1:1/h"), "success", body("x")) for i in range(10)]
        await until(lambda: in_flight == 3)
        await anyio.wait_all_tasks_blocked()  # a fourth send would have started by now
        assert in_flight == 3
        release.set()
        await until(lambda: all(dispatcher.get(i).status == "delivered" for i in ids if i))
    assert peak == 3


async def test_redelivering_a_delivery_that_waits_for_a_sender_does_not_queue_it_twice() -> None:
    release = anyio.Event()
    sent: list[str] = []

    class Gated:
        async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
            sent.append(headers["webhook-id"])
            await release.wait()
            return Answer(500, None, "", 0.0)  # each failure waits for its backoff (the clock stands still)

    async with engine(WebhookSettings(receiver_concurrency=1), sender=Gated()) as (dispatcher, _):
        first = dispatcher.on_event(Task("a3" * 16, "http://127.0.0.1:1/h"), "success", body("a3" * 16))
        waiting = dispatcher.on_event(Task("b3" * 16, "http://127.0.0.1:1/h"), "success", body("b3" * 16))
        assert first is not None
        assert waiting is not None
        await until(lambda: sent == [first])  # the receiver's one slot is busy: `waiting` waits in its lane
        dispatcher.redeliver(waiting)
        dispatcher.redeliver(waiting)
        release.set()
        await until(lambda: attempts(dispatcher, waiting) == 1)
        await anyio.wait_all_tasks_blocked()  # a second queued copy would be sent by now
    assert sent == [first, waiting]


async def test_redeliver_sends_the_same_webhook_id_again(receiver: WebhookReceiver) -> None:
    async with engine() as (dispatcher, _):
        delivery_id = dispatcher.on_event(Task("7" * 32, receiver.url), "cancelled", body("7" * 32, "cancelled"))
        assert delivery_id is not None
        await received(receiver, 1)
        await until(lambda: dispatcher.get(delivery_id).status == "delivered")
        dispatcher.redeliver(delivery_id)
        got = await received(receiver, 2)
        await until(lambda: attempts(dispatcher, delivery_id) == 2)
    assert got[0]["webhook_id"] == got[1]["webhook_id"] == delivery_id
    with pytest.raises(KeyError, match="msg_nope"):
        dispatcher.get("msg_nope")


async def test_intermediate_events_do_not_fire_by_default(receiver: WebhookReceiver) -> None:
    async with engine() as (dispatcher, _):
        assert dispatcher.on_event(Task("8" * 32, receiver.url), "processing", body("8" * 32, "processing")) is None
        assert dispatcher.on_event(Task("8" * 32, None), "success", body("8" * 32)) is None
    assert dispatcher.list() == []


async def test_pending_delivery_resumes_after_restart_with_the_sqlite_store(
    receiver: WebhookReceiver, tmp_path: Path
) -> None:
    receiver.set_behaviour(script=[500])
    clock = FakeClock(start=time.time())
    store = SqliteStore(str(tmp_path / "mock.db"))
    async with engine(clock=clock, store=store) as (dispatcher, _):
        delivery_id = dispatcher.on_event(Task("9" * 32, receiver.url), "success", body("9" * 32))
        assert delivery_id is not None
        await until(lambda: attempts(dispatcher, delivery_id) == 1)
    store.close()
    assert len(receiver.deliveries()) == 1

    reopened = SqliteStore(str(tmp_path / "mock.db"))
    async with engine(clock=clock, store=reopened) as (restarted, _):
        assert restarted.get(delivery_id).status == "pending"
        clock.advance(10)
        await until(lambda: restarted.get(delivery_id).status == "delivered")
        record: Delivery = restarted.get(delivery_id)
    assert [a.status_code for a in record.attempts] == [500, 200]
    assert reopened.pending_deliveries() == []
    assert {d["webhook_id"] for d in receiver.deliveries()} == {delivery_id}


@dataclass(frozen=True)
class ChaoticTask:
    task_id: str
    webhook: str | None
    webhook_chaos: Mapping[str, object]


async def test_a_task_can_carry_its_own_chaos(receiver: WebhookReceiver) -> None:
    async with engine() as (dispatcher, _):
        plain = dispatcher.on_event(Task("a1" * 16, receiver.url), "success", body("a1" * 16))
        chaotic = dispatcher.on_event(
            ChaoticTask("b2" * 16, receiver.url, {"duplicate": 1}), "success", body("b2" * 16)
        )
        assert plain is not None
        assert chaotic is not None
        await until(lambda: attempts(dispatcher, chaotic) == 2 and attempts(dispatcher, plain) == 1)
    assert dispatcher.get(chaotic).chaos == {"duplicate"}
    assert dispatcher.get(plain).chaos == frozenset()


async def test_out_of_order_keeps_one_tasks_own_events_in_order(receiver: WebhookReceiver) -> None:
    settings = WebhookSettings(intermediate=True, chaos=WebhookChaos(out_of_order=True, out_of_order_window=5))
    async with engine(settings) as (dispatcher, clock):
        dispatcher.on_event(Task("c3" * 16, receiver.url), "processing", body("c3" * 16, "processing"))
        dispatcher.on_event(Task("c3" * 16, receiver.url), "success", body("c3" * 16))
        await received(receiver, 1)
        clock.advance(5)
        got = await received(receiver, 2)
    assert [g["body"]["data"]["task_status"] for g in got] == ["processing", "success"]


async def test_delivery_ids_differ_after_a_reset_even_for_the_same_task_id(receiver: WebhookReceiver) -> None:
    async with engine() as (dispatcher, _):
        first = dispatcher.on_event(Task("d4" * 16, receiver.url), "success", body("d4" * 16))
        await received(receiver, 1)
        dispatcher.reset()
        second = dispatcher.on_event(Task("d4" * 16, receiver.url), "success", body("d4" * 16))
        got = await received(receiver, 2)
    assert first != second
    assert [g["webhook_id"] for g in got] == [first, second]


async def test_delay_chaos_holds_the_first_attempt_on_the_mock_clock(receiver: WebhookReceiver) -> None:
    async with engine(WebhookSettings(chaos=WebhookChaos(delay=30))) as (dispatcher, clock):
        delivery_id = dispatcher.on_event(Task("e5" * 16, receiver.url), "success", body("e5" * 16))
        assert delivery_id is not None
        held = dispatcher.get(delivery_id)
        assert held.next_attempt_at == held.created_at + 30
        clock.advance(29)
        await anyio.wait_all_tasks_blocked()  # a premature attempt would be under way by now
        assert dispatcher.get(delivery_id).attempts == ()
        assert receiver.deliveries() == []
        clock.advance(1)
        await received(receiver, 1)
        await until(lambda: dispatcher.get(delivery_id).status == "delivered")


async def test_a_dispatcher_can_be_started_again_after_aclose(receiver: WebhookReceiver) -> None:
    clock = FakeClock(start=time.time())
    scheduler = Scheduler(clock, sleeps=False)
    dispatcher = WebhookDispatcher(WebhookSettings(), clock=clock, scheduler=scheduler)
    async with anyio.create_task_group() as tg:
        scheduler.start(tg)
        for n in (1, 2):
            await dispatcher.start()
            delivery_id = dispatcher.on_event(Task(f"{n:032x}", receiver.url), "success", body(f"{n:032x}"))
            assert delivery_id is not None
            await until(functools.partial(lambda i: dispatcher.get(i).status == "delivered", delivery_id))
            await dispatcher.aclose()
        scheduler.stop()
        tg.cancel_scope.cancel()
    assert len(receiver.deliveries()) == 2


# -- receiver isolation: a slow or hanging receiver holds only its share of the senders ----------------

ISOLATED = WebhookSettings(timeout=30.0)  # the default caps: 128 in all, 32 per receiver


@asynccontextmanager
async def hanging_receiver() -> AsyncIterator[tuple[str, list[int]]]:
    """A real loopback server that accepts every connection and never answers; yields (url, [accepted])."""
    accepted = [0]

    async def hold(stream: anyio.abc.SocketStream) -> None:
        accepted[0] += 1
        async with stream:
            await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, hold)
        yield f"http://127.0.0.1:{port}/webhook", accepted
        tg.cancel_scope.cancel()


async def test_a_healthy_receiver_is_not_delayed_by_200_slow_deliveries_to_another(receiver: WebhookReceiver) -> None:
    with WebhookReceiver([DEV_SECRET]) as slow:
        slow.set_behaviour(delay=2.0)
        async with engine(ISOLATED) as (dispatcher, _):
            slow_ids = [
                dispatcher.on_event(Task(f"{n:032x}", slow.url), "success", body(f"{n:032x}")) for n in range(200)
            ]
            await until(lambda: len(slow.deliveries()) == ISOLATED.receiver_concurrency)  # its share is busy
            healthy = dispatcher.on_event(Task("f0" * 16, receiver.url), "success", body("f0" * 16))
            assert healthy is not None
            await until(lambda: dispatcher.get(healthy).status == "delivered")
            answered = sum(1 for i in slow_ids if i and dispatcher.get(i).attempts)
            cap = ISOLATED.receiver_concurrency
            assert answered <= cap  # at most the first wave of 2 s answers is back: the rest are still blocked
            assert len(slow.deliveries()) <= 2 * cap  # one FIFO would have sent all 200 before the healthy one


async def test_a_healthy_receiver_is_not_delayed_by_64_hanging_deliveries_to_another(receiver: WebhookReceiver) -> None:
    async with hanging_receiver() as (url, accepted), engine(ISOLATED) as (dispatcher, _):
        hung = [dispatcher.on_event(Task(f"{n:032x}", url), "success", body(f"{n:032x}")) for n in range(64)]
        await until(lambda: accepted[0] == ISOLATED.receiver_concurrency)
        healthy = dispatcher.on_event(Task("f1" * 16, receiver.url), "success", body("f1" * 16))
        assert healthy is not None
        await until(lambda: dispatcher.get(healthy).status == "delivered")
        assert all(dispatcher.get(i).attempts == () for i in hung if i)
        assert accepted[0] == ISOLATED.receiver_concurrency  # the hanging one never got more than its share
