"""Tables, plots and resume logic of the paper experiments on fake results (no training)."""

import json
import math

import pytest
import table4_ablations as t4
from paperbench.budgets import BUDGETS, Budget, BudgetError
from paperbench.report import Stat, grouped_bars, line_panels, markdown_table, mean_std
from paperbench.runs import Experiment, Variant

METRIC_KEYS = ("trirec", "trirec_actions", "faithfulness", "order_accuracy", "kendall_tau", "clean")


def fake_result(variant, label, seed, trirec, order):
    metrics = {k: 0.5 for k in METRIC_KEYS} | {"trirec": trirec, "order_accuracy": order, "videos": 4}
    return {
        "variant": variant,
        "label": label,
        "seed": seed,
        "steps": 100,
        "final_loss": 0.1,
        "mean_loss_last_10": 0.1,
        "steps_per_s": 2.0,
        "train_minutes": 1.0,
        "device": "cpu",
        "eval_minutes": 0.5,
        "eval": {"level3": metrics},
        "pipeline": "unused",
    }


def test_mean_std_leaves_out_undefined_values_and_formats():
    s = mean_std([0.2, None, math.nan, 0.4])
    assert s.n == 2 and s.mean == pytest.approx(0.3) and s.std == pytest.approx(0.1414213, rel=1e-5)
    assert s.fmt() == "30.0 ± 14.1"
    assert mean_std([0.25]).fmt() == "25.0"  # one value: no spread to report
    assert mean_std([]).fmt() == "n/a" and mean_std([math.nan]).n == 0


def test_markdown_table_rejects_ragged_rows():
    assert markdown_table(["a", "b"], [["x", 1]]).splitlines()[1] == "| --- | ---: |"
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table(["a", "b"], [["x"]])


def test_plots_are_png(tmp_path):
    s = [Stat(0.5, 0.1, 3), Stat(0.2, math.nan, 1), Stat(math.nan, math.nan, 0)]
    grouped_bars(tmp_path / "b.png", ["x", "y", "z"], {"A": s}, points={"A": [[0.4, 0.6], [0.2], []]})
    line_panels(tmp_path / "l.png", [("t", "x", [1, 2, 3], {"A": s})])
    for name in ("b.png", "l.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_table4_summary_goal_check_and_files(tmp_path):
    rows = t4.variants(None)
    results = [
        fake_result("dysen-vdm", "Dysen-VDM", 0, 0.60, 0.70),
        fake_result("dysen-vdm", "Dysen-VDM", 1, 0.70, 0.80),
        fake_result("wo-dysen", "w/o Dysen (text only)", 0, 0.40, 0.60),
        fake_result("wo-dysen", "w/o Dysen (text only)", 1, 0.50, 0.70),
    ]
    budget = BUDGETS["full"]
    summary = t4.write_outputs(results, rows, budget, tmp_path, "python table4_ablations.py")
    dysen = summary["level3"]["dysen-vdm"]
    assert dysen["seeds"] == [0, 1] and dysen["trirec"]["mean"] == pytest.approx(0.65)
    lines = t4.goal_lines(summary, 3)
    assert "TriRec" in lines[0] and "+20.0 points" in lines[0] and "**met**" in lines[0]
    assert "+10.0 points" in lines[1] and "missed by 5.0 points" in lines[1]
    md = (tmp_path / "table4.md").read_text()
    assert "| Dysen-VDM | 2 | 100 | 65.0 ± 7.1 |" in md
    assert "| w/o scene imagination | 0 | - | not run |" in md  # variants without results stay visible
    assert "REHEARSAL" not in md
    assert json.loads((tmp_path / "table4.json").read_text())["summary"]["level3"]["wo-dysen"]["seeds"] == [0, 1]
    assert (tmp_path / "table4.png").exists()


def test_variants_offline_and_with_an_llm():
    from paperbench.planners import LLMSettings

    assert [v.key for v in t4.variants(None)] == ["dysen-vdm", "wo-dysen", "wo-imagination", "wo-swc", "rgnn"]
    keys = [v.planner for v in t4.variants(LLMSettings("http://127.0.0.1:1/v1"))]
    assert keys == ["llm", None, "llm-no-imagination", "llm-no-window", "llm"]  # no policy: no w/o RL-ICL row
    with_policy = t4.variants(LLMSettings("http://127.0.0.1:1/v1", policy="p.safetensors"))
    assert with_policy[-1].key == "wo-rlicl" and with_policy[-1].planner == "llm-random-icl"
    with pytest.raises(ValueError, match="needs a planner"):
        Variant("x", "X", "dsg", None)


def test_experiment_resume_bookkeeping_and_signature(tmp_path):
    rows = t4.variants(None)[:2]
    exp = Experiment("table4", tmp_path, BUDGETS["tiny"], rows, [0, 1])
    jobs = exp.jobs_list("vae")
    assert [(j.variant.key, j.seed) for j in jobs] == [
        ("dysen-vdm", 0),
        ("wo-dysen", 0),
        ("dysen-vdm", 1),
        ("wo-dysen", 1),
    ]
    assert all(j.log is None and j.threads == 0 for j in jobs)  # one job at a time: in this process
    done = jobs[1].run_dir / "result.json"
    done.parent.mkdir(parents=True)
    done.write_text(json.dumps(fake_result("wo-dysen", "w/o Dysen", 0, 0.1, 0.2)))
    assert [r["variant"] for r in exp.results()] == ["wo-dysen"]
    parallel = Experiment("table4", tmp_path, BUDGETS["tiny"], rows, [0], jobs=2).jobs_list("vae")
    assert all(j.log and j.log.endswith("log.txt") and j.threads >= 1 for j in parallel)

    exp.check_signature()
    exp.check_signature()  # same budget: fine
    other = Experiment("table4", tmp_path, BUDGETS["tiny"].override(steps=7), rows, [0])
    with pytest.raises(BudgetError, match=r"\['steps'\]"):
        other.check_signature()


def test_budget_validation_and_overrides():
    b = BUDGETS["gpu9"].override(steps=5, minutes=None)  # None: "not given", keeps the preset's value
    assert b.steps == 5 and b.minutes == BUDGETS["gpu9"].minutes
    assert b.train_config()["mixed_precision"] == "bf16"
    with pytest.raises(BudgetError, match="steps"):
        Budget("x", steps=0)
    with pytest.raises(BudgetError, match="eval_levels"):
        Budget("x", eval_levels=(7,))
    with pytest.raises(BudgetError, match="unknown budget fields"):
        BUDGETS["tiny"].override(stepz=1)
