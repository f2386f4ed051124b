"""The examples in docs/ work as written: test modules run under pytest, config files load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mock_server.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```(python|yaml)\n(.*?)```", re.S)


def blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for lang, code in BLOCK.findall(page.read_text(encoding="utf-8")):
            if lang == language:
                found.append((page.name, code))
    return found


def module_pages() -> list[str]:
    return sorted({page for page, code in blocks("python") if code.startswith("# test_")})


@pytest.mark.parametrize("page", module_pages())
def test_python_examples_pass_under_pytest(page: str, pytester: pytest.Pytester) -> None:
    files = {}
    for name, code in blocks("python"):
        first = code.splitlines()[0]
        if name == page and re.fullmatch(r"# (test_\w+|conftest)\.py", first):
            files[first[2:-3]] = code
    for stem, code in files.items():
        if stem == "conftest":
            pytester.makeconftest(code)
        else:
            pytester.makepyfile(**{stem: code})
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    expected = sum(code.count("\ndef test_") + code.count("\nasync def test_") for code in files.values())
    assert expected >= 1
    outcomes = result.parseoutcomes()
    assert set(outcomes) == {"passed"}, result.stdout.str()
    assert outcomes["passed"] >= expected  # parametrized tests count once per parameter


def test_config_examples_load() -> None:
    configs = [(page, yaml.safe_load(code)) for page, code in blocks("yaml")]
    configs = [(page, data) for page, data in configs if isinstance(data, dict) and ("rules" in data or "seed" in data)]
    assert configs, "docs/ should show at least one config file"
    for _page, data in configs:
        Settings.from_mapping(data)
