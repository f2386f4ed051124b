"""The Redis request path's group commit (`mock_server.store.redis_batch`) on a real redis-server: creates from
many connections at once are all stored, and one failing command fails only its own request (a Redis that goes
away or hangs mid-run: test_redis_outage)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx2
import pytest
import redis

from mock_server import Settings, create_app
from mock_server.settings import RateLimit
from mock_server.store.redis_batch import Batcher
from mock_server.testing import serve_in_thread

BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"}}
AUTH = {"Authorization": "Bearer sk-batch"}


def _settings(url: str) -> Settings:
    return Settings(store=url, time_scale=1000.0)  # tasks stay processing for the length of a test


async def _creates(base_url: str, connections: int, each: int) -> list[str]:
    """`connections` clients creating `each` tasks at once (so requests are in flight together); the ids answered."""

    async def one_client() -> list[str]:
        async with httpx2.AsyncClient(base_url=base_url, headers=AUTH, timeout=30) as client:
            ids = []
            for _ in range(each):
                answer = await client.post("/v1/predictions", json=BODY)
                assert answer.status_code == 200, answer.text
                ids.append(answer.json()["data"]["task_id"])
            return ids

    found = await asyncio.gather(*(one_client() for _ in range(connections)))
    return [task_id for ids in found for task_id in ids]


def test_concurrent_creates_are_all_stored_and_readable_from_another_process(redis_url: str) -> None:
    with serve_in_thread(create_app(_settings(redis_url))) as live:
        ids = asyncio.run(_creates(live.base_url, connections=24, each=10))
        with httpx2.Client(base_url=live.base_url, headers=AUTH) as client:  # and through the batched GET
            assert {client.get(f"/v1/predictions/{i}").json()["data"]["task_id"] for i in ids} == set(ids)
    assert len(set(ids)) == 240
    reader = (  # another process, its own client: every answered create was written before its answer
        "import json, sys; from mock_server.store import open_store; s = open_store(sys.argv[1]); "
        "print(json.dumps([i for i in json.loads(sys.stdin.read()) if s.get(i) is None]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", reader, redis_url], input=json.dumps(ids), capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


async def _statuses(base_url: str, n: int, method: str, path: str) -> list[int]:
    """`n` requests sent at once on `n` connections (so they share batches); their statuses, each in the envelope."""

    async def one() -> int:
        async with httpx2.AsyncClient(base_url=base_url, headers=AUTH, timeout=30) as client:
            answer = await client.request(method, path, json=BODY if method == "POST" else None)
            assert answer.status_code == 200 or "error" in answer.json(), answer.text
            return answer.status_code

    return sorted(await asyncio.gather(*(one() for _ in range(n))))


def test_concurrent_creates_on_a_small_balance_admit_exactly_what_it_covers(redis_url: str) -> None:
    settings = Settings(store=redis_url, time_scale=1000.0, default_balance=0.1)  # 0.02925 per image: 3 fit
    with serve_in_thread(create_app(settings)) as live:
        assert asyncio.run(_statuses(live.base_url, 12, "POST", "/v1/predictions")) == [200] * 3 + [402] * 9


def test_the_shared_rate_limit_holds_for_requests_in_one_batch(redis_url: str) -> None:
    settings = Settings(store=redis_url, time_scale=1000.0, rate_limit=RateLimit(requests=3, per_seconds=3600))
    with serve_in_thread(create_app(settings)) as live:
        assert asyncio.run(_statuses(live.base_url, 8, "GET", "/v1/predictions/nope")) == [404] * 3 + [429] * 5


@pytest.mark.anyio
async def test_one_failing_command_fails_only_its_own_request_in_a_shared_write(redis_url: str) -> None:
    params = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs
    batcher = Batcher(params)
    first, bad, last = batcher.call("SET", "k", "v"), batcher.call("INCR", "k"), batcher.call("GET", "k")
    await asyncio.sleep(0)  # one loop iteration: the three go out in one write
    await asyncio.sleep(0)
    assert await first == "OK"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        await bad
    assert await last == "v"
    batcher.close()


@pytest.mark.anyio
async def test_commands_queued_while_a_batch_is_in_flight_go_out_together_after_it(redis_url: str) -> None:
    batcher = Batcher(redis.Redis.from_url(redis_url).connection_pool.connection_kwargs)
    assert await batcher.call("PING") == "PONG"  # connected
    head = batcher.call("INCR", "n")
    await asyncio.sleep(0)  # written: in flight
    assert len(batcher.flight) == 1
    rest = [batcher.call("INCR", "n") for _ in range(5)]
    assert len(batcher.flight) == 1, "the next batch waits for the one in flight"
    assert await head == 1
    assert [await f for f in rest] == [2, 3, 4, 5, 6]
    batcher.close()
