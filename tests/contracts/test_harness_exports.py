from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from types import ModuleType

import pytest

import contracts


def held_public_names(module: ModuleType) -> set[str]:
    """The public classes and functions `module` holds that come from its own package (as httpx's export test)."""
    package = module.__name__.split(".")[0]
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and (getattr(value, "__module__", None) or "").split(".")[0] == package
        and (module.__name__ == package or value.__module__ == module.__name__)
    }


def test_the_package_exports_every_public_name_it_holds() -> None:
    assert held_public_names(contracts) <= set(contracts.__all__)
    assert {"Options", "RunResult", "run"} <= set(contracts.__all__)  # served lazily, so not held until asked
    for name in contracts.__all__:
        assert getattr(contracts, name) is not None


MODULES = sorted(
    info.name for info in pkgutil.iter_modules(contracts.__path__) if info.name not in {"__main__", "suite"}
)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_what_it_exports(name: str) -> None:
    module = importlib.import_module(f"contracts.{name}")
    exported = module.__dict__.get("__all__")
    assert isinstance(exported, list), f"contracts.{name} has no __all__"
    assert held_public_names(module) <= set(exported), f"contracts.{name}: public but not in __all__"
    assert [n for n in exported if not hasattr(module, n)] == []


def test_importing_the_plugin_does_not_import_schemathesis() -> None:
    code = "import sys, contracts.pytest_plugin; print('schemathesis' in sys.modules, 'httpx2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.split() == ["False", "False"]
