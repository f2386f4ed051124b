"""The GitHub Actions recipe in examples/ stays runnable: its commands parse with the real CLIs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.cli import _parser as contracts_parser
from mock_server.cli import build_parser as mock_parser

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "github-actions" / "contracts.yml"


def _commands() -> list[list[str]]:
    workflow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in step.get("run", "").replace(">-", "").splitlines():
                words = shlex.split(line.split("&&")[0].split(">")[0]) if line.strip() else []
                if words and words[0] in ("shuyou-mock", "shuyou-contracts"):
                    commands.append(words)
    return commands


def test_workflow_is_valid_yaml_with_both_jobs() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert set(workflow["jobs"]) == {"against-the-mock", "against-the-real-api"}


@pytest.mark.parametrize("words", _commands(), ids=lambda words: " ".join(words[:3]))
def test_workflow_commands_parse(words: list[str]) -> None:
    parser = mock_parser() if words[0] == "shuyou-mock" else contracts_parser()
    parser.parse_args(words[1:])


def test_real_api_job_has_a_budget() -> None:
    real = [w for w in _commands() if "https://api.shuyou.ai" in w and "--dry-run" not in w]
    assert real
    assert all(w[w.index("--budget") + 1] == "3" for w in real)
