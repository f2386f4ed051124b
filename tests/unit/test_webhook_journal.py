from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import pytest

from mock_server.webhooks.journal import Attempt, Delivery, DeliveryJournal, DeliveryStatus


def delivery(n: int, status: DeliveryStatus = DeliveryStatus.PENDING) -> Delivery:
    return Delivery(f"msg_{n}", f"{n:032x}", "success", "http://127.0.0.1:1/h", b'{"a":"\xc3\xa9"}', 100.0, status)


def test_store_form_round_trips_the_exact_payload_and_attempts() -> None:
    original = delivery(1).with_attempt(Attempt(1, 101.0, 500, None, 3.5, "boom"), next_attempt_at=111.0)
    original = replace(original, chaos=frozenset({"duplicate"}), round_start=0)
    restored = Delivery.from_record(original.to_stored())
    assert restored == original
    assert restored.payload == original.payload


def test_control_form_shows_the_parsed_payload() -> None:
    record = delivery(2).to_record()
    assert record["payload"] == {"a": "é"}
    assert record["status"] == "pending"
    assert "payload" not in delivery(2).to_record(payload=False)


def test_list_filters_by_task_and_status() -> None:
    journal = DeliveryJournal()
    for n, status in enumerate([DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.BLOCKED]):
        journal.put(delivery(n, status))
    assert [d.delivery_id for d in journal.list(status="delivered")] == ["msg_1"]
    assert [d.delivery_id for d in journal.list(task_id=f"{2:032x}")] == ["msg_2"]
    assert len(journal.list()) == 3


def test_a_full_journal_drops_the_oldest_finished_delivery_and_never_a_pending_one() -> None:
    journal = DeliveryJournal(limit=2)
    journal.put(delivery(0))
    journal.put(delivery(1, DeliveryStatus.DELIVERED))
    journal.put(delivery(2, DeliveryStatus.EXHAUSTED))
    assert [d.delivery_id for d in journal] == ["msg_0", "msg_1", "msg_2"]  # pending ones do not count
    journal.put(delivery(3, DeliveryStatus.GONE))
    assert [d.delivery_id for d in journal] == ["msg_0", "msg_2", "msg_3"]
    for n in range(4, 8):
        journal.put(delivery(n))
    assert len(journal) == 7  # over the limit rather than lose a pending one


def test_the_oldest_to_finish_is_dropped_first_and_a_redelivered_one_counts_when_it_finishes_again() -> None:
    journal = DeliveryJournal(limit=2)
    for n in range(3):
        journal.put(delivery(n))
    journal.put(delivery(2, DeliveryStatus.DELIVERED))
    journal.put(delivery(0, DeliveryStatus.DELIVERED))
    journal.put(delivery(2))  # redelivered: pending again, no longer among the finished
    journal.put(delivery(1, DeliveryStatus.EXHAUSTED))
    assert [d.delivery_id for d in journal] == ["msg_0", "msg_1", "msg_2"]
    journal.put(delivery(2, DeliveryStatus.DELIVERED))
    assert [d.delivery_id for d in journal] == ["msg_1", "msg_2"]  # msg_0 finished first


@dataclass(frozen=True, slots=True)
class Counted(Delivery):
    """A delivery that counts how often the journal looks at its status (the work an update does)."""

    looks: ClassVar[list[int]] = [0]

    @property
    def finished(self) -> bool:
        Counted.looks[0] += 1
        return self.status is not DeliveryStatus.PENDING


def update_cost(pending: int) -> int:
    journal = DeliveryJournal(limit=100)
    for n in range(pending):
        journal.put(Counted(f"msg_p{n}", "t", "success", "http://127.0.0.1:1/h", b"{}", 0.0))
    Counted.looks[0] = 0
    for n in range(500):  # past the limit: every update also evicts
        journal.put(Counted(f"msg_f{n}", "t", "success", "http://127.0.0.1:1/h", b"{}", 0.0, DeliveryStatus.DELIVERED))
    return Counted.looks[0]


def test_an_update_does_the_same_work_at_10_or_10000_pending_deliveries() -> None:
    assert update_cost(10) == update_cost(10_000) <= 500 * 2


def test_unknown_delivery_names_the_id() -> None:
    with pytest.raises(KeyError, match="msg_missing"):
        DeliveryJournal().get("msg_missing")
