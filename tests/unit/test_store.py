from __future__ import annotations

from pathlib import Path

import pytest

from mock_server.lifecycle import OutputFile, Prediction, Status, Usage, transition
from mock_server.sqlite_store import SqliteStore
from mock_server.store import MemoryStore, Store, open_store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else SqliteStore(str(tmp_path / "s.db"))


def make(task_id: str, key: str = "k", model: str = "m") -> Prediction:
    return Prediction(
        task_id,
        key,
        model,
        "image",
        created_at=1.0,
        due_at=2.0,
        outcome=Status.SUCCESS,
        input={"prompt": "p"},
        outputs=(OutputFile("image", "png", 4, 3, 0.0, "png"),),
        usage=Usage(1.0, 0.25, 0.75, 0.75),
        history=((1.0, "processing"),),
    )


def test_put_get_round_trip(store: Store) -> None:
    p = make("a")
    store.put(p)
    assert store.get("a") == p
    assert store.get("missing") is None


def test_processing_and_filters(store: Store) -> None:
    store.put(make("a", key="k1"))
    store.put(make("b", key="k2", model="x"))
    store.put(transition(make("c"), Status.FAILED, now=3.0))
    assert {p.task_id for p in store.processing()} == {"a", "b"}
    assert [p.task_id for p in store.find(key="k2")] == ["b"]
    assert [p.task_id for p in store.find(status="failed")] == ["c"]
    assert [p.task_id for p in store.find(model="x")] == ["b"]


def test_usage_accumulates_per_key(store: Store) -> None:
    store.add_usage("k", 0.5)
    assert store.add_usage("k", 0.25) == 0.75
    assert store.usage("other") == 0.0


def test_deliveries_round_trip_and_pending_filter(store: Store) -> None:
    store.put_delivery("d1", {"status": "pending", "n": 1})
    store.put_delivery("d2", {"status": "delivered"})
    store.put_delivery("d1", {"status": "pending", "n": 2})
    assert store.pending_deliveries() == [{"status": "pending", "n": 2}]
    store.delete_delivery("d1")
    assert store.pending_deliveries() == []


def test_reset_clears_everything(store: Store) -> None:
    store.put(make("a"))
    store.add_usage("k", 1.0)
    store.put_delivery("d", {"status": "pending"})
    store.reset()
    assert (store.get("a"), store.usage("k"), store.pending_deliveries()) == (None, 0.0, [])


def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    first = open_store(f"sqlite:///{path}")
    first.put(make("a"))
    first.add_usage("k", 2.0)
    first.close()
    second = open_store(f"sqlite:///{path}")
    assert second.get("a") == make("a")
    assert second.usage("k") == 2.0
