"""Corpus annotation (concurrent, resumable, degradation retry) and the CLI hooks."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

import dsg
from dysen import DysenInputError, RuleBasedPlanner, cli
from dysen.annotation import annotate, read_annotations, read_captions
from dysen.llm.planner import LLMPlanner
from dysen.selection import default_encoder_path

CAPTIONS = [
    "The small red circle moves left, then the blue square jumps.",
    "Before the blue square jumps, the red circle moves left.",
    "While the green triangle grows, the red circle moves up.",
    "A woman puts a bottle of water in her bag, then she leaves the office.",
    "Chop the onions and fry them in a pan.",
]


def write_captions(path, captions, *, bare_from: int | None = None):
    with path.open("w") as fh:
        for k, c in enumerate(captions):
            row = c if bare_from is not None and k >= bare_from else {"id": f"c{k}", "caption": c}
            fh.write(json.dumps(row) + "\n")
    return path


def test_rule_based_annotation_and_resume(tmp_path):
    src = write_captions(tmp_path / "captions.jsonl", CAPTIONS, bare_from=4)
    out = tmp_path / "dsgs.jsonl"
    first = annotate(src, out, RuleBasedPlanner(), limit=3, progress=False)
    assert (first.total, first.planned, first.skipped) == (3, 3, 0)
    with out.open("a") as fh:
        fh.write('{"id": "c3", "schema": "dsg/1", "text": "A wom')  # a crash in the middle of a line
    second = annotate(src, out, RuleBasedPlanner(), progress=False)
    assert second.truncated_line_removed
    assert (second.total, second.skipped, second.planned, second.failed) == (5, 3, 2, 0)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["c0", "c1", "c2", "c3", "5"]  # bare strings get their line number
    parsed = [dsg.dsg_from_dict(r) for r in rows]
    assert parsed[0].text == CAPTIONS[0] and parsed[0].entity("circle").attributes == ("red", "small")
    third = annotate(src, out, RuleBasedPlanner(), progress=False)
    assert third.planned == 0 and third.skipped == 5


class _Flaky:
    """A planner that raises on one caption."""

    def __init__(self) -> None:
        self.inner = RuleBasedPlanner()

    def schedule(self, text):
        return self.inner.schedule(text)

    def plan(self, text):
        if "onions" in text:
            raise RuntimeError("boom")
        return self.inner.plan(text)


def test_failures_are_reported_and_not_written(tmp_path):
    src = write_captions(tmp_path / "c.jsonl", CAPTIONS)
    out = tmp_path / "o.jsonl"
    summary = annotate(src, out, _Flaky(), progress=False)
    assert summary.failed == 1 and "c4" in summary.failures and "boom" in summary.failures["c4"]
    assert set(read_annotations(out)) == {"c0", "c1", "c2", "c3"}
    assert "failed c4" in str(summary)


def test_llm_annotation_concurrent_degraded_retry(make_chat, server, oracle, tmp_path):
    server.latency = 0.03
    captions = [f"The red circle moves left, then the blue square jumps {k} times." for k in range(8)]
    captions += [f"FAIL {k}: the green triangle spins." for k in range(2)]
    broken = {"on": True}
    oracle.fault_when = lambda step, caption: "500" if broken["on"] and caption.startswith("FAIL") else None
    src = write_captions(tmp_path / "c.jsonl", captions)
    out = tmp_path / "o.jsonl"
    planner = LLMPlanner(make_chat(timeout=2.0, max_concurrency=6), polish=False)
    s1 = annotate(src, out, planner, concurrency=6, progress=False)
    assert (s1.planned, s1.degraded, s1.failed) == (10, 2, 0)
    assert server.max_in_flight > 1  # prompts really ran concurrently
    assert s1.usage is not None and s1.usage["calls"] > 10 and "cost" in str(s1)
    rows = read_annotations(out)
    assert len(rows) == 10 and all(r["provenance"]["degraded"] for i, r in rows.items() if i in ("c8", "c9"))
    server.reset()
    s2 = annotate(src, out, planner, progress=False)
    assert s2.planned == 0 and server.count == 0  # resumable: nothing finished is redone
    broken["on"] = False
    s3 = annotate(src, out, planner, retry_degraded=True, progress=False)
    assert s3.planned == 2 and s3.degraded == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 10  # compacted: one line per id
    assert not any(json.loads(line)["provenance"]["degraded"] for line in lines)


def test_caption_file_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "caption": "ok"}\nnot json\n')
    with pytest.raises(DysenInputError, match=r"bad\.jsonl:2"):
        read_captions(bad)
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "a", "caption": "x"}\n{"id": "a", "caption": "y"}\n')
    with pytest.raises(DysenInputError, match="duplicate id"):
        read_captions(dup)
    nofield = tmp_path / "nofield.jsonl"
    nofield.write_text('{"id": "a", "words": "x"}\n')
    with pytest.raises(DysenInputError, match="needs a string field"):
        read_captions(nofield)
    with pytest.raises(DysenInputError, match="concurrency"):
        annotate(nofield, tmp_path / "o.jsonl", RuleBasedPlanner(), concurrency=0)


# -- CLI hooks -------------------------------------------------------------------------------------------
def test_cli_annotate_rule_and_llm(tmp_path, server, monkeypatch, capsys):
    src = write_captions(tmp_path / "c.jsonl", CAPTIONS[:2])
    assert cli.main(["annotate", str(src), str(tmp_path / "rule.jsonl"), "--no-progress"]) == 0
    assert len((tmp_path / "rule.jsonl").read_text().splitlines()) == 2
    monkeypatch.setenv("TEST_LLM_KEY", "k-123")
    args = [
        "annotate", str(src), str(tmp_path / "llm.jsonl"), "--no-progress", "--planner", "llm",
        "--model", "test-model", "--base-url", server.base_url, "--api-key-env", "TEST_LLM_KEY",
        "--cache", str(tmp_path / "cache.sqlite"), "--no-polish", "--timeout", "2",
    ]  # fmt: skip
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "planned now: 2" in out and "cost:" in out
    rows = read_annotations(tmp_path / "llm.jsonl")
    assert all(r["provenance"]["producer"] == "LLMPlanner(openai:test-model)" for r in rows.values())
    # the hooks work on a parser the lead builds
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    cli.add_annotate_arguments(sub.add_parser("annotate"))
    ns = parser.parse_args(["annotate", "a.jsonl", "b.jsonl", "--planner", "llm", "--selector", "nearest"])
    assert ns.planner == "llm" and ns.selector == "nearest" and ns.concurrency == 8


def test_cli_errors_are_reported(tmp_path, capsys):
    src = write_captions(tmp_path / "c.jsonl", CAPTIONS[:1])
    code = cli.main(["annotate", str(src), str(tmp_path / "o.jsonl"), "--planner", "llm", "--backend", "transformers"])
    assert code == 2 and "--model-path" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A tiny random BERT with the MiniLM tokenizer: fast stand-in for the real encoder."""
    import torch
    from transformers import BertConfig, BertModel

    src = default_encoder_path()
    path = tmp_path_factory.mktemp("tiny-bert")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, path / name)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    BertModel(cfg).save_pretrained(path)
    return path


