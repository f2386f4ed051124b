"""A SQLite store another connection holds locked past the busy timeout (`?timeout=`): the API and the control
surface answer 503 in the error envelope naming the store, within the timeout, and once the lock is released the
same mock serves again, with nothing it answered lost. A file SQLite cannot open is a startup error naming it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx2
import pytest

from mock_server import Settings, create_app
from mock_server.errors import SettingsError
from mock_server.lifecycle import Prediction, Status
from mock_server.store import open_store
from mock_server.testing import serve_in_thread

BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"}}
AUTH = {"Authorization": "Bearer sk-sqlite-outage"}
WAIT = 0.3
BOUND = 4.0
"""Wall seconds an answer may take at most: WAIT, plus a loaded 2-core machine's slack."""


def test_a_locked_sqlite_answers_503_naming_the_store_and_serves_again_once_released(tmp_path: Path) -> None:
    path = tmp_path / "mock.db"
    url = f"sqlite:///{path}?timeout={WAIT}"
    app = create_app(Settings(store=url, time_scale=0.0))
    with serve_in_thread(app) as live, httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client:
        first = client.post("/v1/predictions", json=BODY)
        assert first.status_code == 200, first.text
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process's writer that does not let go
        try:
            for call in (
                lambda: client.post("/v1/predictions", json=BODY),
                lambda: client.post("/_mock/clock/advance", json={"seconds": 1}),
            ):
                started = time.monotonic()
                answer = call()
                elapsed = time.monotonic() - started
                assert answer.status_code == 503, answer.text
                error = answer.json()["error"]
                assert (error["code"], error["type"]) == ("503", "internal_server_error")
                assert error["message"].startswith(f"store: sqlite:///{path} is unreachable (database is locked)")
                assert answer.headers["retry-after"] == "1"
                assert elapsed < BOUND, f"answered after {elapsed:.2f} s"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        again = client.post("/v1/predictions", json=BODY)
        assert again.status_code == 200, again.text
        for task_id in (first.json()["data"]["task_id"], again.json()["data"]["task_id"]):
            assert client.get(f"/v1/predictions/{task_id}").json()["data"]["task_status"] == "success"
        entries = client.get("/_mock/requests", params={"status": 503}).json()["data"]
        assert sorted(e["path"] for e in entries) == ["/_mock/clock/advance", "/v1/predictions"]
        assert all(e["error_message"].startswith(f"store: sqlite:///{path} is unreachable") for e in entries)
    app.state.mock.store.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("sqlite:///{tmp}/no/such/dir/mock.db", "SQLite cannot use it (unable to open database file)"),
        ("sqlite:///{tmp}/mock.db?timeout=soon", "timeout must be a number of seconds"),
        ("sqlite:///{tmp}/mock.db?wal=off", "unknown option 'wal'"),
        ("sqlite:///{tmp}/notes.txt", "SQLite cannot use it (file is not a database)"),
    ],
)
def test_a_sqlite_url_the_mock_cannot_use_is_a_startup_error_naming_it(tmp_path: Path, url: str, words: str) -> None:
    (tmp_path / "notes.txt").write_text("a user's file, not a database\n" * 200)
    with pytest.raises(SettingsError, match="store=") as caught:
        open_store(url.format(tmp=tmp_path))
    assert words in str(caught.value)


def test_a_full_sqlite_answers_503_and_serves_again_once_there_is_room(tmp_path: Path) -> None:
    """SQLite's own size cap (`max_page_count`, per connection) stands in for a full disk: the same SQLITE_FULL."""
    path = tmp_path / "mock.db"
    app = create_app(Settings(store=f"sqlite:///{path}?timeout={WAIT}", time_scale=0.0))
    db = app.state.mock.store._db
    with serve_in_thread(app) as live, httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client:
        assert client.post("/v1/predictions", json=BODY).status_code == 200
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        answers = [client.post("/v1/predictions", json={**BODY, "input": {"prompt": "x" * 3000}}) for _ in range(3)]
        assert {a.status_code for a in answers} == {503}, [a.text for a in answers]
        assert "database or disk is full" in answers[0].json()["error"]["message"]
        db.execute("PRAGMA max_page_count = 1073741823")
        again = client.post("/v1/predictions", json=BODY)
        assert again.status_code == 200, again.text
        task_id = again.json()["data"]["task_id"]
        assert client.get(f"/v1/predictions/{task_id}").json()["data"]["task_status"] == "success"
    app.state.mock.store.close()


def test_a_commit_that_fails_is_rolled_back_and_the_next_write_goes_through(tmp_path: Path) -> None:
    """SQLite refuses a COMMIT whose deferred foreign key is broken and leaves the transaction open; the store
    must roll it back, or every later write fails ('cannot start a transaction within a transaction')."""
    store = open_store(f"sqlite:///{tmp_path / 'mock.db'}")
    db = store._db  # type: ignore[attr-defined]
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(
        "CREATE TABLE owner (id TEXT PRIMARY KEY);"
        "CREATE TABLE owned (id TEXT REFERENCES owner (id) DEFERRABLE INITIALLY DEFERRED);"
        "CREATE TRIGGER dangling AFTER INSERT ON task BEGIN INSERT INTO owned VALUES (NEW.task_id); END;"
    )
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        store.put(_task("refused"))  # task and dangling row in one transaction: the COMMIT fails
    assert not db.in_transaction
    assert store.get("refused") is None
    db.execute("DROP TRIGGER dangling")
    store.put(_task("kept"))
    assert store.get("kept") is not None
    store.close()


def _task(task_id: str) -> Prediction:
    return Prediction(task_id, "k", "gpt-image-2", "image", created_at=1.0, due_at=2.0, outcome=Status.SUCCESS)
