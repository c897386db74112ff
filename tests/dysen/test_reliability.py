"""Issue 15: secrets never reach outputs, input bounds resource use, deadlines, retries (dysen side)."""

from __future__ import annotations

import json
import time

import pytest
import torch

from dysen import BackendError, ConfigurationError, DysenInputError
from dysen.annotation import annotate
from dysen.chat import ChatRequest, OpenAIChatModel, run_sync
from dysen.chat.openai_backend import _retry_after
from dysen.errors import ResponseTooLargeError, redact_secrets
from dysen.llm.planner import LLMPlanner
from dysen.testing import FakeChatServer, Reply

API_KEY = "sk-test-SECRET-0123456789"
TWO = "The small red circle moves left, then the blue square jumps."
REQ = ChatRequest(({"role": "user", "content": "hi"},))


def _chat(server: FakeChatServer, **kw) -> OpenAIChatModel:
    opts = {"base_url": server.base_url, "api_key": API_KEY, "timeout": 2.0, "max_retries": 1}
    opts.update(kw)
    return OpenAIChatModel("test-model", **opts)


# -- secrets ------------------------------------------------------------------------------------------------
def test_redact_secrets_patterns():
    assert "0123" not in redact_secrets(f"Incorrect API key provided: {API_KEY}.")
    assert redact_secrets("Authorization: Bearer abc.def-123").count("abc") == 0
    assert redact_secrets("the key PLAINKEY123 leaked", ["PLAINKEY123"]) == "the key [REDACTED] leaked"
    assert redact_secrets("a risk-free desk-top task") == "a risk-free desk-top task"


def test_401_echoing_the_key_is_redacted_everywhere(tmp_path):
    key = "opaque-key-without-prefix-42"  # not shaped like sk-...: only the configured key can catch it

    def handler(request):
        return Reply(status=401, content=f"Incorrect API key provided: {key} (also {API_KEY}); Bearer {key}")

    with FakeChatServer(handler) as server:
        planner = LLMPlanner(_chat(server, api_key=key))
        d = planner.plan(TWO)
        notes = " ".join(d.provenance.degraded)
        assert "backend error (bad_request)" in notes and "HTTP 401" in notes
        assert key not in notes and "0123456789" not in notes and "[REDACTED]" in notes
        caps = tmp_path / "caps.jsonl"
        caps.write_text(json.dumps({"id": "a", "caption": TWO}) + "\n")
        out = tmp_path / "out.jsonl"
        annotate(caps, out, planner, progress=False)
        text = out.read_text()
        assert key not in text and "0123456789" not in text
        with pytest.raises(BackendError) as err:
            run_sync(_chat(server, api_key=key).acomplete(REQ))
        assert key not in str(err.value)


# -- bounded input ------------------------------------------------------------------------------------------
def test_huge_response_is_not_read_and_not_retried():
    with FakeChatServer(lambda r: Reply(content="x" * 200_000)) as server:
        chat = _chat(server, max_response_bytes=10_000, max_retries=3)
        with pytest.raises(ResponseTooLargeError, match="max_response_bytes=10000"):
            run_sync(chat.acomplete(REQ), close=chat)
        assert server.count == 1
        d = LLMPlanner(_chat(server, max_response_bytes=10_000)).plan(TWO)
        assert any("too_large" in n for n in d.provenance.degraded)
    with pytest.raises(ConfigurationError, match="max_response_bytes"):
        OpenAIChatModel("m", base_url="http://127.0.0.1:9/v1", api_key="k", max_response_bytes=0)


def test_policy_metadata_is_checked_before_allocating(tmp_path):
    from safetensors.torch import save_file

    from dysen.selection.policy import FORMAT, load_policy

    path = tmp_path / "evil.safetensors"
    meta = {"format": FORMAT, "dim": str(10**7), "hidden": str(10**6)}  # 40 TB of float32
    save_file({"proj.weight": torch.zeros(2, 3)}, str(path), metadata=meta)
    with pytest.raises(ConfigurationError, match="outside"):
        load_policy(path)
    save_file({"proj.weight": torch.zeros(2, 3)}, str(path), metadata={**meta, "dim": "300", "hidden": "200"})
    with pytest.raises(ConfigurationError, match=r"shape \[2, 3\]"):
        load_policy(path)
    save_file({"proj.weight": torch.zeros(2, 3)}, str(path), metadata={**meta, "dim": "x"})
    with pytest.raises(ConfigurationError, match="must be an integer"):
        load_policy(path)


