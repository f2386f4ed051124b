"""The spec is read through a JSON copy named after the YAML's hash, so a start does not pay for PyYAML."""

from __future__ import annotations

from pathlib import Path

import openapi


def test_the_copy_is_written_once_and_then_read(tmp_path: Path) -> None:
    source = tmp_path / "doc.yaml"
    source.write_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n", encoding="utf-8")
    first = openapi.parse_cached(source, tmp_path / "cache")
    (copy,) = (tmp_path / "cache").glob("doc.*.json")
    copy.write_text('{"from": "the copy"}', encoding="utf-8")  # prove the second read comes from it
    assert openapi.parse_cached(source, tmp_path / "cache") == {"from": "the copy"}
    assert first == {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}


def test_an_edited_yaml_is_parsed_again_and_replaces_the_old_copy(tmp_path: Path) -> None:
    source = tmp_path / "doc.yaml"
    source.write_text("a: 1\n", encoding="utf-8")
    openapi.parse_cached(source, tmp_path)
    source.write_text("a: 2\n", encoding="utf-8")
    assert openapi.parse_cached(source, tmp_path) == {"a": 2}
    assert len(list(tmp_path.glob("doc.*.json"))) == 1


def test_a_document_json_cannot_hold_is_never_cached(tmp_path: Path) -> None:
    source = tmp_path / "doc.yaml"
    source.write_text("200: ok\nwhen: 2026-12-02\n", encoding="utf-8")  # an int key and a date
    assert openapi.parse_cached(source, tmp_path / "cache")[200] == "ok"
    assert not list(tmp_path.glob("cache/*.json"))


def test_a_corrupt_or_unwritable_cache_still_gives_the_document(tmp_path: Path) -> None:
    source = tmp_path / "doc.yaml"
    source.write_text("a: 1\n", encoding="utf-8")
    openapi.parse_cached(source, tmp_path)
    (copy,) = tmp_path.glob("doc.*.json")
    copy.write_text("{not json", encoding="utf-8")
    assert openapi.parse_cached(source, tmp_path) == {"a": 1}
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert openapi.parse_cached(source, blocker / "cache") == {"a": 1}  # cannot mkdir under a file


def test_the_served_document_equals_a_fresh_yaml_parse() -> None:
    import yaml

    assert openapi.load_spec() == yaml.safe_load(openapi.SPEC_PATH.read_text(encoding="utf-8"))
