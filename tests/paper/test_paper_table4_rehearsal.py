"""The Table 4 command end to end at an extremely small budget: one variant, one seed, one optimiser step.

Checks the plumbing (world cache, stage I, planning, training, export, evaluation with planned and gold DSGs,
table, plot, JSON), that a rerun resumes instead of retraining, and that another budget is refused.
"""

import json

import pytest
import table4_ablations
from paperbench.budgets import BudgetError

TINY = ["--budget", "tiny", "--seeds", "0", "--variants", "dysen-vdm", "--vae-steps", "1", "--steps", "1"]
TINY += ["--eval-num", "1", "--eval-steps", "1"]


def test_table4_rehearsal_one_variant_one_seed(tmp_path, capsys):
    out, res = tmp_path / "work", tmp_path / "results"
    args = [*TINY, "--out", str(out), "--results", str(res)]
    summary = table4_ablations.main(args)

    run = out / "runs" / "dysen-vdm" / "seed-0"
    result = json.loads((run / "result.json").read_text())
    assert result["steps"] == 1 and result["device"] in ("cpu", "cuda")
    assert set(result["eval"]) == {"level3", "level3-gold"}  # planned DSGs, and the gold-DSG oracle
    for metrics in result["eval"].values():
        assert metrics["videos"] == 1
        assert all(0.0 <= metrics[k] <= 1.0 for k in ("trirec", "clean", "faithfulness"))
    assert summary["level3"]["dysen-vdm"]["seeds"] == [0]

    md = (res / "table4.md").read_text()
    assert "| Dysen-VDM | 1 | 1 |" in md and "gold DSGs (oracle)" in md and "REHEARSAL" in md
    assert (res / "table4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stored = json.loads((res / "table4.json").read_text())
    assert stored["budget"]["steps"] == 1 and len(stored["runs"]) == 1

    # resume: nothing is trained or evaluated again
    stamp = (run / "result.json").stat().st_mtime_ns
    capsys.readouterr()
    table4_ablations.main(args)
    assert "1 runs finished before, 0 to do" in capsys.readouterr().out
    assert (run / "result.json").stat().st_mtime_ns == stamp

    # another budget in the same folder is refused, naming what differs
    with pytest.raises(BudgetError, match=r"steps"):
        table4_ablations.main([*args[:-4], "--steps", "2", "--out", str(out), "--results", str(res)])
