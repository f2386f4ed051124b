"""Startup pays only for what the first answer needs (issue 12 item 8, bench/bench_startup.py measures the time):
httpx2 and the webhook transport load at the first webhook delivery, not when the mock starts and answers."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys, time, urllib.request
from mock_server.app import create_app
from mock_server.settings import Settings
from mock_server.testing import serve_in_thread

def loaded():
    return sorted({m.split(".")[0] for m in sys.modules} & {"httpx2", "httpcore"}) + sorted(
        {m for m in sys.modules if m == "mock_server.webhooks.transport"})

def call(url, body=None):
    request = urllib.request.Request(url, data=body, headers={"Authorization": "Bearer sk-test",
                                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read()

seen = {}
with serve_in_thread(create_app(Settings(time_scale=0.0))) as live:
    call(live.base_url + "/v1/credits")
    seen["answering"] = loaded()
    body = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"},
            "webhook": "http://127.0.0.1:9/hook"}
    call(live.base_url + "/v1/predictions", json.dumps(body).encode())
    deadline = time.monotonic() + 10
    while not json.loads(call(live.base_url + "/_mock/webhooks"))["deliveries"][0]["attempts"]:
        assert time.monotonic() < deadline, "no delivery attempt"
        time.sleep(0.01)
    seen["delivered"] = loaded()
print(json.dumps(seen))
"""


def test_httpx2_loads_at_the_first_delivery_not_at_startup() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["answering"] == []
    assert "httpx2" in seen["delivered"]
    assert "mock_server.webhooks.transport" in seen["delivered"]


def test_pyyaml_is_not_imported_to_start_and_answer() -> None:
    """openapi reads its JSON copy of the spec when fresh; YAML is parsed or written only when a request needs it."""
    script = (
        "import sys, openapi\n"
        "from mock_server.app import create_app\n"
        "from mock_server.cli import main\n"
        "create_app()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'yaml', 'difflib', 'httpx2', 'websockets'}))\n"
    )
    subprocess.run([sys.executable, "-c", "import openapi; openapi.load_spec()"], check=True, timeout=60)  # the copy
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
