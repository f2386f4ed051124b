from __future__ import annotations

import pytest

from mock_server.journal import Journal


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
