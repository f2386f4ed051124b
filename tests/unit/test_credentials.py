from __future__ import annotations

import pytest

import openapi
from mock_server.credentials import Credential, operation_credentials
from mock_server.errors import SettingsError


def test_the_headers_come_from_the_spec_security() -> None:
    credentials = operation_credentials(openapi.load_spec())
    assert set(credentials) == {"createPrediction", "getPrediction", "getCredits"}
    assert credentials["getCredits"].accepted == (
        Credential("authorization", "bearer"),
        Credential("x-api-key"),
        Credential("x-goog-api-key"),
    )


def test_a_scheme_dropped_from_the_spec_is_no_longer_read() -> None:
    spec = openapi.load_spec()
    spec["paths"]["/v1/credits"]["get"]["security"] = [{"bearerAuth": []}]
    credentials = operation_credentials(spec)["getCredits"]
    assert credentials.key({"x-api-key": "sk-1"}) == ""
    assert credentials.key({"authorization": "Bearer sk-1"}) == "sk-1"
    assert credentials.hint() == "'Authorization: Bearer <key>'"


def test_without_operation_security_the_document_security_applies() -> None:
    spec = openapi.load_spec()
    del spec["paths"]["/v1/credits"]["get"]["security"]
    assert operation_credentials(spec)["getCredits"].accepted == (Credential("authorization", "bearer"),)


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        pytest.param({"authorization": "bearer  sk-1 "}, "sk-1", id="bearer-any-case"),
        pytest.param({"authorization": "Basic abc", "x-api-key": "sk-2"}, "sk-2", id="basic-then-x-api-key"),
        pytest.param({"x-goog-api-key": " sk-3"}, "sk-3", id="goog"),
        pytest.param({"authorization": "Bearer sk-1", "x-api-key": "sk-2"}, "sk-1", id="spec-order"),
        pytest.param({"x-api-key": " "}, "", id="blank"),
    ],
)
def test_first_non_empty_alternative_wins(headers: dict[str, str], key: str) -> None:
    assert operation_credentials(openapi.load_spec())["createPrediction"].key(headers) == key


def test_a_scheme_the_mock_cannot_read_fails_at_startup() -> None:
    spec = openapi.load_spec()
    spec["components"]["securitySchemes"]["apiKeyHeader"]["in"] = "query"
    with pytest.raises(SettingsError, match="apiKeyHeader"):
        operation_credentials(spec)
