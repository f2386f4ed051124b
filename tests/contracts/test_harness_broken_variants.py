"""One broken variant of the mock per rule of the table (`contracts.rules`), generated from it: each variant is
the real mock with one behaviour overridden by a small middleware (or a webhook hop), breaking that rule and no
other; the harness must report exactly that rule, with the right classification (contract vs x-assumption).
A rule added to the table without a variant here fails `test_every_rule_is_caught_alone`."""

from __future__ import annotations

import io
import json
import struct
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from contract_mocks import KEY, OTHER_SECRET, Exchange, Rewrite, TamperProxy, build_mock, harness, serve

from contracts.findings import Kind
from contracts.rules import IDS
from contracts.serving import Served

GET_PREFIX = "/v1/predictions/"
LIFECYCLE = ("lifecycle",)
Change = Callable[[dict[str, Any], dict[str, Any]], None]  # (body, body["data"]) of a Get Prediction or webhook
Hook = Callable[[Exchange], None]


def _is_get(ex: Exchange) -> bool:
    return ex.method == "GET" and ex.path.startswith(GET_PREFIX) and ex.status == 200


def _is_create(ex: Exchange) -> bool:
    return ex.method == "POST" and ex.path == "/v1/predictions"


def _is_credits(ex: Exchange) -> bool:
    return ex.method == "GET" and ex.path == "/v1/credits" and ex.status == 200


def _is_file(ex: Exchange) -> bool:
    return ex.method == "GET" and ex.path.startswith("/files/")


def _on_data(change: Change) -> Hook:
    def hook(ex: Exchange) -> None:
        if _is_get(ex):
            body = ex.json()
            change(body, body["data"])
            ex.set_json(body)

    return hook


def _through(proxy: Served) -> Hook:
    """Points the create's webhook at `proxy`, which forwards to the harness's receiver."""

    def hook(ex: Exchange) -> None:
        if _is_create(ex) and b'"webhook"' in ex.body:
            body = json.loads(ex.body)
            body["webhook"] = f"{proxy.base_url}/hook?to={urllib.parse.quote(body['webhook'], safe='')}"
            ex.body = json.dumps(body).encode()
            ex.headers["content-length"] = str(len(ex.body))

    return hook


def _both(first: Hook, second: Hook | None) -> Hook:
    def hook(ex: Exchange) -> None:
        first(ex)
        if second is not None:
            second(ex)

    return hook


@dataclass(frozen=True, slots=True)
class Variant:
    """How to serve the broken mock, which phases reach the break, and the finding's classification."""

    response: Hook | None = None
    request: Hook | None = None
    webhook: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # a change to deliveries, through a hop
    copies: int = 1
    phases: tuple[str, ...] = LIFECYCLE
    kind: Kind = Kind.CONTRACT
    secret: str | None = None  # the mock's webhook secret when it differs from the harness's
    also: frozenset[str] = frozenset()  # rules the same break necessarily breaks too (said why, where used)
    options: dict[str, Any] = field(default_factory=dict)

    def serve(self, served: list[Served]) -> str:
        request = self.request
        if self.webhook is not None or self.copies > 1:
            hop = serve(TamperProxy(self.webhook or (lambda body: body), copies=self.copies))
            served.append(hop)
            request = _both(_through(hop), request)
        mock = build_mock(secret=self.secret) if self.secret else build_mock()
        served.append(serve(Rewrite(mock, on_request=request, on_response=self.response)))
        return served[-1].base_url

    def run_options(self) -> dict[str, Any]:
        # Through the hop a changed body no longer matches its signature: signatures are not checked then.
        extra: dict[str, Any] = {"webhook_secret": None} if self.webhook is not None or self.copies > 1 else {}
        return {"phases": self.phases, **extra, **self.options}


def consistent(change: Change, **kwargs: Any) -> Variant:
    """A break made alike in every poll and in the webhook (so webhook_state still holds)."""

    def on_webhook(body: dict[str, Any]) -> dict[str, Any]:
        change(body, body["data"])
        return body

    return Variant(response=_on_data(change), webhook=on_webhook, **kwargs)


# -- the breaks ---------------------------------------------------------------------------------------------


