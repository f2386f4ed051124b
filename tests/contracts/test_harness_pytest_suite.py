"""The same checks as a pytest suite: `pytest --pyargs contracts.suite --contracts-base-url URL ...`."""

from __future__ import annotations

import pytest
from contract_mocks import KEY, SECRET, Exchange, Rewrite, build_mock, serve

from contracts.serving import Served
from contracts.suite import RULES

pytest_plugins = ["pytester"]


def _suite(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--pyargs", "contracts.suite", "-p", "no:cacheprovider", "--contracts-api-key", KEY,
        "--contracts-webhook-secret", SECRET, "--contracts-phases", "examples,lifecycle", "--contracts-max-examples",
        "2", *args,
    )  # fmt: skip


def test_the_suite_passes_against_the_mock(pytester: pytest.Pytester, mock_url: str) -> None:
    result = _suite(pytester, "--contracts-base-url", mock_url)

    result.assert_outcomes(passed=len(RULES) + 2)


def test_the_suite_fails_the_broken_rule_only(pytester: pytest.Pytester, served: list[Served]) -> None:
    def wrong_usage(ex: Exchange) -> None:
        if ex.method == "GET" and ex.path.startswith("/v1/predictions/") and b'"usage"' in ex.response_body:
            body = ex.json()
            body["usage"]["discount"] = 99
            ex.set_json(body)

    served.append(serve(Rewrite(build_mock(), on_response=wrong_usage)))

    result = _suite(pytester, "--contracts-base-url", served[0].base_url)

    result.assert_outcomes(passed=len(RULES) + 1, failed=1)
    result.stdout.fnmatch_lines(["FAILED *test_contract_rule?usage_arithmetic?*"])


def test_without_a_base_url_the_suite_is_skipped(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--pyargs", "contracts.suite", "-p", "no:cacheprovider", "-rs")

    result.assert_outcomes(skipped=len(RULES) + 2)
    result.stdout.fnmatch_lines(["*pass --contracts-base-url URL or set SHUYOU_CONTRACTS_BASE_URL*"])
