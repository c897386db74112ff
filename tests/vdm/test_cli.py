"""The dysen-vdm command line: plan, generate (prompt and edited DSG), clear errors."""

import json

import torch
from vdm_fixtures import make_graph as _graph

import dsg
from vdm.cli import main


def test_plan_writes_json_and_picture(tmp_path, capsys):
    assert main(["plan", "Before the blue square jumps, the red circle moves left.", "--out", str(tmp_path)]) == 0
    graph = dsg.load_json(tmp_path / "dsg.json")
    preds = [e.predicate for e in graph.schedule.events]
    assert preds == ["move left", "jump"]  # physical order, not mention order
    assert (tmp_path / "dsg.png").read_bytes()[:4] == b"\x89PNG"
    assert "planned 2 events" in capsys.readouterr().out


def test_generate_from_prompt_and_from_edited_dsg(pipe, tmp_path, capsys):
    model = tmp_path / "model"
    pipe.save_pretrained(model)
    out = tmp_path / "out"
    args = [
        "generate",
        "the red circle moves left, then the blue square jumps",
        "--model",
        str(model),
        "--out",
        str(out),
        "--steps",
        "2",
        "--interpolate",
        "1",
    ]
    assert main(args) == 0
    for name in ("video.mp4", "video.gif", "dsg.json", "dsg.png", "strip.png"):
        assert (out / name).stat().st_size > 0
    assert "generated 7 frames" in capsys.readouterr().out  # 4 keyframes, x2 once
    edited = _graph("grow", "shrink")
    dsg.save_json(edited, tmp_path / "edited.json")
    out2 = tmp_path / "out2"
    assert (
        main(
            [
                "generate",
                "--dsg",
                str(tmp_path / "edited.json"),
                "--model",
                str(model),
                "--out",
                str(out2),
                "--steps",
                "2",
                "--interpolate",
                "0",
                "--format",
                "gif",
            ]
        )
        == 0
    )
    used = json.loads((out2 / "dsg.json").read_text())
    assert used["frames"][0]["relations"][0][1] == "grow"


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["generate", "x", "--model", str(tmp_path / "missing")]) == 2
    assert "not a saved DysenVDMPipeline" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model_index.json").write_text("{}")
    assert main(["generate", "--dsg", str(tmp_path / "bad.json"), "--model", str(tmp_path / "m")]) == 2
    assert "cannot read DSG file" in capsys.readouterr().err  # the bad input is named, no traceback
    assert main(["plan", "x", "--planner", "nope:Nope", "--out", str(tmp_path)]) == 2
    assert "cannot load planner" in capsys.readouterr().err
    torch.set_num_threads(torch.get_num_threads())
