"""What the inspector shows, as JSON-able rows: keys masked, pages bounded. Pure: no I/O, no web framework.

Rules: an API key leaves this module only as `journal.mask_key(key)` (its last 4 characters at most); every
list is a page (`offset`, `limit`, `more`), never the whole store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mock_server.errors import InvalidParams
from mock_server.journal import mask_key
from mock_server.lifecycle import Prediction

__all__ = ["MAX_PAGE", "Page", "delivery_row", "page_params", "paginate", "request_row", "task_row"]

MAX_PAGE = 500
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    limit: int

    @property
    def end(self) -> int:
        """How many items to fetch to know whether there is a next page."""
        return self.offset + self.limit + 1


def _int(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidParams(f"{name}: {text!r} must be an integer in [{low}, {high}]")
    return int(text)


def page_params(query: Mapping[str, str], default_limit: int = 50) -> Page:
    """`offset` (default 0, at most 10000) and `limit` (default 50, 1..500) from a query string."""
    return Page(
        offset=_int(query.get("offset"), "offset", 0, 0, 10_000),
        limit=_int(query.get("limit"), "limit", default_limit, 1, MAX_PAGE),
    )


def paginate(items: Sequence[T], page: Page) -> tuple[list[T], bool]:
    """The page's slice of `items` (fetched up to `page.end`) and whether more follow."""
    return list(items[page.offset : page.offset + page.limit]), len(items) > page.offset + page.limit


def task_row(p: Prediction) -> dict[str, Any]:
    return {
        "task_id": p.task_id,
        "key": mask_key(p.key),
        "model": p.model,
        "function": p.function,
        "task_status": str(p.status),
        "planned_outcome": str(p.outcome),
        "created_at": p.created_at,
        "due_at": p.due_at,
        "finished_at": p.finished_at,
        "cost": p.usage.cost if p.usage is not None else None,
        "webhook": p.webhook,
        "events": [{"time": t, "task_status": s} for t, s in p.history],
    }


def delivery_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A delivery's control-surface record plus what the table shows first: the last attempt."""
    attempts: Sequence[Mapping[str, Any]] = record.get("attempts") or ()
    last = attempts[-1] if attempts else None
    return {
        **record,
        "attempt_count": len(attempts),
        "last_status_code": last.get("status_code") if last else None,
        "last_error": last.get("error") if last else None,
    }


def request_row(entry: Mapping[str, Any], has_bodies: bool) -> dict[str, Any]:
    """A journal entry as served (`JournalEntry.as_dict()`, its key already masked) and whether bodies are kept."""
    return {**entry, "has_bodies": has_bodies}
