from __future__ import annotations

from contract_mocks import harness


def test_default_run_against_the_mock_reports_no_findings(mock_url: str) -> None:
    result = harness(mock_url)

    assert result.is_mock
    assert result.findings == []
    assert result.exit_code == 0
    operations = {operation for operation, _ in result.statuses}
    assert {"createPrediction", "getPrediction", "getCredits"} <= operations
    assert [task["statuses"][-1] for task in result.lifecycle] == ["success", "success", "success", "failed"]
    assert result.checks_run["webhook_signature"] == result.checks_run["webhook_state"] == 4
    assert result.checks_run["envelope"] > 100
    assert min(result.checks_run[rule] for rule in ("terminal_sticky", "usage_arithmetic", "error_type")) > 0
    # Every rule of the table ran, but those that run only when the sampled model's example asks for a length,
    # a number of images or a format.
    optional = {"result_duration", "output_count", "result_format"}
    assert {row["rule"] for row in result.rules_report() if row["status"] != "ran"} <= optional
