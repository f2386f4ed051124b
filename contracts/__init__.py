"""The ShuYou contract harness: check any endpoint, mock or real, against `openapi/predictions.yaml`.

`python -m contracts run --base-url URL --api-key KEY`; in Python, `contracts.run(Options(...))`.
Cheap to import (the pytest plugin loads it in every pytest run): schemathesis is imported only when running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contracts.budget import Budget, BudgetExhausted
from contracts.findings import Finding, Kind

if TYPE_CHECKING:
    from contracts.report import RunResult
    from contracts.runner import Options, run

__all__ = ["Budget", "BudgetExhausted", "Finding", "Kind", "Options", "RunResult", "run"]


def __getattr__(name: str) -> Any:
    if name in {"Options", "run"}:
        from contracts import runner

        return getattr(runner, name)
    if name == "RunResult":
        from contracts.report import RunResult

        return RunResult
    raise AttributeError(f"module 'contracts' has no attribute {name!r}")