def queued_instead_of_processing(body: dict[str, Any], data: dict[str, Any]) -> None:
    if data["task_status"] == "processing":
        data["task_status"] = "queued"


def missing_task_id(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 200:
        body = ex.json()
        del body["data"]["task_id"]
        ex.set_json(body)


class UpperCaseIds:
    """Task ids in upper case on the wire (create, get, webhook); the mock underneath still sees its own."""

    @staticmethod
    def request(ex: Exchange) -> None:
        if ex.path.startswith(GET_PREFIX):
            ex.path = ex.path.lower()

    @staticmethod
    def response(ex: Exchange) -> None:
        if (_is_create(ex) and ex.status == 200) or _is_get(ex):
            body = ex.json()
            body["data"]["task_id"] = body["data"]["task_id"].upper()
            ex.set_json(body)

    @staticmethod
    def webhook(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["task_id"] = body["data"]["task_id"].upper()
        return body


def request_id_not_hex(body: dict[str, Any], data: dict[str, Any]) -> None:
    body["request_id"] = "req-" + body["request_id"][:8]


def no_request_id_header(ex: Exchange) -> None:
    ex.response_headers = [(k, v) for k, v in ex.response_headers if k.lower() != b"x-shuyou-requestid"]


def media_field_named_url(body: dict[str, Any], data: dict[str, Any]) -> None:
    for item in data.get("output", []):
        if item.get("type") in ("video", "audio"):
            item["url"] = item.pop(item["type"])


class EarlyOutput:
    """An output item (of the task's own function) while the task is still processing."""

    def __init__(self) -> None:
        self.functions: dict[str, str] = {}

    def response(self, ex: Exchange) -> None:
        if _is_create(ex) and ex.status == 200:
            self.functions[ex.json()["data"]["task_id"]] = json.loads(ex.body)["function"]
        elif _is_get(ex) and ex.json()["data"]["task_status"] == "processing":
            body = ex.json()
            function = self.functions.get(body["data"]["task_id"], "image")
            body["data"]["output"] = [{"type": function, function: f"https://cdn.example.com/early.{function}"}]
            ex.set_json(body)


def output_of_another_function(body: dict[str, Any], data: dict[str, Any]) -> None:
    for item in data.get("output", []):
        if item.get("type") == "image":
            item.pop("type")
            item["type"], item["audio"] = "audio", item.pop("image")


def wrong_discount(body: dict[str, Any], data: dict[str, Any]) -> None:
    if "usage" in body:
        body["usage"]["discount"] = 99.0


def no_usage(body: dict[str, Any], data: dict[str, Any]) -> None:
    body.pop("usage", None)


def frozen_credits() -> Hook:
    """/v1/credits as it first answered: the balance never moves (and stays equal to total - usage)."""
    first: dict[str, Any] = {}

    def hook(ex: Exchange) -> None:
        if _is_credits(ex):
            first.setdefault("body", ex.json())
            ex.set_json(first["body"])

    return hook


def no_usage_and_frozen_credits() -> Hook:
    return _both(frozen_credits(), _on_data(no_usage))


def failed_without_error(body: dict[str, Any], data: dict[str, Any]) -> None:
    if data["task_status"] == "failed":
        data.pop("error", None)


def terminal_goes_back() -> Hook:
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


def created_as_success(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 200:
        body = ex.json()
        body["data"]["task_status"] = "success"
        ex.set_json(body)


def another_task_while_processing(body: dict[str, Any], data: dict[str, Any]) -> None:
    if data["task_status"] == "processing":
        data["task_id"] = uuid.uuid4().hex


def balance_off_by_one(ex: Exchange) -> None:
    if _is_credits(ex):
        body = ex.json()
        body["data"]["balance"] = float(body["data"]["balance"]) + 1
        ex.set_json(body)


def error_outside_envelope(ex: Exchange) -> None:
    if ex.status >= 400 and ex.response_body.startswith(b"{"):
        ex.set_json({"message": ex.json()["error"]["message"]})


def not_found_typed_rate_limit(ex: Exchange) -> None:
    if ex.status == 404 and ex.path.startswith(GET_PREFIX):
        body = ex.json()
        body["error"]["type"] = "rate_limit"
        ex.set_json(body)


def gone_for_another_key(ex: Exchange) -> None:
    if ex.status == 404 and "-contracts-other" in ex.headers.get("authorization", ""):
        ex.set_json({"error": {"code": "410", "type": "gone", "message": "gone"}}, status=410)


def server_error_on_valid_input(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 200:
        ex.set_json({"error": {"code": "500", "type": "internal_server_error", "message": "boom"}}, status=500)


def credits_as_text(ex: Exchange) -> None:
    if _is_credits(ex):
        ex.response_headers = [(k, v) for k, v in ex.response_headers if k.lower() != b"content-type"]
        ex.response_headers.append((b"content-type", b"text/plain"))


def accepts_invalid_input(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 400:
        ex.set_json({"data": {"task_id": uuid.uuid4().hex, "task_status": "processing"}}, status=200)


def rejects_duration_strings(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 200 and b'"duration": "' in ex.body.replace(b'":"', b'": "'):
        ex.set_json(
            {"error": {"code": "400", "type": "invalid_params", "message": "input.duration: not an integer"}}, 400
        )


def rejects_every_create(ex: Exchange) -> None:
    if _is_create(ex) and ex.status == 200:
        ex.set_json({"error": {"code": "400", "type": "invalid_params", "message": "model: not today"}}, status=400)


def never_finishes(body: dict[str, Any], data: dict[str, Any]) -> None:
    data["task_status"] = "processing"
    data.pop("output", None)
    data.pop("error", None)
    body.pop("usage", None)


class UnknownTaskIs400:
    """A 404 for the harness's own key (an id nobody created) answers 400 instead."""

    @staticmethod
    def response(ex: Exchange) -> None:
        if ex.status == 404 and ex.headers.get("authorization") == f"Bearer {KEY}":
            ex.set_json({"error": {"code": "400", "type": "invalid_params", "message": "prediction_id: bad"}}, 400)


def key_added_when_missing(ex: Exchange) -> None:
    if not ex.headers.get("authorization"):
        ex.headers["authorization"] = f"Bearer {KEY}"


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


def files_not_found(ex: Exchange) -> None:
    if _is_file(ex):
        ex.status, ex.response_body = 404, b"not found"


def files_are_garbage(ex: Exchange) -> None:
    if _is_file(ex) and ex.status == 200:
        ex.response_body = b"\x00garbage, not media\x00" * 16


def images_as_jpeg(ex: Exchange) -> None:
    """Every image result re-encoded as JPEG, whatever output_format asked for."""
    if _is_file(ex) and ex.status == 200 and ex.path.endswith((".png", ".webp")):
        from PIL import Image

        out = io.BytesIO()
        Image.open(io.BytesIO(ex.response_body)).convert("RGB").save(out, "JPEG")
        ex.response_body = out.getvalue()


def one_image_more(body: dict[str, Any], data: dict[str, Any]) -> None:
    images = [item for item in data.get("output", []) if item.get("type") == "image"]
    data["output"] = data.get("output", []) + images[:1]


def videos_three_times_longer(ex: Exchange) -> None:
    """The movie header of every MP4 result says it lasts three times what was asked for (frames unchanged)."""
    at = ex.response_body.find(b"mvhd") if _is_file(ex) and ex.status == 200 else -1
    if at >= 0 and ex.response_body[at + 4] == 0:  # version 0: 32-bit timescale and duration after the times
        body = bytearray(ex.response_body)
        (duration,) = struct.unpack(">I", body[at + 20 : at + 24])
        body[at + 20 : at + 24] = struct.pack(">I", duration * 3)
        ex.response_body = bytes(body)


def flip_status(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["task_status"] = "failed" if body["data"]["task_status"] == "success" else "success"
    body["data"].pop("output", None)
    return body


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    body.pop("request_id", None)
    return body


_leak = VisibleToOtherKeys()

VARIANTS: dict[str, Variant] = {
    "envelope": Variant(response=missing_task_id),
    "task_status": Variant(response=_on_data(queued_instead_of_processing)),
    "task_id_format": Variant(
        request=UpperCaseIds.request, response=UpperCaseIds.response, webhook=UpperCaseIds.webhook,
        kind=Kind.ASSUMPTION,
    ),
    "request_id_format": Variant(response=_on_data(request_id_not_hex), kind=Kind.ASSUMPTION),
    "request_id_header": Variant(response=no_request_id_header, kind=Kind.ASSUMPTION),
    "output": consistent(media_field_named_url, kind=Kind.ASSUMPTION),
    "output_only_on_success": Variant(response=EarlyOutput().response),
    # An image item relabelled audio is also a file that does not decode as the audio it claims.
    "output_matches_function": consistent(output_of_another_function, also=frozenset({"result_media"})),
    "usage_arithmetic": consistent(wrong_discount),
    "usage_on_success": Variant(
        response=no_usage_and_frozen_credits(), webhook=lambda body: (body.pop("usage", None), body)[1],
        kind=Kind.ASSUMPTION,
    ),
    "failed_task_body": consistent(failed_without_error, kind=Kind.ASSUMPTION),
    "terminal_sticky": Variant(response=terminal_goes_back()),
    "created_processing": Variant(response=created_as_success),
    "task_id_matches": Variant(response=_on_data(another_task_while_processing)),
    "credits_balance": Variant(response=balance_off_by_one),
    "error_envelope": Variant(response=error_outside_envelope),
    "error_type": Variant(response=not_found_typed_rate_limit),
    "undocumented_status": Variant(response=gone_for_another_key),
    "not_a_server_error": Variant(response=server_error_on_valid_input, phases=("examples",)),
    "content_type_conformance": Variant(response=credits_as_text, phases=("fuzzing",)),
    "negative_data_rejection": Variant(response=accepts_invalid_input, phases=("fuzzing",)),
    "positive_data_acceptance": Variant(response=rejects_duration_strings, phases=("examples",), kind=Kind.ASSUMPTION),
    "lifecycle_create": Variant(response=rejects_every_create),
    "lifecycle_timeout": Variant(response=_on_data(never_finishes), kind=Kind.ASSUMPTION),
    "unknown_task": Variant(response=UnknownTaskIs400.response),
    "auth_required": Variant(request=key_added_when_missing),
    "tenant_isolation": Variant(request=_leak.request, response=_leak.response),
    "result_download": Variant(response=files_not_found),
    "result_media": Variant(response=files_are_garbage),
    "output_count": consistent(one_image_more, options={"models": ("gemini-2.5-flash-image",)}),
    "result_format": Variant(response=images_as_jpeg, options={"models": ("gemini-2.5-flash-image",)}),
    "result_duration": Variant(response=videos_three_times_longer, options={"models": ("sora-2",)}),
    "credits_billed": Variant(response=frozen_credits(), kind=Kind.ASSUMPTION),
    "webhook_delivery": Variant(copies=2),
    "webhook_signature": Variant(secret=OTHER_SECRET, kind=Kind.ASSUMPTION),
    "webhook_body": Variant(webhook=without_request_id),
    "webhook_state": Variant(webhook=flip_status),
}  # fmt: skip


@pytest.mark.parametrize("rule", IDS)
def test_every_rule_is_caught_alone(served: list[Served], rule: str) -> None:
    variant = VARIANTS.get(rule)
    assert variant is not None, f"rule {rule!r} has no broken variant: add one to VARIANTS in {__name__}"

    result = harness(variant.serve(served), **variant.run_options())

    found = {(f.rule, f.kind) for f in result.findings}
    assert (rule, variant.kind) in found, result.findings
    assert {f.rule for f in result.findings} - {rule} <= variant.also, result.findings
    assert result.exit_code == (1 if variant.kind is Kind.CONTRACT else 0)


def test_no_variant_without_a_rule() -> None:
    assert set(VARIANTS) <= set(IDS)


def test_a_bad_webhook_signature_fails_the_run_only_when_strict(served: list[Served]) -> None:
    served.append(serve(build_mock(secret=OTHER_SECRET)))  # signs with a secret the harness does not expect

    strict = harness(served[0].base_url, phases=LIFECYCLE, strict=True)

    assert {(f.rule, f.kind) for f in strict.findings} == {("webhook_signature", Kind.ASSUMPTION)}
    assert strict.exit_code == 1
