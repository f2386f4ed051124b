from __future__ import annotations

from typing import Any

import pytest

import openapi
from mock_server.catalog import load_catalog
from mock_server.errors import InvalidParams, PayloadTooLarge
from mock_server.validation import json_path, validate_create

CATALOG = load_catalog()


def _request_examples() -> list[dict[str, Any]]:
    return list(openapi.request_examples().values())


def test_catalog_models_are_the_discriminator_mapping() -> None:
    mapping = openapi.load_spec()["components"]["schemas"]["CreatePredictionRequest"]["discriminator"]["mapping"]
    assert set(CATALOG.models) == set(mapping)
    assert {m.function for m in CATALOG.models.values()} == {"image", "video", "audio"}


@pytest.mark.parametrize("body", _request_examples(), ids=lambda b: b["model"])
def test_every_spec_example_validates_for_its_model(body: dict[str, Any]) -> None:
    assert validate_create(CATALOG, body).name == body["model"]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_params"),
        (401, "access_denied"),
        (402, "insufficient_credit"),
        (404, "not_found"),
        (413, "invalid_params"),
        (429, "rate_limit"),
        (500, "internal_server_error"),
        (418, "invalid_params"),  # undocumented statuses: the old fallbacks
        (503, "internal_server_error"),
    ],
)
def test_default_error_type_per_status_is_read_from_the_spec(status: int, error_type: str) -> None:
    assert load_catalog().error_type(status) == error_type


def test_json_path_formats_indexes() -> None:
    assert json_path(["input", "image_urls", 3]) == "input.image_urls[3]"
    assert json_path([]) == "body"


def test_message_uses_the_models_branch_not_the_whole_oneof() -> None:
    body = {"model": "veo-3.1-lite-generate-preview", "function": "video", "input": {"prompt": "x", "duration": 5}}
    with pytest.raises(InvalidParams) as info:
        validate_create(CATALOG, body)
    assert info.value.message.startswith("input.duration: ")
    assert "oneOf" not in info.value.message


def test_long_prompt_is_413_only_for_the_prompt() -> None:
    body = {"model": "gemini-2.5-flash-image", "function": "image", "input": {"prompt": "p" * 5000}}
    with pytest.raises(PayloadTooLarge, match="Prompt is too long"):
        validate_create(CATALOG, body)
