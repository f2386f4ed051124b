"""The `mock_server` pytest plugin, exercised through pytest's own `pytester` (inner pytest runs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

CREATE = '{"model": "gpt-image-2", "function": "image", "input": {"prompt": "x"}}'


@pytest.fixture
def strict(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        """
        [pytest]
        addopts = --strict-markers --strict-config
        filterwarnings = error
        """
    )
    pytester.makeconftest(
        f"""
        import json
        import pytest

        BODY = json.loads({CREATE!r})

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.fixture
        def create(mock_server):
            def go(**input):
                body = {{**BODY, "input": {{**BODY["input"], **input}}}}
                response = mock_server.http.post("/v1/predictions", json=body)
                assert response.status_code == 200, response.text
                return response.json()["data"]["task_id"]
            return go
        """
    )
    return pytester


def test_fixtures_and_markers_are_registered(strict: pytest.Pytester) -> None:
    fixtures = strict.runpytest("--fixtures").stdout.str()
    for name in (
        "mock_server",
        "mock_fresh_server",
        "mock_session_server",
        "mock_app",
        "mock_client",
        "mock_async_client",
        "mock_settings",
        "mock_base_settings",
        "mock_api_key",
        "mock_webhook_receiver",
    ):
        assert name in fixtures  # fmt: skip
    markers = strict.runpytest("--markers").stdout.str()
    for name in ("mock_settings(", "mock_time_scale(", "mock_seed(", "mock_rules(", "mock_outcome("):
        assert f"@pytest.mark.{name}" in markers


def test_disabling_the_plugin_removes_its_fixtures(strict: pytest.Pytester) -> None:
    strict.makepyfile("def test_it(mock_server):\n    pass\n")
    strict.makeconftest("")
    result = strict.runpytest("-p", "no:mock_server")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'mock_server' not found*"])


def test_session_server_is_shared_and_reset_between_tests(strict: pytest.Pytester) -> None:
    strict.makepyfile(
        """
        SEEN = []

        def test_first(mock_server, create):
            create()
            SEEN.append(mock_server.base_url)
            assert len(mock_server.control.tasks()) == 1

        def test_second(mock_server):
            assert mock_server.base_url == SEEN[0]
            assert mock_server.control.tasks() == []
            assert mock_server.control.requests(path="/v1/") == []
        """
    )
    strict.runpytest().assert_outcomes(passed=2)


def test_clock_stands_still_until_advanced(strict: pytest.Pytester) -> None:
    strict.makepyfile(
        """
        def test_it(mock_server, create):
            task_id = create()
            start = mock_server.control.now()
            assert mock_server.control.task(task_id).task_status == "processing"
            assert mock_server.advance(10) == start + 10
            task = mock_server.control.task(task_id)
            assert task.task_status == "success"
            assert [status for _, status in task.events] == ["processing", "success"]
        """
    )
    strict.runpytest().assert_outcomes(passed=1)


def test_outcome_and_rules_markers(strict: pytest.Pytester) -> None:
    strict.makepyfile(
        """
        import pytest

        @pytest.mark.mock_outcome("failed", prompt="^doomed")
        def test_outcome(mock_server, create):
            doomed, fine = create(prompt="doomed"), create(prompt="fine")
            mock_server.advance(10)
            statuses = {t.task_id: t.task_status for t in mock_server.control.tasks()}
            assert (statuses[doomed], statuses[fine]) == ("failed", "success")

        @pytest.mark.mock_rules({"match": {"model": "gpt-image-2"}, "duration": 100})
        def test_rules(mock_server, create):
            task_id = create()
            mock_server.advance(99)
            assert mock_server.control.task(task_id).task_status == "processing"
            assert mock_server.control.rules()[0]["duration"] == 100

        def test_rules_do_not_leak(mock_server):
            assert mock_server.control.rules() == []
        """
    )
    strict.runpytest().assert_outcomes(passed=3)


def test_settings_markers_give_the_test_its_own_server(strict: pytest.Pytester) -> None:
    strict.makepyfile(
        """
        import pytest

        URLS = []

        def test_shared(mock_server):
            URLS.append(mock_server.base_url)

        @pytest.mark.mock_time_scale(0)
        def test_instant(mock_server, create):
            assert mock_server.base_url != URLS[0]
            assert mock_server.settings.time_scale == 0
            assert mock_server.control.task(create()).task_status == "success"

        @pytest.mark.mock_settings(default_balance=0)
        def test_no_credit(mock_server):
            response = mock_server.http.post("/v1/predictions", json={"model": "gpt-image-2"})
            assert response.status_code in (400, 402)
        """
    )
    strict.runpytest().assert_outcomes(passed=3)


def test_seed_marker_makes_ids_reproducible(strict: pytest.Pytester) -> None:
    strict.makepyfile(
        """
        import pytest

        IDS = {}

        @pytest.mark.mock_seed(7)
        def test_a(create):
            IDS["a"] = create()

        @pytest.mark.mock_seed(7)
        def test_b(create):
            assert create() == IDS["a"]

        @pytest.mark.mock_seed(8)
        def test_c(create):
            assert create() != IDS["a"]
        """
    )
    strict.runpytest().assert_outcomes(passed=3)


def test_bad_marker_settings_fail_with_the_key(strict: pytest.Pytester) -> None:
    strict.makepyfile(
        """
        import pytest

        @pytest.mark.mock_settings(no_such_key=1)
        def test_it(mock_server):
            pass
        """
    )
    result = strict.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*mock settings marker: config: unknown field(s)*no_such_key*"])


def test_server_side_error_is_reraised_in_the_test(strict: pytest.Pytester) -> None:
    strict.makepyfile(
        """
        def test_it(mock_fresh_server):
            def broken(prediction, event, body):
                raise LookupError("subscriber blew up")
            mock_fresh_server.app.state.mock.service.subscribe(broken)
            body = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "x"}}
            assert mock_fresh_server.http.post("/v1/predictions", json=body).status_code == 200
            mock_fresh_server.advance(10)
        """
    )
    result = strict.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*LookupError: subscriber blew up*"])


def test_in_process_variants(strict: pytest.Pytester) -> None:
    strict.makepyfile(
        f"""
        import json
        import pytest

        BODY = json.loads({CREATE!r})

        def test_sync(mock_app, mock_client):
            task_id = mock_client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
            mock_app.advance(10)
            assert mock_client.get(f"/v1/predictions/{{task_id}}").json()["data"]["task_status"] == "success"
            assert mock_app.client("another-key").get(f"/v1/predictions/{{task_id}}").status_code == 404
            assert mock_app.journal.calls_to("/v1/predictions")

        @pytest.mark.anyio
        async def test_async(mock_async_client):
            task_id = (await mock_async_client.post("/v1/predictions", json=BODY)).json()["data"]["task_id"]
            await mock_async_client.post("/_mock/clock/advance", json={{"seconds": 10}})
            body = (await mock_async_client.get(f"/v1/predictions/{{task_id}}")).json()
            assert body["data"]["task_status"] == "success"

        @pytest.mark.anyio
        @pytest.mark.mock_outcome("failed")
        async def test_async_markers(mock_async_client):
            task_id = (await mock_async_client.post("/v1/predictions", json=BODY)).json()["data"]["task_id"]
            await mock_async_client.post("/_mock/clock/advance", json={{"seconds": 10}})
            body = (await mock_async_client.get(f"/v1/predictions/{{task_id}}")).json()
            assert body["data"]["task_status"] == "failed"

        @pytest.mark.mock_outcome("failed")
        def test_sync_markers(mock_app, mock_client):
            task_id = mock_client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
            mock_app.advance(10)
            assert mock_client.get(f"/v1/predictions/{{task_id}}").json()["data"]["task_status"] == "failed"
        """
    )
    strict.runpytest().assert_outcomes(passed=4)


def test_webhook_receiver_verifies_the_mocks_signatures(strict: pytest.Pytester) -> None:
    strict.makepyfile(
        """
        import pytest

        def test_default_secret(mock_server, create, mock_webhook_receiver):
            body = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "x"},
                    "webhook": mock_webhook_receiver.url}
            task_id = mock_server.http.post("/v1/predictions", json=body).json()["data"]["task_id"]
            mock_server.advance(10)
            (delivery,) = mock_webhook_receiver.wait_for(1)
            assert (delivery["verified"], delivery["body"]["data"]["task_id"]) == (True, task_id)
            mock_server.control.assert_delivered("success", count=1, task_id=task_id)

        @pytest.mark.mock_settings(webhook_secret="whsec_b3RoZXItc2VjcmV0LWZvci10aGUtdGVzdHMhIQ==")
        def test_configured_secret(mock_server, mock_webhook_receiver):
            assert mock_server.webhook_secrets == ("whsec_b3RoZXItc2VjcmV0LWZvci10aGUtdGVzdHMhIQ==",)
            body = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "x"},
                    "webhook": mock_webhook_receiver.url}
            mock_server.http.post("/v1/predictions", json=body)
            mock_server.advance(10)
            assert mock_webhook_receiver.wait_for(1)[0]["verified"] is True

        ROTATION = "whsec_bmV3LXNlY3JldC1mb3ItdGhlLXJvdGF0aW9uISE=,whsec_b2xkLXNlY3JldC1mb3ItdGhlLXJvdGF0aW9uISE="

        @pytest.mark.mock_settings(webhook_secret=ROTATION)
        def test_rotation(mock_server, mock_webhook_receiver):
            assert len(mock_server.webhook_secrets) == 2
            body = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "x"},
                    "webhook": mock_webhook_receiver.url}
            mock_server.http.post("/v1/predictions", json=body)
            mock_server.advance(10)
            delivery = mock_webhook_receiver.wait_for(1)[0]
            assert delivery["verified"] is True
            assert len(delivery["headers"]["webhook-signature"].split()) == 2
        """
    )
    strict.runpytest().assert_outcomes(passed=3)


def test_webhook_receiver_needs_the_contracts_plugin(strict: pytest.Pytester) -> None:
    strict.makepyfile("def test_it(mock_webhook_receiver):\n    pass\n")
    result = strict.runpytest("-p", "no:contracts")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs the `contracts` plugin*"])


def test_plugin_module_is_cheap_to_import() -> None:
    code = (
        "import sys, mock_server.pytest_plugin\n"
        "heavy = [m for m in ('starlette', 'uvicorn', 'httpx2', 'anyio', 'mock_server.app') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