def test_cli_train_and_eval_selector(tmp_path, server, monkeypatch, capsys, tiny_encoder):
    monkeypatch.setenv("TEST_LLM_KEY", "k")
    common = [
        "--model", "test-model", "--base-url", server.base_url, "--api-key-env", "TEST_LLM_KEY",
        "--encoder", str(tiny_encoder), "--split", "test", "--num-demos", "2", "--timeout", "2",
    ]  # fmt: skip
    policy = tmp_path / "policy.safetensors"
    assert cli.main(["train-selector", "--out", str(policy), "--epochs", "1", "--batch-size", "10", *common]) == 0
    assert policy.exists()
    out = capsys.readouterr().out
    assert out.count('"reward"') == 3  # 30 held-out captions in batches of 10
    assert cli.main(["eval-selector", "--selector", "policy", "--policy", str(policy), *common]) == 0
    scores = json.loads(capsys.readouterr().out.splitlines()[0])
    assert scores["selector"] == "policy" and scores["num_examples"] == 30
    assert scores["triplet"] > 0.8  # the oracle answers Step I like the rule-based planner


def test_cli_overlap_option(tmp_path, capsys):
    paragraph = "A man is standing in a gym talking to the camera. He grabs a rope. He pulls the rope down."
    src = write_captions(tmp_path / "c.jsonl", [paragraph])
    for flag, name in (([], "plain"), (["--overlap"], "overlap")):
        assert cli.main(["annotate", str(src), str(tmp_path / f"{name}.jsonl"), "--no-progress", *flag]) == 0
    plain = next(iter(read_annotations(tmp_path / "plain.jsonl").values()))
    spanned = next(iter(read_annotations(tmp_path / "overlap.jsonl").values()))
    # the shipped model lets grabbing go on while he pulls (the plain planner: one after the other)
    assert plain["schedule"]["events"] != spanned["schedule"]["events"]
    assert [e[3] for e in plain["schedule"]["events"]] == [e[3] for e in spanned["schedule"]["events"]]  # starts
    assert "ActivityNet" in spanned["provenance"]["meta"]["overlap"] and "overlap" not in plain["provenance"]["meta"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    code = cli.main(["annotate", str(src), str(tmp_path / "o.jsonl"), "--overlap", str(bad)])
    assert code == 2 and "bad.json: not an overlap model" in capsys.readouterr().err
