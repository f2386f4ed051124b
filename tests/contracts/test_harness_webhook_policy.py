"""The mock and the harness agree on which webhook URLs a create may carry (DECISIONS 7, the spec's WebhookUrl)."""

from __future__ import annotations

import httpx2
import pytest

from contracts import spec as contract_spec
from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.settings import Settings

pytestmark = pytest.mark.anyio

URLS = [
    pytest.param("https://your-domain.com/webhook", True, id="https"),
    pytest.param("https://user:pw@hooks.example/hook", True, id="https-userinfo"),
    pytest.param("http://user:pw@127.0.0.1:9000/hook", True, id="http-loopback-userinfo"),
    pytest.param("http://127.0.0.1:9000/hook", True, id="127.0.0.1"),
    pytest.param("http://127.0.0.2:9000/hook", True, id="127.0.0.2"),
    pytest.param("http://127.255.255.254/hook", True, id="127.255.255.254"),
    pytest.param("http://localhost/hook", True, id="localhost"),
    pytest.param("http://LocalHost:8000/hook", True, id="localhost-any-case"),
    pytest.param("http://[::1]:9000/hook", True, id="ipv6-loopback"),
    pytest.param("http://example.com/hook", False, id="http-remote"),
    pytest.param("http://128.0.0.1/hook", False, id="just-outside-127/8"),
    pytest.param("http://127.1/hook", False, id="short-form"),
    pytest.param("http://[0::1]/hook", False, id="ipv6-non-canonical"),
    pytest.param("http://127.0.0.1.evil.example/hook", False, id="loopback-prefix-of-a-name"),
    pytest.param("http://a@b@127.0.0.1/hook", False, id="two-at-signs"),
    pytest.param("ftp://127.0.0.1/hook", False, id="other-scheme"),
]
BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a lighthouse"}}


@pytest.mark.parametrize(("url", "accepted"), URLS)
async def test_mock_and_harness_agree_on_the_webhook_url(url: str, accepted: bool) -> None:
    body = {**BODY, "webhook": url}
    harness = contract_spec.load()
    pointer = harness.request_schema_ref("createPrediction")
    assert pointer is not None
    assert (harness.validate(pointer, body) == []) is accepted
    app = create_app(Settings(seed=1), clock=FakeClock(1_800_000_000.0))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as c:
        response = await c.post("/v1/predictions", json=body, headers={"Authorization": "Bearer sk-test"})
    assert response.status_code == (200 if accepted else 400), response.text
    if not accepted:
        message = response.json()["error"]["message"]
        assert message.startswith("webhook: "), message
        assert "does not match" not in message  # the rule in words, not the pattern
