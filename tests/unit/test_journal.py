from __future__ import annotations

from pathlib import Path

import pytest

from mock_server.journal import Journal
from mock_server.store import SharedJournal, open_store


def entry(journal: Journal, path: str, status: int = 200) -> None:
    journal.add(1.0, "GET", path, "", status, "k", "r", 1.0, None, None, None)


def test_journal_is_bounded_and_queryable() -> None:
    journal = Journal(size=2)
    for path in ("/a", "/b/1", "/b/2"):
        entry(journal, path)
    assert [e.path for e in journal] == ["/b/1", "/b/2"]
    assert [e.path for e in journal.calls_to("/b")] == ["/b/1", "/b/2"]
    assert [e.path for e in journal.requests(path="/b", limit=1)] == ["/b/2"]
    assert journal.requests(status=500) == []


def test_check_reraises_the_first_error_once() -> None:
    journal = Journal()
    journal.error(KeyError("first"))
    assert "KeyError" in journal.errors[0]
    for _ in range(500):  # a long-running mock keeps the first exception and the last 100 texts, not all
        journal.error(ValueError("second"))
    assert len(journal.errors) == 100
    with pytest.raises(KeyError, match="first"):
        journal.check()
    journal.check()


def test_on_a_shared_store_each_entry_is_added_once_and_every_process_lists_all_by_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    stores = open_store(url), open_store(url)  # two processes' stores on one file
    one, two = Journal(size=3), Journal(size=3)
    for journal, store in zip((one, two), stores, strict=True):
        assert isinstance(store, SharedJournal)
        journal.share(store)
    one.add(2.0, "GET", "/one", "", 200, "sk-secret", "r1", 1.0, None, None, None)
    two.add(1.0, "POST", "/two", "", 201, None, "r2", 1.0, None, None, None)
    two.flush()
    one.flush()
    one.flush()  # nothing new: nothing added twice
    assert [(e.path, e.seq) for e in one.current()] == [("/one", 2), ("/two", 1)]  # newest first, by time
    assert two.current()[0].as_dict()["key"] == "…cret"  # served masked, as this process's own entries are
    assert [e.path for e in one.requests()] == ["/one"]  # `requests()`: this process's own (the pytest plugin's)
    entry(one, "/before-reset")
    one.clear()  # a reset: what it journaled before is not added after it
    entry(one, "/after")
    one.flush()
    assert sorted(r[3] for r in stores[0].requests()) == ["/after", "/one", "/two"]
    for i in range(4):
        entry(two, f"/n{i}")
    two.flush()
    assert [e.path for e in one.current()] == ["/n3", "/n2", "/n1"]  # the newest 3, whoever added them
