from __future__ import annotations

import json
from pathlib import Path

import pytest

from openapi.cassette import REDACTED, CassetteError, CassetteWriter, FileRecord, Redactor, read_cassette


def test_a_written_exchange_reads_back_with_its_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.cassette"
    with CassetteWriter(path, source="https://api.shuyou.ai", tool="test") as writer:
        writer.write(
            method="get",
            path="/files/t/0.png",
            status=200,
            task="t",
            at=1.5,
            elapsed=1.0,
            file=FileRecord("image/png", 3, b"\x89PN"),
            operation="file",
        )
    cassette = read_cassette(path)
    assert (cassette.header["cassette"], cassette.header["version"]) == ("shuyou", 1)
    (exchange,) = cassette.exchanges
    assert (exchange.method, exchange.elapsed, exchange.file) == ("GET", 1.0, FileRecord("image/png", 3, b"\x89PN"))
    assert cassette.tasks() == {"t": [exchange]}


def test_the_redactor_removes_keys_signatures_webhook_secrets_and_url_tokens(tmp_path: Path) -> None:
    path = tmp_path / "s.cassette"
    key, secret = "sk-live-abcdef123456", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with CassetteWriter(path, redactor=Redactor(secrets=(key, "opaque-key-9876")), source="https://u:pw@h") as w:
        w.write(
            method="POST",
            path="/v1/predictions",
            query="token=abc&e=17",
            status=200,
            request_headers=[
                ("Authorization", f"Bearer {key}"),
                ("X-Api-Key", "opaque-key-9876"),
                ("webhook-signature", "v1,c2lnbmF0dXJl"),
                ("Content-Type", "application/json"),
            ],
            request_body={
                "webhook": "https://hooks.example/cb?token=hook-tok-1&x=1",
                "webhook_secret": secret,
                "input": {"prompt": f"say {key}", "max_tokens": 5},
            },
            response_body={"note": f"signed with {secret}", "url": "https://cdn.example/f.png?e=1&token=cdn-tok-2"},
        )
    text = path.read_text()
    for leaked in (key, secret, "opaque-key-9876", "c2lnbmF0dXJl", "hook-tok-1", "cdn-tok-2", "abc", "pw@"):
        assert leaked not in text
    exchange = read_cassette(path).exchanges[0]
    assert exchange.request_headers["authorization"] == REDACTED
    assert exchange.request_body["input"]["max_tokens"] == 5  # a parameter named like a secret word stays
    assert exchange.response_body["url"] == f"https://cdn.example/f.png?e=1&token={REDACTED}"
    assert json.loads(text.splitlines()[0])["source"] == "https://h"


def test_a_file_without_the_header_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "x.cassette"
    path.write_text('{"seq": 0}\n')
    with pytest.raises(CassetteError, match="first line must be the header"):
        read_cassette(path)
    path.write_text('{"cassette": "shuyou", "version": 1}\n{"seq": 0}\n')
    with pytest.raises(CassetteError, match="line 2: not an exchange"):
        read_cassette(path)
    path.write_text('{"cassette": "shuyou", "version": 9}\n')
    with pytest.raises(CassetteError, match="version 9 is not supported"):
        read_cassette(path)