def test_prompt_length_is_bounded(make_chat, server):
    planner = LLMPlanner(make_chat(), max_prompt_chars=100)
    with pytest.raises(DysenInputError, match="max_prompt_chars=100"):
        planner.plan("The circle moves. " * 10)
    assert server.count == 0
    with pytest.raises(DysenInputError, match="max_prompt_chars"):
        LLMPlanner(make_chat()).plan("a" * 2001)  # the documented default: 2,000 characters


def test_fallback_schedule_respects_max_steps_and_makes_no_more_calls():
    long_text = " Then ".join(f"the {c} circle moves left" for c in ("red", "blue", "green", "pink", "grey", "gold"))
    with FakeChatServer(lambda r: Reply(status=500, content="down")) as server:
        d = LLMPlanner(_chat(server, max_retries=0), max_steps=3).plan(long_text)
        assert server.count == 1  # Step I failed: no Step III calls for this prompt
        assert max(e.end for e in d.schedule.events) <= 3
        notes = " | ".join(d.provenance.degraded)
        assert "ending after max_steps=3" in notes and d.provenance.steps[0] == "plan(fallback:RuleBasedPlanner)"


def test_step1_failure_stops_later_calls_but_keeps_offline_imagination():
    with FakeChatServer(lambda r: Reply(status=503, content="unavailable")) as server:
        chat = _chat(server, max_retries=1)
        d = LLMPlanner(chat).plan(TWO)
        assert server.count == 2  # one attempt and its retry, then nothing more
        assert d.provenance.steps == (
            "plan(fallback:RuleBasedPlanner)",
            "schedule_to_dsg",
            "imagine(fallback:RuleBasedPlanner)",
        )
        meta = dict(d.provenance.meta)
        assert meta["calls"] == "0" and meta["attempts"] == "2"
        assert chat.meter.attempts == 2


# -- deadlines and Retry-After --------------------------------------------------------------------------------
def test_per_prompt_deadline_against_a_hanging_server():
    with FakeChatServer(lambda r: Reply(content="{}", delay=3.0)) as server:
        planner = LLMPlanner(_chat(server, timeout=10.0), deadline=0.4)
        t0 = time.monotonic()
        d = planner.plan(TWO)
        assert time.monotonic() - t0 < 2.0
        assert server.count == 1
        assert any("deadline of 0.4 s" in n for n in d.provenance.degraded)
        assert d.provenance.steps[0] == "plan(fallback:RuleBasedPlanner)"
    with pytest.raises(DysenInputError, match="deadline"):
        LLMPlanner(planner.chat, deadline=0)
    assert LLMPlanner(planner.chat).deadline == 300.0  # documented default


def test_retry_after_is_capped(make_chat, server, oracle):
    calls = {"n": 0}

    def handler(request):
        calls["n"] += 1
        if calls["n"] == 1:
            return Reply(status=429, content="slow down", headers={"retry-after-ms": "120000"})
        return oracle(request)

    server.handler = handler
    chat = make_chat(max_retry_after=0.05, timeout=2.0)
    t0 = time.monotonic()
    d = LLMPlanner(chat, imagination=False).plan(TWO)
    assert time.monotonic() - t0 < 2.0 and server.count == 2 and not d.provenance.degraded
    assert dict(d.provenance.meta)["attempts"] == "2" and dict(d.provenance.meta)["calls"] == "1"


def test_retry_after_header_parsing():
    class R:
        def __init__(self, **h):
            self.headers = h

    assert _retry_after(R(**{"retry-after": "120"})) == 120.0
    assert _retry_after(R(**{"retry-after-ms": "250"})) == 0.25
    assert _retry_after(R(**{"retry-after": "soon"})) is None
    assert _retry_after(R()) is None
    assert _retry_after(R(**{"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"})) > 0
