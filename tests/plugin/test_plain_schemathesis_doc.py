"""docs/contract-harness.md: the two settings that make a plain `schemathesis run --checks all` clean are real ones."""

from __future__ import annotations

import re
from pathlib import Path

from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES

import openapi
from mock_server.settings import Settings

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "contract-harness.md").read_text(encoding="utf-8")
SECTION = PAGE.split("### A plain `schemathesis run --checks all` against the mock", 1)[1].split("\n## ", 1)[0]


def test_the_toml_loads_in_schemathesis_and_counts_every_documented_4xx_as_a_rejection() -> None:
    (toml,) = re.findall(r"```toml\n(.*?)```", SECTION, re.S)
    config = SchemathesisConfig.from_str(toml)
    statuses = set(config.projects.default.checks.negative_data_rejection.expected_statuses)
    assert "413" in statuses  # ST201: the documented 413 for an over-long prompt (DECISIONS 11)
    assert statuses >= openapi.documented_statuses(openapi.load_spec(), prefix="4")
    assert statuses >= set(NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES)  # the defaults stay


def test_the_run_restricts_the_mock_keys_to_the_one_it_sends() -> None:
    (sh,) = re.findall(r"```sh\n(.*?)```", SECTION, re.S)
    env = dict(re.findall(r"\b(MOCK_\w+)=(\S+)", sh))
    assert Settings.from_env(env).keys == ("sk-test",)  # ST401: an invalid key is refused once keys is set
    assert "--checks all" in sh
    assert "Authorization: Bearer sk-test" in sh
