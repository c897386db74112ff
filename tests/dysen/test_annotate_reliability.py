"""Issue 15, annotate: resume never damages a file it did not write; exit codes; bad paths are named."""

from __future__ import annotations

import json

import pytest

from dysen import DysenInputError, RuleBasedPlanner, cli
from dysen.annotation import annotate, read_annotations
from dysen.testing import FakeChatServer, Reply

CAPTIONS = ["The red circle moves left.", "The blue square jumps.", "The green triangle grows."]


def _captions(path, n=3):
    path.write_text("".join(json.dumps({"id": f"c{k}", "caption": c}) + "\n" for k, c in enumerate(CAPTIONS[:n])))
    return path


def test_valid_last_line_without_newline_is_kept(tmp_path):
    src = _captions(tmp_path / "c.jsonl")
    out = tmp_path / "o.jsonl"
    annotate(src, out, RuleBasedPlanner(), limit=2, progress=False)
    out.write_bytes(out.read_bytes().rstrip(b"\n"))  # a complete row, only its newline is missing
    s = annotate(src, out, RuleBasedPlanner(), progress=False)
    assert not s.truncated_line_removed and (s.skipped, s.planned) == (2, 1)
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == ["c0", "c1", "c2"]


def test_refuses_to_resume_into_a_file_it_did_not_write(tmp_path):
    src = _captions(tmp_path / "c.jsonl")
    other = _captions(tmp_path / "other.jsonl", 2)
    before = other.read_bytes()
    with pytest.raises(DysenInputError, match="not a DSG row written by annotate"):
        annotate(src, other, RuleBasedPlanner(), progress=False)  # the two paths swapped
    assert other.read_bytes() == before  # its last caption is still there, nothing appended
    unterminated = tmp_path / "u.jsonl"
    unterminated.write_text(json.dumps({"id": "x", "caption": "a caption"}))  # valid JSON, no newline
    with pytest.raises(DysenInputError, match="refusing to resume"):
        annotate(src, unterminated, RuleBasedPlanner(), progress=False)
    assert json.loads(unterminated.read_text())["caption"] == "a caption"
    with pytest.raises(DysenInputError, match="is the captions file"):
        annotate(src, src, RuleBasedPlanner(), progress=False)
    with pytest.raises(DysenInputError, match="is a directory"):
        annotate(src, tmp_path, RuleBasedPlanner(), progress=False)
    with pytest.raises(DysenInputError, match="limit"):
        annotate(src, tmp_path / "n.jsonl", RuleBasedPlanner(), limit=-1, progress=False)


def test_killed_retry_degraded_run_leaves_no_duplicate_ids(tmp_path):
    src = _captions(tmp_path / "c.jsonl")
    out = tmp_path / "o.jsonl"
    annotate(src, out, RuleBasedPlanner(), progress=False)
    rows = out.read_text().splitlines()
    newer = json.loads(rows[0])
    newer["text"] = "replanned"
    with out.open("a") as fh:  # what a --retry-degraded run had appended when it was killed
        fh.write(json.dumps(newer) + "\n")
    s = annotate(src, out, RuleBasedPlanner(), progress=False)
    assert s.planned == 0
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == ["c0", "c1", "c2"]
    assert read_annotations(out)["c0"]["text"] == "replanned"  # the newest row won


def test_exit_status_when_every_caption_fell_back(tmp_path, monkeypatch, capsys):
    src = _captions(tmp_path / "c.jsonl", 2)
    monkeypatch.setenv("TEST_LLM_KEY", "k")
    with FakeChatServer(lambda r: Reply(status=500, content="down"), retry_after_ms=1) as server:
        args = [
            "annotate", str(src), str(tmp_path / "o.jsonl"), "--no-progress", "--planner", "llm",
            "--model", "m", "--base-url", server.base_url, "--api-key-env", "TEST_LLM_KEY", "--max-retries", "0",
        ]  # fmt: skip
        assert cli.main(args) == 1
    captured = capsys.readouterr()
    assert "fell back: 2" in captured.out and "every caption planned now (2) fell back" in captured.err
    assert len(read_annotations(tmp_path / "o.jsonl")) == 2  # the offline rows are kept
    assert cli.main(["annotate", str(src), str(tmp_path / "rule.jsonl"), "--no-progress"]) == 0


def test_cli_bad_cache_and_numbers(tmp_path, monkeypatch, capsys):
    src = _captions(tmp_path / "c.jsonl", 1)
    monkeypatch.setenv("TEST_LLM_KEY", "k")
    not_db = tmp_path / "notes.txt"
    not_db.write_text("my notes, not a database " * 20)
    base = ["annotate", str(src), str(tmp_path / "o.jsonl"), "--planner", "llm", "--api-key-env", "TEST_LLM_KEY"]
    base += ["--base-url", "http://127.0.0.1:9/v1", "--no-progress"]
    for cache, words in ((tmp_path, "is a directory"), (not_db, "not a dysen response cache")):
        assert cli.main([*base, "--cache", str(cache)]) == 2
        assert words in capsys.readouterr().err
    assert not_db.read_text().startswith("my notes")
    for bad in (["--limit", "-1"], ["--limit", "0"], ["--concurrency", "0"], ["--timeout", "nan"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(["annotate", str(src), str(tmp_path / "o.jsonl"), *bad])
        assert exc.value.code == 2 and bad[0] in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train-selector", "--out", str(tmp_path / "p"), "--batch-size", "0"])
