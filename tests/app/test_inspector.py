"""The inspector's data endpoints: pages, filters, masked keys, bodies, rules as YAML (openapi/control.yaml)."""

from __future__ import annotations

import json

import httpx2
import pytest

from mock_server.clock import FakeClock
from mock_server.inspector.routes import inspector_routes
from tests.app._support import AUDIO, IMAGE, KEY, OTHER, create
from tests.app.test_control_doc import DOC, check

pytestmark = pytest.mark.anyio


def test_every_inspector_route_is_documented() -> None:
    paths = [getattr(r, "path", "") for r in inspector_routes() if getattr(r, "methods", None)]
    assert len(paths) >= 10
    assert [p for p in paths if p not in DOC["paths"]] == []


async def test_answers_match_the_doc(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    task_id = await create(client)
    clock.advance(3600)
    for path in ("tasks", "webhooks", "requests", "credits", "rules"):
        check(f"/_mock/inspector/{path}", "get", 200, (await client.get(f"/_mock/inspector/{path}")).json())
    detail = (await client.get(f"/_mock/inspector/tasks/{task_id}")).json()
    check("/_mock/inspector/tasks/{task_id}", "get", 200, detail)
    assert [o["kind"] for o in detail["outputs"]] == ["image", "image"]
    assert detail["outputs"][0]["url"].startswith("http://127.0.0.1:8000/files/")
    check("/_mock/inspector/tasks/{task_id}", "get", 404, (await client.get("/_mock/inspector/tasks/nope")).json())
    check("/_mock/inspector/tasks", "get", 400, (await client.get("/_mock/inspector/tasks?limit=0")).json())


async def test_keys_never_appear_whole(client: httpx2.AsyncClient) -> None:
    await create(client)
    pages = [(await client.get(f"/_mock/inspector/{p}")).text for p in ("tasks", "requests", "credits")]
    assert all("sk-one" not in text and "…one" in text for text in pages)


async def test_tasks_filter_by_function_status_and_key_suffix_newest_first(client: httpx2.AsyncClient) -> None:
    image = await create(client)
    audio = await create(client, AUDIO)
    other = await create(client, headers=OTHER)

    async def ids(query: str) -> list[str]:
        return [t["task_id"] for t in (await client.get(f"/_mock/inspector/tasks?{query}")).json()["data"]]

    assert await ids("") == [other, audio, image]
    assert await ids("function=audio") == [audio]
    assert await ids("key=-two") == [other]
    assert await ids("key=sk-one&status=processing") == [audio, image]


async def test_pages_say_whether_more_follow(client: httpx2.AsyncClient) -> None:
    made = [await create(client) for _ in range(3)]
    first = (await client.get("/_mock/inspector/tasks?limit=2")).json()
    second = (await client.get("/_mock/inspector/tasks?limit=2&offset=2")).json()
    assert [t["task_id"] for t in first["data"] + second["data"]] == made[::-1]
    assert (first["more"], second["more"]) == (True, False)


async def test_every_delivery_status_the_webhooks_filter_offers_is_accepted(client: httpx2.AsyncClient) -> None:
    """The page's choices come from the journal's statuses; the view once refused `gone` with a 400."""
    page = (await client.get("/_mock/ui")).text
    select = page.split('data-view="webhooks"', 1)[1].split("</select>", 1)[0]
    offered = [o.split("</option>")[0] for o in select.split("<option>")[1:]]
    assert "gone" in offered
    for status in offered:
        answer = await client.get("/_mock/inspector/webhooks", params={"status": status})
        assert answer.status_code == 200, (status, answer.text)
    refused = await client.get("/_mock/inspector/webhooks", params={"status": "lost"})
    assert refused.status_code == 400
    assert "status: 'lost' is not one of" in refused.json()["error"]["message"]


async def test_request_bodies_are_kept_and_own_requests_hidden(client: httpx2.AsyncClient) -> None:
    await create(client)
    await client.get("/_mock/inspector/tasks")
    rows = (await client.get("/_mock/inspector/requests")).json()["data"]
    assert [r["path"] for r in rows] == ["/v1/predictions"]
    bodies = (await client.get(f"/_mock/inspector/requests/{rows[0]['request_id']}")).json()
    check("/_mock/inspector/requests/{request_id}", "get", 200, bodies)
    assert json.loads(bodies["request_body"])["input"]["prompt"] == "a cat"
    assert json.loads(bodies["response_body"])["data"]["task_status"] == "processing"
    own = (await client.get("/_mock/inspector/requests?own=1")).json()["data"]
    assert any(r["path"] == "/_mock/inspector/tasks" for r in own)


async def test_rules_yaml_parse_names_the_line(client: httpx2.AsyncClient) -> None:
    ok = await client.post("/_mock/inspector/rules/parse", content="- name: slow\n  duration: 5\n")
    assert ok.json() == {"rules": [{"name": "slow", "duration": 5}]}
    bad = await client.post("/_mock/inspector/rules/parse", content="- name: a\n  outcome: [\n")
    check("/_mock/inspector/rules/parse", "post", 400, bad.json())
    assert "line 3" in bad.json()["error"]["message"]
    assert (await client.put("/_mock/rules", json=ok.json())).status_code == 200
    assert "name: slow" in (await client.get("/_mock/inspector/rules")).json()["yaml"]


async def test_stream_rejects_an_unknown_view_in_the_envelope(client: httpx2.AsyncClient) -> None:
    response = await client.get("/_mock/inspector/stream?view=nope")
    check("/_mock/inspector/stream", "get", 400, response.json())
    assert "view" in response.json()["error"]["message"]


async def test_page_and_static_files_are_served(client: httpx2.AsyncClient) -> None:
    page = await client.get("/_mock/ui")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    for asset in ("inspector.js", "inspector.css"):
        assert (await client.get(f"/_mock/ui/static/{asset}")).status_code == 200


async def test_bodies_are_cut_at_16_kib_and_result_files_are_not_kept(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    task_id = await create(client)
    clock.advance(3600)
    url = (await client.get(f"/_mock/inspector/tasks/{task_id}")).json()["outputs"][0]["url"]
    assert (await client.get(url)).headers["content-type"] == "image/png"
    long = {**IMAGE, "input": {"prompt": "a cat " * 5000}}  # 30 kB, refused: the prompt is too long
    refused = await client.post("/v1/predictions", json=long, headers=KEY)
    rows = (await client.get("/_mock/inspector/requests")).json()["data"]
    file_path = "/" + url.split("/", 3)[3].split("?")[0]
    assert next(r for r in rows if r["path"] == file_path)["has_bodies"] is False
    bodies = (await client.get(f"/_mock/inspector/requests/{rows[0]['request_id']}")).json()
    assert (bodies["request_truncated"], len(bodies["request_body"])) == (True, 16_384)
    assert (bodies["response_truncated"], json.loads(bodies["response_body"])) == (False, refused.json())
