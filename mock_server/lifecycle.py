"""The prediction lifecycle: a table of legal status changes and the one function that applies them.

Rules:
- `processing` is the only non-terminal status; `success`, `failed` and `cancelled` are absorbing.
- `TRANSITIONS` is the whole state machine; `transition()` is the only code that changes a status and
  raises `InvalidTransition` (leaving the frozen object untouched) for anything else.
- A task carries its planned outcome and the time it is due; what a poll sees is `due_status(p, now)`,
  computed from timestamps, so no timer is needed for status changes a poll can observe.
- `cancelled` exists only through the control surface (DECISIONS 2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

from mock_server.errors import InvalidTransition
from mock_server.frozen import quick_init

__all__ = [
    "OUTCOMES",
    "TERMINAL",
    "TRANSITIONS",
    "Kind",
    "OutputFile",
    "Prediction",
    "Status",
    "TaskError",
    "Usage",
    "due_status",
    "settle",
    "transition",
]


class Status(enum.StrEnum):
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


# What an output file is (media.Kind re-exports it: the renderer's closed set of kinds).
Kind = Literal["image", "video", "audio"]
TERMINAL: frozenset[Status] = frozenset({Status.SUCCESS, Status.FAILED, Status.CANCELLED})
# What a task may be planned to become (X-Mock-Outcome, a rule's `outcome`); cancelled comes only from /_mock.
OUTCOMES: tuple[str, ...] = (Status.SUCCESS.value, Status.FAILED.value)

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PROCESSING: frozenset({Status.SUCCESS, Status.FAILED, Status.CANCELLED}),
    Status.SUCCESS: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class TaskError:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Usage:
    upstream_cost: float
    discount: float
    discount_percent: float
    cost: float


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One result file: rendered lazily when its URL is fetched."""

    kind: Kind
    fmt: str  # png, jpeg, webp, mp4, wav, mp3, ...
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    extension: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class Prediction:
    task_id: str
    key: str
    model: str
    function: str
    created_at: float
    due_at: float
    outcome: Status  # what the task becomes at due_at: success or failed
    status: Status = Status.PROCESSING
    finished_at: float | None = None
    input: dict[str, Any] = field(default_factory=dict, compare=False)
    webhook: str | None = None
    base_url: str = ""
    outputs: tuple[OutputFile, ...] = ()
    usage: Usage | None = None
    error: TaskError | None = None
    seed: int = 0
    history: tuple[tuple[float, str], ...] = ()
    webhook_chaos: dict[str, Any] | None = None  # read by the webhook dispatcher (from a rule)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def transition(prediction: Prediction, to: Status, *, now: float) -> Prediction:
    """Return `prediction` moved to `to` at `now`; raise InvalidTransition if the table forbids it."""
    if to not in TRANSITIONS[prediction.status]:
        why = f"{prediction.status} is terminal" if prediction.terminal else "not in TRANSITIONS"
        raise InvalidTransition(f"cannot move prediction {prediction.task_id} from {prediction.status} to {to}: {why}")
    return _evolve(prediction, status=to, finished_at=now, history=(*prediction.history, (now, str(to))))


_setattr = object.__setattr__


def _evolve(prediction: Prediction, **changes: Any) -> Prediction:
    """`dataclasses.replace` for this one frozen slotted class, without its per-call field introspection."""
    new = object.__new__(Prediction)
    for name in Prediction.__slots__:
        _setattr(new, name, changes[name] if name in changes else getattr(prediction, name))
    return new


def due_status(prediction: Prediction, now: float) -> Status:
    """The status a poll at `now` observes."""
    if prediction.status is not Status.PROCESSING or now < prediction.due_at:
        return prediction.status
    return prediction.outcome


def settle(prediction: Prediction, now: float) -> Prediction:
    """Apply the planned outcome if it is due; the result's `finished_at` is the due time, not `now`."""
    if due_status(prediction, now) is prediction.status:
        return prediction
    return transition(prediction, prediction.outcome, now=prediction.due_at)
