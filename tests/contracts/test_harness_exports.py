from __future__ import annotations

import subprocess
import sys

import contracts


def test_public_surface_is_explicit() -> None:
    assert sorted(contracts.__all__) == ["Budget", "BudgetExhausted", "Finding", "Kind", "Options", "RunResult", "run"]
    for name in contracts.__all__:
        assert getattr(contracts, name) is not None


def test_importing_the_plugin_does_not_import_schemathesis() -> None:
    code = "import sys, contracts.pytest_plugin; print('schemathesis' in sys.modules, 'httpx2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.split() == ["False", "False"]
