"""Write examples/sample.cassette, a small cassette built from the documentation's own examples in the spec.

    python docs/gen_sample_cassette.py           # rewrite examples/sample.cassette
    python docs/gen_sample_cassette.py --check   # exit 1 if it is not current

One Get Credits (`credits.balance`), one Get Prediction of an unknown id (`error.404.not_found`), and one image
task: the documented create request (`create-prediction.image`, without its webhook) answered
`prediction.created`, polled at 1, 3 and 7 s (`prediction.processing`) and at 15 s (`prediction.success_image`).
The documented examples use three different task ids; the cassette gives the task the id of the documented
success, so that its create and its polls are one task. Nothing else is invented.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "docs"):  # run as a script from anywhere, or loaded by a test
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _generated import regenerate  # noqa: E402

import openapi  # noqa: E402
from openapi.cassette import CassetteWriter  # noqa: E402

TARGET = ROOT / "examples" / "sample.cassette"
POLLS = (1.0, 3.0, 7.0, 15.0)


def _example(spec: dict[str, Any], name: str) -> Any:
    return json.loads(json.dumps(openapi.examples(spec)[name]))


def render() -> str:
    spec = openapi.load_spec()
    success = _example(spec, "prediction.success_image")
    task = success["data"]["task_id"]
    created, processing = _example(spec, "prediction.created"), _example(spec, "prediction.processing")
    created["data"]["task_id"] = processing["data"]["task_id"] = task
    request = {k: v for k, v in _example(spec, "create-prediction.image").items() if k != "webhook"}
    missing = _example(spec, "error.404.not_found")
    unknown = missing["error"]["message"].split("'")[1]
    json_headers = [("Content-Type", "application/json")]
    sent = [("Authorization", "Bearer YOUR_API_KEY"), *json_headers]

    def rid(body: Any) -> list[tuple[str, str]]:
        request_id = body.get("request_id", "8bd6b5784a1e42b79bf172607f476f56") if isinstance(body, dict) else ""
        return [*json_headers, ("X-ShuYou-RequestId", request_id)]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.cassette"
        header = {"source": "https://api.shuyou.ai", "tool": "docs/gen_sample_cassette.py", "with_files": False}
        with CassetteWriter(path, **header) as writer:
            credits = _example(spec, "credits.balance")
            writer.write(
                method="GET",
                path="/v1/credits",
                status=200,
                request_headers=sent,
                response_headers=rid(credits),
                response_body=credits,
                operation="getCredits",
                name="credits",
            )
            writer.write(
                method="GET",
                path=f"/v1/predictions/{unknown}",
                status=404,
                request_headers=sent,
                response_headers=rid(missing),
                response_body=missing,
                operation="getPrediction",
                name="poll unknown id",
            )
            writer.write(
                method="POST",
                path="/v1/predictions",
                status=200,
                request_headers=sent,
                request_body=request,
                response_headers=rid(created),
                response_body=created,
                operation="createPrediction",
                name=f"create {request['model']}",
                task=task,
                elapsed=0.0,
            )
            for at in POLLS:
                body = success if at == POLLS[-1] else processing
                writer.write(
                    method="GET",
                    path=f"/v1/predictions/{task}",
                    status=200,
                    request_headers=sent,
                    response_headers=rid(body),
                    response_body=body,
                    operation="getPrediction",
                    name=f"poll {request['model']}",
                    task=task,
                    at=at,
                    elapsed=at,
                )
        return path.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    return regenerate(TARGET, render, script="docs/gen_sample_cassette.py", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
