"""schemathesis over the spec against the live mock (examples, coverage, fuzzing incl. negative, stateful)."""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from schemathesis.config import HealthCheck
from schemathesis.engine import events, from_schema

import openapi
from mock_server.app import create_app
from mock_server.settings import Settings
from mock_server.testing import LiveServer, serve_in_thread


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    # Keys restricted: schemathesis checks that a wrong key is refused (by default the mock accepts any key).
    app = create_app(Settings(seed=11, time_scale=0, keys=("sk-schemathesis",)))
    with serve_in_thread(app) as live:
        yield live
    app.state.mock.journal.check()


def _schema(base_url: str) -> schemathesis.BaseSchema:
    config = schemathesis.Config(seed=1, suppress_health_check=list(HealthCheck))
    config.cache.enabled = False
    project = config.projects.override
    project.update(base_url=base_url, headers={"Authorization": "Bearer sk-schemathesis"}, request_retries=0, workers=1)
    project.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
    # Modest under the default `ci` Hypothesis profile (8), larger under `HYPOTHESIS_PROFILE=dev` (33, make test-deep).
    examples = max(8, hypothesis.settings().max_examples // 3)
    project.generation.update(max_examples=examples, database="none", deterministic=True)
    spec = openapi.load_spec()
    documented = openapi.documented_statuses(spec, prefix="4")
    negative = project.checks.negative_data_rejection
    negative.expected_statuses = sorted(set(negative.expected_statuses) | documented)
    return schemathesis.openapi.from_dict(spec, config=config)


@pytest.mark.timeout(300)
def test_schemathesis_finds_nothing(server: LiveServer) -> None:
    failures: list[str] = []
    errors: list[str] = []
    scenarios = 0
    for event in from_schema(_schema(server.base_url)).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.failure_info is None:
                        continue
                    failure = node.failure_info.failure
                    failures.append(f"{event.recorder.label}: {node.name}: {failure.title} {failure.message[:300]}")
        elif isinstance(event, events.NonFatalError):
            errors.append(str(event.info.message if hasattr(event, "info") else event))
        elif isinstance(event, events.FatalError):
            raise event.exception
    assert scenarios > 0
    assert errors == []
    assert sorted(set(failures)) == [], "\n".join(sorted(set(failures)))
