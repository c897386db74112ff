"""The CPU Table 4 command (``benchmarks/paper/table4_cpu.py``): which recipe commands each variant runs.

The trainings themselves are the recipe's (tests/slots/test_slot_model.py runs every stage at toy size);
here: the clip-timed variants read retimed data folders made from the right base folder, the text-only row
is the same run either way, and the report renders what is there.
"""

import json
from pathlib import Path

import table4_cpu


def test_clip_timed_variants_read_retimed_data():
    timed = table4_cpu._timed(table4_cpu.VARIANTS["dysen-vdm"], "dysen-vdm")
    assert timed["data"] == ["--data-name", "data-timed", "--retime", "data"]
    assert timed["train"] == ["--recurrence", "paper", "--data-name", "data-timed"] and timed["base"] == []
    noimg = table4_cpu._timed(table4_cpu.VARIANTS["wo-imagination"], "wo-imagination")
    assert noimg["data"] == ["--data-name", "data-noimagine-timed", "--retime", "data-noimagine"]
    assert noimg["train"][noimg["train"].index("--data-name") + 1] == "data-noimagine-timed"
    assert "--replan" in noimg["base"]  # the un-timed folder is planned without imagination first
    scan = table4_cpu._timed(table4_cpu.VARIANTS["scan"], "scan")
    assert scan["train"] == ["--recurrence", "scan", "--data-name", "data-timed"]
    assert table4_cpu._timed(table4_cpu.VARIANTS["wo-dysen"], "wo-dysen") is table4_cpu.VARIANTS["wo-dysen"]


def test_report_lists_each_variant_found(tmp_path):
    scores = {"clean": 0.5, "trirec": 0.4, "trirec_actions": 0.6, "faithfulness": 0.7}
    scores |= {"order_accuracy_multi": 0.8, "shape_accuracy": 0.9}
    level = {"faithfulness": 0.7, "order_accuracy_multi": 0.8}
    row = {"all": scores, "level1": level, "level2": level, "level3": level, "swap_order_drop_multi": 0.3}
    (tmp_path / "scan.json").write_text(json.dumps(row))
    md = table4_cpu.report(tmp_path, ["dysen-vdm", "scan"], 2000)
    assert "| RGTrm, scan recurrence | 0.500 | 0.600 | 0.700 | 0.800 | 0.900 | 0.300 |" in md
    assert "Dysen-VDM" not in md


def test_recurrence_decision_runs_paper_and_scan_with_a_seed(tmp_path, monkeypatch):
    """The issue-16 command: ``--variants dysen-vdm scan --clip-times --seed 1`` trains and evaluates two runs."""
    (tmp_path / "data-timed").mkdir()
    (tmp_path / "data-timed" / "slots.safetensors").write_bytes(b"")
    calls: list[list[str]] = []

    def fake_run(cmd, log):
        calls.append(cmd)
        if "evaluate" in cmd:
            row = {"clean": 0.5, "trirec": 0.4, "trirec_actions": 0.6, "faithfulness": 0.7}
            row |= {"order_accuracy_multi": 0.8, "shape_accuracy": 0.9}
            Path(cmd[cmd.index("--json") + 1]).write_text(json.dumps({"all": row}))

    monkeypatch.setattr(table4_cpu, "_run", fake_run)
    argv = ["--root", str(tmp_path), "--results", str(tmp_path / "res"), "--clip-times", "--seed", "1"]
    assert table4_cpu.main([*argv, "--variants", "dysen-vdm", "scan", "--jobs", "1"]) == 0
    trains = [c for c in calls if "denoiser" in c]
    assert [c[c.index("--name") + 1] for c in trains] == ["t4t-dysen-vdm-s1", "t4t-scan-s1"]
    assert all(c[c.index("--seed") + 1] == "1" and "data-timed" in c for c in trains)
    assert [c[c.index("--recurrence") + 1] for c in trains] == ["paper", "scan"]
    assert not any("data" in c[3:4] for c in calls)  # the clip-timed data folder exists: no data stage
