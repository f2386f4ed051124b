from __future__ import annotations

from dataclasses import replace

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
    assert [d.delivery_id for d in journal] == ["msg_0", "msg_2"]
    journal.put(delivery(3))
    journal.put(delivery(4))
    assert [d.delivery_id for d in journal] == ["msg_0", "msg_3", "msg_4"]  # over the limit rather than lose one


def test_unknown_delivery_names_the_id() -> None:
    with pytest.raises(KeyError, match="msg_missing"):
        DeliveryJournal().get("msg_missing")
