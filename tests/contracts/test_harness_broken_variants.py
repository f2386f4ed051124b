"""Each variant is the real mock with one behaviour overridden by a small middleware; the harness must report
the broken rule with the right classification (contract vs x-assumption)."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from contract_mocks import OTHER_SECRET, Exchange, Rewrite, TamperProxy, build_mock, harness, serve

from contracts.findings import Kind
from contracts.serving import Served

GET_PREFIX = "/v1/predictions/"
LIFECYCLE = ("lifecycle",)


def _is_get(ex: Exchange) -> bool:
    return ex.method == "GET" and ex.path.startswith(GET_PREFIX) and ex.status == 200


def _is_create(ex: Exchange) -> bool:
    return ex.method == "POST" and ex.path == "/v1/predictions"


def _on_data(change: Callable[[dict[str, Any], dict[str, Any]], None]) -> Callable[[Exchange], None]:
    def hook(ex: Exchange) -> None:
        if _is_get(ex):
            body = ex.json()
            change(body, body["data"])
            ex.set_json(body)

    return hook


def undocumented_status(body: dict[str, Any], data: dict[str, Any]) -> None:
    if data["task_status"] == "success":
        data["task_status"] = "completed"


def output_before_success(body: dict[str, Any], data: dict[str, Any]) -> None:
    if data["task_status"] == "processing":
        data["output"] = [{"type": "image", "image": "https://cdn.example.com/early.png"}]


def wrong_usage(body: dict[str, Any], data: dict[str, Any]) -> None:
    if "usage" in body:
        body["usage"]["cost"] = float(body["usage"]["cost"]) + 1


def output_of_another_function(body: dict[str, Any], data: dict[str, Any]) -> None:
    for item in data.get("output", []):
        if item.get("type") == "image":
            item.pop("type")
            item["type"], item["audio"] = "audio", item.pop("image")


def missing_task_id(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 200:
        body = ex.json()
        del body["data"]["task_id"]
        ex.set_json(body)


def terminal_goes_back() -> Callable[[Exchange], None]:
    seen: set[str] = set()

    def hook(ex: Exchange) -> None:
        if not _is_get(ex):
            return
        body = ex.json()
        data = body["data"]
        if data["task_id"] in seen:
            data["task_status"] = "processing"
            data.pop("output", None)
            body.pop("usage", None)
            ex.set_json(body)
        elif data["task_status"] != "processing":
            seen.add(data["task_id"])

    return hook


def error_outside_envelope(ex: Exchange) -> None:
    if ex.status >= 400 and ex.response_body.startswith(b"{"):
        ex.set_json({"message": ex.json()["error"]["message"]})


def server_error_on_valid_input(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 200:
        ex.set_json({"error": {"code": "500", "type": "internal_server_error", "message": "boom"}}, status=500)


def accepts_invalid_input(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 400:
        ex.set_json({"data": {"task_id": uuid.uuid4().hex, "task_status": "processing"}}, status=200)


def rejects_duration_strings(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 200 and b'"duration": "' in ex.body.replace(b'":"', b'": "'):
        ex.set_json(
            {"error": {"code": "400", "type": "invalid_params", "message": "input.duration: not an integer"}}, 400
        )


def no_request_id_header(ex: Exchange) -> None:
    ex.response_headers = [(k, v) for k, v in ex.response_headers if k.lower() != b"x-shuyou-requestid"]


class VisibleToOtherKeys:
    """Answers every GET as if the key that created the task had asked."""

    def __init__(self) -> None:
        self.creators: dict[str, str] = {}

    def request(self, ex: Exchange) -> None:
        task_id = ex.path.removeprefix(GET_PREFIX)
        if ex.method == "GET" and task_id in self.creators:
            ex.headers["authorization"] = self.creators[task_id]

    def response(self, ex: Exchange) -> None:
        if _is_create(ex) and ex.status == 200:
            self.creators[ex.json()["data"]["task_id"]] = ex.headers["authorization"]


def _flip_status(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["task_status"] = "failed" if body["data"]["task_status"] == "success" else "success"
    body["data"].pop("output", None)
    return body


VARIANTS = [
    # id, response hook, phases that reach it, rule, classification
    ("undocumented-status", _on_data(undocumented_status), LIFECYCLE, "task_status", Kind.CONTRACT),
    ("missing-task-id", missing_task_id, LIFECYCLE, "envelope", Kind.CONTRACT),
    ("output-before-success", _on_data(output_before_success), LIFECYCLE, "output_only_on_success", Kind.CONTRACT),
    ("terminal-goes-back", terminal_goes_back(), LIFECYCLE, "terminal_sticky", Kind.CONTRACT),
    ("wrong-usage", _on_data(wrong_usage), LIFECYCLE, "usage_arithmetic", Kind.CONTRACT),
    ("output-of-another-function", _on_data(output_of_another_function), LIFECYCLE, "output_matches_function",
     Kind.CONTRACT),
    ("error-outside-envelope", error_outside_envelope, ("fuzzing",), "error_envelope", Kind.CONTRACT),
    ("500-on-valid-input", server_error_on_valid_input, ("examples",), "not_a_server_error", Kind.CONTRACT),
    ("accepts-invalid-input", accepts_invalid_input, ("fuzzing",), "negative_data_rejection", Kind.CONTRACT),
    ("no-request-id-header", no_request_id_header, LIFECYCLE, "request_id_header", Kind.ASSUMPTION),
    ("rejects-duration-strings", rejects_duration_strings, ("examples",), "positive_data_acceptance", Kind.ASSUMPTION),
]  # fmt: skip


@pytest.mark.parametrize(("hook", "phases", "rule", "kind"), [pytest.param(*v[1:], id=v[0]) for v in VARIANTS])
def test_broken_variant_is_reported(
    served: list[Served], hook: Callable[[Exchange], None], phases: tuple[str, ...], rule: str, kind: Kind
) -> None:
    served.append(serve(Rewrite(build_mock(), on_response=hook)))

    result = harness(served[0].base_url, phases=phases)

    assert {(f.rule, f.kind) for f in result.findings} >= {(rule, kind)}, result.findings
    assert result.exit_code == (1 if kind is Kind.CONTRACT else 0)


def test_task_visible_to_another_key_is_a_contract_break(served: list[Served]) -> None:
    leak = VisibleToOtherKeys()
    served.append(serve(Rewrite(build_mock(), on_request=leak.request, on_response=leak.response)))

    result = harness(served[0].base_url, phases=LIFECYCLE)

    assert ("tenant_isolation", Kind.CONTRACT) in {(f.rule, f.kind) for f in result.findings}
    assert result.exit_code == 1


def test_bad_webhook_signature_is_an_assumption_difference_failing_only_when_strict(served: list[Served]) -> None:
    served.append(serve(build_mock(secret=OTHER_SECRET)))  # signs with a secret the harness does not expect

    lenient = harness(served[0].base_url, phases=LIFECYCLE)
    strict = harness(served[0].base_url, phases=LIFECYCLE, strict=True)

    assert {(f.rule, f.kind) for f in lenient.findings} == {("webhook_signature", Kind.ASSUMPTION)}
    assert (lenient.exit_code, strict.exit_code) == (0, 1)


def _through(proxy: Served) -> Callable[[Exchange], None]:
    """Points the create's webhook at `proxy`, which forwards to the harness's receiver."""

    def hook(ex: Exchange) -> None:
        if _is_create(ex) and b'"webhook"' in ex.body:
            body = json.loads(ex.body)
            body["webhook"] = f"{proxy.base_url}/hook?to={urllib.parse.quote(body['webhook'], safe='')}"
            ex.body = json.dumps(body).encode()
            ex.headers["content-length"] = str(len(ex.body))

    return hook


@pytest.mark.parametrize(
    ("proxy", "rule"),
    [
        pytest.param(TamperProxy(_flip_status), "webhook_state", id="body-differs-from-polled-state"),
        pytest.param(TamperProxy(lambda body: body, copies=2), "webhook_delivery", id="two-terminal-deliveries"),
    ],
)
def test_webhook_variants_are_contract_breaks(served: list[Served], proxy: TamperProxy, rule: str) -> None:
    hop = serve(proxy)
    served.append(hop)
    served.append(serve(Rewrite(build_mock(), on_request=_through(hop))))

    result = harness(served[1].base_url, phases=LIFECYCLE, webhook_secret=None)

    assert (rule, Kind.CONTRACT) in {(f.rule, f.kind) for f in result.findings}, result.findings
    assert result.exit_code == 1
