"""The schemathesis side of the checks: one registered check and the per-schema hooks of a run.

`shuyou_contract` is registered globally (schemathesis has one check registry) but acts only on schemas a
harness run has attached an `Observer` to, so it never fires in someone else's schemathesis tests.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import schemathesis
from requests.structures import CaseInsensitiveDict

from contracts.gate import GATE_HEADER, HINT_EXPECT_REJECT, HINT_HEADER

__all__ = ["Observer", "attach", "before_call", "detach", "shuyou_contract"]


class Observer(Protocol):
    def observe(self, case: Any, response: Any) -> None: ...

    def keep_failure(self, failure: Any, case: Any, response: Any) -> bool: ...


_OBSERVERS: dict[int, Observer] = {}


@schemathesis.check
def shuyou_contract(ctx: Any, response: Any, case: Any) -> bool | None:
    observer = _OBSERVERS.get(id(case.operation.schema))
    if observer is not None and not _from_gate(response):
        observer.observe(case, response)
    return None


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    # Global by necessity (schemathesis has no per-schema before_call); acts only on attached schemas.
    # Marks a negative case for the gate (which strips the header), so the budget's last slot stays usable
    # for requests the target should reject.
    if id(case.operation.schema) in _OBSERVERS and _negative_body(case):
        if case.headers is None:
            case.headers = CaseInsensitiveDict()
        case.headers[HINT_HEADER] = HINT_EXPECT_REJECT


def _from_gate(response: Any) -> bool:
    return any(name.lower() == GATE_HEADER for name in response.headers)


def attach(schema: Any, observer: Observer, *, webhook_url: str | None, webhook_pattern: str | None) -> None:
    """Route `schema`'s responses to `observer`, and point generated (valid) webhook URLs at our receiver."""
    _OBSERVERS[id(schema)] = observer
    valid = re.compile(webhook_pattern) if webhook_pattern else None

    @schema.hook("filter_failure")  # type: ignore[untyped-decorator,unused-ignore]
    def keep(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
        if response is not None and _from_gate(response):
            return False  # the gate answered (budget spent, transport trouble), not the target
        return observer.keep_failure(failure, case, response)

    @schema.hook("map_case")  # type: ignore[untyped-decorator,unused-ignore]
    def webhook_to_receiver(ctx: Any, case: Any) -> Any:
        # Only in a positively generated body, and only a URL valid per the spec is replaced (by another
        # valid one), so a negative case stays negative; without a receiver the field is dropped, so no
        # target is ever asked to call a generated host.
        body = case.body
        if not isinstance(body, dict) or not isinstance(body.get("webhook"), str) or _negative_body(case):
            return case
        if valid is not None and not valid.search(body["webhook"]):
            return case
        body = dict(body)
        if webhook_url:
            body["webhook"] = webhook_url
        else:
            body.pop("webhook")
        case.body = body
        return case


def _negative_body(case: Any) -> bool:
    """Whether the case's body was generated to be invalid (the overall mode when the body has no own record)."""
    meta = getattr(case, "meta", None)
    if meta is None:
        return False
    for location, info in meta.components.items():
        if getattr(location, "name", "") == "BODY":
            return bool(info.mode.is_negative)
    return bool(meta.generation.mode.is_negative)


def detach(schema: Any) -> None:
    _OBSERVERS.pop(id(schema), None)
