from __future__ import annotations

import re

from mock_server.ids import IdFactory
from mock_server.store.memory import MemoryStore


def ids(factory: IdFactory, n: int) -> list[str]:
    return [factory.new() for _ in range(n)]


def test_ids_are_32_lowercase_hex_and_a_seed_repeats_them() -> None:
    first = ids(IdFactory(1), 5)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in first)
    assert first == ids(IdFactory(1), 5)
    assert first != ids(IdFactory(2), 5)


def test_seeded_ids_from_store_blocks_repeat_on_a_fresh_store_and_never_on_the_same_one() -> None:
    store = MemoryStore()
    run1 = ids(IdFactory(1, blocks=lambda n: store.next_block("task_id", n), block_size=4), 10)  # 3 blocks
    restarted = ids(IdFactory(1, blocks=lambda n: store.next_block("task_id", n), block_size=4), 10)
    fresh = MemoryStore()
    again = ids(IdFactory(1, blocks=lambda n: fresh.next_block("task_id", n), block_size=4), 10)
    assert again == run1  # a fresh store: the same ids for the same seed
    assert not set(restarted) & set(run1)  # the same store after a restart: none handed out again
    assert len(set(run1)) == 10
    assert run1[:4] == ids(IdFactory(1), 4)  # block 0 is the plain seeded stream
