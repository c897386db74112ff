"""Chat backends: response cache, cassettes, credentials hygiene, configuration errors, local transformers."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3

import pytest

from dysen import BackendError, CassetteMissError, ConfigurationError, DysenInputError
from dysen.chat import (
    CachedChatModel,
    CassetteChatModel,
    ChatModel,
    ChatRequest,
    ChatResponse,
    OpenAIChatModel,
    ResponseCache,
    TransformersChatModel,
    Usage,
    request_key,
    run_sync,
)
from dysen.llm.planner import LLMPlanner

API_KEY = "sk-test-SECRET-0123456789"  # the key tests/dysen/conftest.py gives every client
TWO = "The small red circle moves left, then the blue square jumps."


def test_request_validation_and_key():
    req = ChatRequest(({"role": "user", "content": "hi"},), tag="x")
    same = ChatRequest(({"role": "user", "content": "hi"},), tag="other tag")
    assert request_key("m", req) == request_key("m", same)  # tags are not part of the key
    assert request_key("m", req) != request_key("m2", req)
    assert request_key("m", req) != request_key("m", ChatRequest(req.messages, temperature=0.5))
    with pytest.raises(DysenInputError, match="messages"):
        ChatRequest(())
    with pytest.raises(DysenInputError, match=r"messages\[0\]"):
        ChatRequest(({"role": "robot", "content": "hi"},))


# -- the SQLite response cache ---------------------------------------------------------------------------
def test_cache_rerun_costs_zero_calls(make_chat, server, tmp_path):
    path = tmp_path / "cache.sqlite"
    first = LLMPlanner(CachedChatModel(make_chat(), path)).plan(TWO)
    calls = server.count
    assert calls == 4
    chat = CachedChatModel(make_chat(), ResponseCache(path))
    again = LLMPlanner(chat).plan(TWO)
    assert server.count == calls  # nothing reached the server
    assert again.frames == first.frames and again.entities == first.entities
    assert dict(again.provenance.meta)["cached_calls"] == "4"
    assert chat.meter.cache_hits == 4 and chat.meter.calls == 0
    assert len(chat.cache) == 4


def test_interrupted_run_keeps_finished_answers(make_chat, server, oracle, tmp_path):
    path = tmp_path / "cache.sqlite"
    oracle.add_faults("polish", ["500", "500"])  # the last call of the prompt dies after its retry
    d = LLMPlanner(CachedChatModel(make_chat(), path)).plan(TWO)
    assert any("polish" in n for n in d.provenance.degraded)
    server.reset()
    healed = LLMPlanner(CachedChatModel(make_chat(), path)).plan(TWO)
    assert server.count == 1  # only the polish is asked again
    assert not healed.provenance.degraded


def test_cache_never_stores_the_key(make_chat, tmp_path):
    path = tmp_path / "c.sqlite"
    LLMPlanner(CachedChatModel(make_chat(), path), imagination=False).plan(TWO)
    blob = path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("c.sqlite*"))
    assert API_KEY.encode() not in blob
    rows = sqlite3.connect(path).execute("SELECT key, model FROM responses").fetchall()
    assert rows and all(len(k) == 64 and m == "openai:test-model" for k, m in rows)


def test_damaged_cache_row_is_a_miss(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put("k", "m", ChatResponse("hello", Usage(1, 1)))
    assert cache.get("k").text == "hello" and cache.get("k").cached
    cache._db.execute("UPDATE responses SET response = 'not json' WHERE key = 'k'")
    assert cache.get("k") is None


# -- cassettes -------------------------------------------------------------------------------------------
def test_cassette_record_then_replay_without_server(make_chat, server, tmp_path):
    path = tmp_path / "run.cassette.jsonl"
    recorded = LLMPlanner(CassetteChatModel(path, make_chat(), mode="record")).plan(TWO)
    assert len(path.read_text().splitlines()) == 4
    assert API_KEY not in path.read_text()
    server.close()  # no server any more
    replay = CassetteChatModel(path, mode="replay")
    assert replay.model_id == "openai:test-model" and len(replay) == 4
    again = LLMPlanner(replay).plan(TWO)
    assert again.frames == recorded.frames and not again.provenance.degraded


def test_cassette_miss_is_a_backend_error_and_degrades(make_chat, tmp_path):
    path = tmp_path / "c.jsonl"
    LLMPlanner(CassetteChatModel(path, make_chat(), mode="record"), imagination=False).plan(TWO)
    replay = CassetteChatModel(path, mode="replay")
    with pytest.raises(CassetteMissError):
        asyncio.run(replay.acomplete(ChatRequest(({"role": "user", "content": "unseen"},))))
    d = LLMPlanner(replay, imagination=False).plan("The green triangle spins.")
    assert d.provenance.steps[0].startswith("plan(fallback")
    assert any("cassette_miss" in n for n in d.provenance.degraded)


def test_cassette_auto_and_bad_files(make_chat, server, tmp_path):
    path = tmp_path / "auto.jsonl"
    LLMPlanner(CassetteChatModel(path, make_chat(), mode="auto"), imagination=False).plan(TWO)
    LLMPlanner(CassetteChatModel(path, make_chat(), mode="auto"), imagination=False).plan(TWO)
    assert server.count == 1
    with path.open("a") as fh:
        fh.write('{"key": "trunc')  # an interrupted recording
    assert len(CassetteChatModel(path, mode="replay")) == 1
    with pytest.raises(ConfigurationError, match="inner"):
        CassetteChatModel(path, mode="record")
    with pytest.raises(ConfigurationError, match="does not exist"):
        CassetteChatModel(tmp_path / "missing.jsonl", mode="replay")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n" + path.read_text())
    with pytest.raises(ConfigurationError, match="bad.jsonl:1"):
        CassetteChatModel(bad, mode="replay")


# -- credentials and configuration ---------------------------------------------------------------------------
def test_key_from_environment_and_never_logged(server, monkeypatch, caplog):
    monkeypatch.setenv("MY_LLM_KEY", API_KEY)
    chat = OpenAIChatModel("test-model", base_url=server.base_url, api_key_env="MY_LLM_KEY", timeout=1)
    with caplog.at_level(logging.DEBUG):
        LLMPlanner(chat, imagination=False).plan(TWO)
    assert server.headers[0]["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(chat) and API_KEY not in chat.model_id and API_KEY not in str(vars(chat))


def test_configuration_errors(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        OpenAIChatModel("gpt-4o-mini")
    local = OpenAIChatModel("llama3", base_url="http://127.0.0.1:9/v1")  # local servers need no key
    assert isinstance(local, ChatModel)
    with pytest.raises(ConfigurationError, match="structured_output"):
        OpenAIChatModel("m", base_url="http://x/v1", structured_output="yes")


def test_unreachable_server_is_a_backend_error():
    chat = OpenAIChatModel("m", base_url="http://127.0.0.1:9/v1", timeout=0.3, max_retries=0)
    with pytest.raises(BackendError) as err:
        run_sync(chat.acomplete(ChatRequest(({"role": "user", "content": "hi"},))))
    assert err.value.kind == "connection"


def test_run_sync_inside_a_running_loop(make_chat, server):
    planner = LLMPlanner(make_chat(), imagination=False)

    async def notebook_cell():
        return planner.plan(TWO)  # sync API called from async code (Jupyter): no nested-loop error

    d = asyncio.run(notebook_cell())
    assert len(d.schedule) == 2


# -- local transformers model -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<s>", "</s>"]
    words = [*specials, *'{}[]:,"', "the", "a", "circle", "moves", "left", "events", "agent", "input"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    hf.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    cfg = LlamaConfig(
        vocab_size=len(words),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-llama")
    hf.save_pretrained(path)
    LlamaForCausalLM(cfg).save_pretrained(path)
    return path


def test_transformers_backend_generates_with_chat_template(tiny_model_dir):
    chat = TransformersChatModel(tiny_model_dir, model_id="tiny")
    req = ChatRequest(
        ({"role": "system", "content": "be brief"}, {"role": "user", "content": "the circle"}), max_tokens=6
    )
    out = run_sync(chat.acomplete(req))
    assert out.usage.completion_tokens == 6 and out.usage.prompt_tokens > 4
    assert out.model == "tiny" and out.finish_reason == "length" and isinstance(out.text, str)
    again = run_sync(chat.acomplete(req))
    assert again.text == out.text  # greedy decoding is deterministic
    assert chat.meter.calls == 2


def test_transformers_backend_in_the_planner_degrades_cleanly(tiny_model_dir):
    chat = TransformersChatModel(tiny_model_dir)
    d = LLMPlanner(chat, num_demos=1, imagination=False, max_tokens=8).plan(TWO)
    assert d.provenance.steps[0] == "plan(fallback:RuleBasedPlanner)"  # a random model answers no JSON
    assert any("invalid answer" in n for n in d.provenance.degraded)
    assert chat.meter.calls == 2  # the answer and its one repair
    assert [e.predicate for e in d.schedule.events] == ["move left", "jump"]


def test_transformers_backend_missing_model(tmp_path):
    from dysen import ModelNotFoundError

    chat = TransformersChatModel(tmp_path / "nothing-here")
    with pytest.raises(ModelNotFoundError):
        run_sync(chat.acomplete(ChatRequest(({"role": "user", "content": "x"},))))


def test_cassette_rows_are_readable_json(make_chat, tmp_path):
    path = tmp_path / "c.jsonl"
    LLMPlanner(CassetteChatModel(path, make_chat(), mode="record"), imagination=False).plan(TWO)
    row = json.loads(path.read_text().splitlines()[0])
    assert set(row) == {"key", "model", "request", "response"}
    assert row["request"]["messages"][0]["role"] == "system"
    assert row["response"]["usage"]["prompt_tokens"] > 0
