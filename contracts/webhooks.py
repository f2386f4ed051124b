"""Checking a received webhook: its Standard Webhooks signature and its body against the spec.

Rules: pure. Signatures are verified by the `standardwebhooks` library (any one active secret
suffices, as in a rotation); the body schema is the spec's `webhooks.predictionFinished` request body,
read from `openapi.load_spec()` and never restated here. Works against the mock and the real API.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema_rs
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import openapi

__all__ = ["SignatureInvalid", "payload_errors", "verify_signature", "webhook_body_pointer"]

WEBHOOK_NAME = "predictionFinished"


class SignatureInvalid(Exception):
    """The webhook's signature headers do not verify with any of the given secrets."""


def verify_signature(body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> None:
    """Raise `SignatureInvalid` unless `headers` sign `body` with one of `secrets` (standardwebhooks)."""
    if not secrets:
        raise SignatureInvalid("no secret to verify with: pass at least one 'whsec_...' secret")
    plain = {k.lower(): v for k, v in headers.items()}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureInvalid(f"body is not UTF-8 ({exc})") from None
    reasons: list[str] = []
    for secret in secrets:
        try:
            Webhook(secret).verify(text, plain, json_parse=False)
        except WebhookVerificationError as exc:
            reasons.append(str(exc))
        except (ValueError, TypeError) as exc:  # malformed signature header or secret
            reasons.append(f"malformed: {exc}")
        else:
            return
    raise SignatureInvalid("; ".join(dict.fromkeys(reasons)))


def webhook_body_pointer(spec: Mapping[str, Any], name: str = WEBHOOK_NAME) -> str:
    """JSON pointer of the JSON request body schema of webhook `name`, following `$ref`s on the way."""
    steps = ["post", "requestBody", "content", "application/json", "schema"]
    pointer = openapi.ref("webhooks", name)
    node = _node(spec, pointer)
    for step in steps:
        while isinstance(node, Mapping) and "$ref" in node and step != "schema":
            pointer = str(node["$ref"])
            node = _node(spec, pointer)
        if not isinstance(node, Mapping) or step not in node:
            raise LookupError(f"the spec's webhook {name!r} has no {'/'.join(steps)} (missing {step!r} at {pointer})")
        pointer += "/" + openapi.escape(step)
        node = node[step]
    return pointer


def _node(spec: Mapping[str, Any], pointer: str) -> Any:
    try:
        return openapi.pointer(spec, pointer)
    except (LookupError, TypeError, ValueError) as exc:
        raise LookupError(f"{pointer} does not resolve in the spec (stuck at {exc})") from None


@functools.cache
def _validator(name: str) -> jsonschema_rs.Draft202012Validator:
    return openapi.schema_validator(webhook_body_pointer(openapi.load_spec(), name))


def payload_errors(payload: Any, name: str = WEBHOOK_NAME) -> list[str]:
    """Schema violations of a received body, each as '<JSON path>: <rule>' (empty when it conforms)."""
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            return [f"$: body is not JSON ({exc})"]
    return [
        f"${''.join(f'[{p}]' if isinstance(p, int) else f'.{p}' for p in err.instance_path)}: {err.message}"
        for err in _validator(name).iter_errors(payload)
    ]
