from __future__ import annotations

import json

import pytest

from mock_server.errors import ApiError, InvalidParams, PayloadTooLarge, UnsupportedMediaType
from mock_server.lifecycle import OutputFile, Prediction, Status, TaskError, Usage, transition
from mock_server.wire import parse_json_body, render_create, render_credits, render_error, render_prediction


def parse(raw: bytes, content_type: str | None = "application/json") -> dict[str, object]:
    return parse_json_body(raw, content_type, max_bytes=1000, max_depth=4)


def test_parse_accepts_json_variants() -> None:
    assert parse(b'{"a": 1}') == {"a": 1}
    assert parse(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert parse(b'{"a": 1}', "application/vnd.api+json") == {"a": 1}
    assert parse(b'{"a": 1}', None) == {"a": 1}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 9223372036854775808, "b": -9223372036854775809, "c": 18446744073709551617}',  # past 64 bits
        b'{"a": 1e400, "b": -1e400, "c": 1.7976931348623157e308, "d": 5e-324, "e": -0.0}',
        b'{"a": 1, "a": 2, "b": "\\u0000", "c": "\\ud83d\\ude00", "d": [true, false, null]}',
    ],
    ids=["big-integers", "float-edges", "duplicates-escapes"],
)
def test_parse_reads_numbers_and_strings_as_the_stdlib_does(raw: bytes) -> None:
    parsed = parse(raw)
    expected = json.loads(raw)
    assert parsed == expected
    assert [type(v) for v in parsed.values()] == [type(v) for v in expected.values()]  # an int stays an int


def test_surrogate_pairs_pass_and_lone_surrogates_are_named() -> None:
    assert parse(b'{"a": "\\ud83d\\ude00 \\\\ud800"}') == {"a": "\U0001f600 \\ud800"}
    with pytest.raises(InvalidParams, match=r"^a\[1\]: a \\u escape is an unpaired UTF-16 surrogate"):
        parse(b'{"a": ["ok", "\\ud800"]}')
    with pytest.raises(InvalidParams, match=r"^a.\\udc00: "):
        parse(b'{"a": {"\\udc00": 1}}')


def test_depth_limit_ignores_brackets_inside_strings() -> None:
    assert parse(b'{"a": "[[[[[[[[[[{{{{{{"}') == {"a": "[[[[[[[[[[{{{{{{"}
    with pytest.raises(InvalidParams, match="nested deeper than 4"):
        parse(b'{"a": [[[[1]]]]}')


@pytest.mark.parametrize(
    ("raw", "ctype", "error", "message"),
    [
        (b"", "application/json", InvalidParams, "empty"),
        (b"  \n", "application/json", InvalidParams, "empty"),
        (b"{} x", "application/json", InvalidParams, "malformed JSON at line 1 column 4"),
        (b'"s"', "application/json", InvalidParams, "got str"),
        (b"{}", "text/html", UnsupportedMediaType, "text/html"),
        (b"{" + b" " * 2000 + b"}", "application/json", PayloadTooLarge, "over the limit of 1000 bytes"),
    ],
)
def test_parse_rejections(raw: bytes, ctype: str, error: type[ApiError], message: str) -> None:
    with pytest.raises(error, match=message):
        parse(raw, ctype)


def make(**kw: object) -> Prediction:
    base = Prediction(
        "t" * 32,
        "k",
        "m",
        "image",
        created_at=0,
        due_at=1,
        outcome=Status.SUCCESS,
        outputs=(OutputFile("image", "png", 1, 1, 0, "png"),),
        usage=Usage(1.0, 0.25, 0.75, 0.75),
    )
    return base if not kw else Prediction(**{**{f: getattr(base, f) for f in base.__slots__}, **kw})


def test_create_body_is_data_only() -> None:
    assert render_create(make()) == {"data": {"task_id": "t" * 32, "task_status": "processing"}}


def test_processing_body_has_no_usage_or_output() -> None:
    assert render_prediction(make(), [], "r") == {
        "code": "0",
        "data": {"task_id": "t" * 32, "task_status": "processing"},
        "request_id": "r",
    }


def test_success_body_has_outputs_and_usage() -> None:
    body = render_prediction(transition(make(), Status.SUCCESS, now=1), ["http://x/0.png"], "r")
    assert body["data"]["output"] == [{"type": "image", "image": "http://x/0.png"}]
    assert body["usage"] == {"upstream_cost": 1.0, "discount": 0.25, "discount_percent": 0.75, "cost": 0.75}


def test_failed_body_has_error_not_usage() -> None:
    p = transition(make(outcome=Status.FAILED, usage=None, error=TaskError("c", "m")), Status.FAILED, now=1)
    body = render_prediction(p, [], "r")
    assert body["data"]["error"] == {"code": "c", "message": "m"}
    assert "usage" not in body


def test_error_envelope_and_credits() -> None:
    assert render_error(InvalidParams("x: bad")) == {
        "error": {"code": "400", "type": "invalid_params", "message": "x: bad"}
    }
    assert render_credits(100, 25) == {"data": {"total_credits": 100, "total_usage": 25, "balance": 75}}
