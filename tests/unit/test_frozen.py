"""`quick_init` keeps a frozen dataclass what it was: same signature, defaults, factories, equality, frozen."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from mock_server.frozen import quick_init
from mock_server.lifecycle import Prediction, Status


@quick_init
@dataclasses.dataclass(frozen=True, slots=True)
class Quick:
    a: int
    b: str = "b"
    c: list[int] = dataclasses.field(default_factory=list)


def made(**changes: object) -> Prediction:
    fields = {"task_id": "t", "key": "k", "model": "m", "function": "image", "created_at": 1.0, "due_at": 2.0}
    return Prediction(**{**fields, "outcome": Status.SUCCESS, **changes})  # type: ignore[arg-type]


def test_the_signature_defaults_and_factories_are_the_dataclasses_own() -> None:
    assert list(inspect.signature(Quick).parameters) == ["a", "b", "c"]
    one, two = Quick(1), Quick(a=1, b="x", c=[2])
    assert (one.a, one.b, one.c) == (1, "b", [])
    assert (two.a, two.b, two.c) == (1, "x", [2])
    assert Quick(1).c is not Quick(1).c  # a fresh list each time, as default_factory gives
    with pytest.raises(TypeError):
        Quick()  # type: ignore[call-arg]


def test_the_instance_stays_frozen_and_replace_and_equality_work() -> None:
    p = made()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.status = Status.FAILED  # type: ignore[misc]
    q = dataclasses.replace(p, key="other")
    assert (q.key, q.task_id, p.key) == ("other", "t", "k")
    assert p == dataclasses.replace(p)
    assert p != q
    assert p.input == {}
    assert p.input is not made().input
    assert Prediction.__init__.__qualname__ == "Prediction.__init__"


def test_a_class_it_cannot_speed_up_is_refused() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, NoSlots, Checked):
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)
