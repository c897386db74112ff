"""Issue 15, vdm side: a model folder does not run code; bad CLI input is a clear exit 2; checkpoints check shapes."""

from __future__ import annotations

import json

import pytest
import torch

import dsg
from vdm.cli import main
from vdm.pipelines import (
    DysenVDMPipeline,
    PlannerSpecError,
    UntrustedPlannerError,
    load_planner,
    register_planner,
)
from vdm.pipelines.planner_spec import registered_planners, unregister_planner
from vdm.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def model_dir(pipe, tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    pipe.save_pretrained(path)
    return path


def _evil_copy(model_dir, tmp_path, marker):
    import shutil

    evil = tmp_path / "evil"
    shutil.copytree(model_dir, evil)
    index = json.loads((evil / "model_index.json").read_text())
    index["planner_spec"] = "subprocess:run"
    index["planner_kwargs"] = {"args": ["touch", str(marker)]}
    (evil / "model_index.json").write_text(json.dumps(index))
    return evil


# -- a model folder runs no code ------------------------------------------------------------------------------
def test_untrusted_planner_spec_in_a_model_folder_is_refused(model_dir, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = _evil_copy(model_dir, tmp_path, marker)
    code = main(["generate", "x", "--model", str(evil), "--out", str(tmp_path / "o"), "--steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "subprocess:run" in err and "--trust-remote-code" in err and "Traceback" not in err
    assert not marker.exists()
    pipe = DysenVDMPipeline.from_pretrained(str(evil))  # library: loads, but the planner is refused
    with pytest.raises(UntrustedPlannerError, match="subprocess:run"):
        pipe.planner  # noqa: B018
    assert not marker.exists()
    trusted = DysenVDMPipeline.from_pretrained(str(evil), trust_remote_code=True)
    with pytest.raises(PlannerSpecError, match="not a planner"):  # it ran (that is what trust means) ...
        trusted.planner  # noqa: B018
    assert marker.exists()  # ... so only ever pass trust_remote_code for folders you trust


def test_registered_planners_load_without_trust():
    assert {"dysen:RuleBasedPlanner", "dysen:LLMPlanner"} <= set(registered_planners())
    assert isinstance(load_planner("dysen:RuleBasedPlanner"), dsg.Planner)
    with pytest.raises(UntrustedPlannerError, match="register_planner"):
        load_planner("json:loads")

    class Mine:
        def schedule(self, text):
            return load_planner().schedule(text)

        def plan(self, text):
            return load_planner().plan(text)

    register_planner("tests:Mine", Mine)
    register_planner("tests:Lazy", "dysen.rule_based.planner:RuleBasedPlanner")
    try:
        assert isinstance(load_planner("tests:Mine"), Mine)
        assert type(load_planner("tests:Lazy", imagine=False)).__name__ == "RuleBasedPlanner"
        with pytest.raises(PlannerSpecError, match="already registered"):
            register_planner("tests:Mine", object)
        with pytest.raises(PlannerSpecError, match="built-in"):
            register_planner("dysen:RuleBasedPlanner", Mine, overwrite=True)
    finally:
        unregister_planner("tests:Mine")
        unregister_planner("tests:Lazy")
    assert "tests:Mine" not in registered_planners()


def test_plan_cli_needs_trust_for_unregistered_specs(tmp_path, capsys):
    assert main(["plan", "x", "--planner", "json:loads", "--out", str(tmp_path)]) == 2
    assert "--trust-remote-code" in capsys.readouterr().err


def test_vdm_never_imports_dysen_at_module_level():
    import subprocess
    import sys

    code = "import sys, vdm.pipelines, vdm.cli, vdm.training.cli; print('dysen' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- CLI inputs -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra",
    [
        ["--steps", "0"],
        ["--steps", "-5"],
        ["--frames", "0"],
        ["--guidance", "nan"],
        ["--guidance", "inf"],
        ["--interpolate", "-1"],
        ["--fps", "0"],
    ],
)
def test_generate_rejects_bad_numbers(extra, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "x", "--out", str(tmp_path / "o"), *extra])
    assert exc.value.code == 2
    assert extra[0] in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--num", "0"],
        ["evaluate", "--batch-size", "0"],
        ["evaluate", "--steps", "0"],
        ["evaluate", "--level", "9"],
        ["train", "--batch-size", "0"],
        ["train", "--max-steps", "-1"],
        ["annotate", "a.jsonl", "b.jsonl", "--limit", "-1"],
        ["annotate", "a.jsonl", "b.jsonl", "--concurrency", "0"],
        ["annotate", "a.jsonl", "b.jsonl", "--timeout", "nan"],
    ],
)
def test_other_commands_reject_bad_numbers(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and argv[-2] in capsys.readouterr().err


def test_out_that_is_a_file_or_under_a_file(model_dir, tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    for out in (f, f / "sub"):
        assert main(["generate", "x", "--model", str(model_dir), "--out", str(out), "--steps", "1"]) == 2
        err = capsys.readouterr().err
        assert "--out" in err and "file" in err and "Traceback" not in err
        assert main(["plan", "x", "--out", str(out)]) == 2
        assert "--out" in capsys.readouterr().err
    assert f.read_text() == "keep me"


def test_damaged_model_folders(model_dir, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    (bad / "model_index.json").write_text('{"_class_name": "DysenVDMP')
    assert main(["generate", "x", "--model", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    (bad / "model_index.json").write_text("{}")
    assert main(["generate", "x", "--model", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "does not describe a dysen-vdm pipeline" in capsys.readouterr().err
    shutil.copy(model_dir / "model_index.json", bad / "model_index.json")
    weights = next((bad / "denoiser").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated
    assert main(["generate", "x", "--model", str(bad), "--out", str(tmp_path / "o"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot load the pipeline" in err and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda(model_dir, tmp_path, capsys):
    assert main(["generate", "x", "--model", str(model_dir), "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_plan_refuses_to_overwrite(tmp_path, capsys):
    assert main(["plan", "The circle moves left.", "--out", str(tmp_path)]) == 0
    before = (tmp_path / "dsg.json").read_text()
    assert main(["plan", "The square jumps.", "--out", str(tmp_path)]) == 2
    assert "--overwrite" in capsys.readouterr().err and (tmp_path / "dsg.json").read_text() == before
    assert main(["plan", "The square jumps.", "--out", str(tmp_path), "--overwrite"]) == 0
    assert (tmp_path / "dsg.json").read_text() != before


def test_annotate_exit_code_reaches_the_shell(tmp_path, capsys):
    src = tmp_path / "c.jsonl"
    src.write_text(json.dumps({"id": "a", "caption": "The circle moves."}) + "\n")
    out = tmp_path / "o.jsonl"
    assert main(["annotate", str(src), str(out), "--no-progress"]) == 0
    assert main(["annotate", str(src), str(src), "--no-progress"]) == 2  # output == input
    assert "captions file" in capsys.readouterr().err


# -- checkpoints ----------------------------------------------------------------------------------------------
class _EMA:
    def __init__(self, model):
        self.shadow_params = [p.detach().clone() for p in model.parameters()]


def test_checkpoint_shape_mismatches_are_named(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ckpt = save_checkpoint(tmp_path, 1, model, opt, ema=_EMA(model))
    bigger = torch.nn.Linear(4, 2)
    with pytest.raises(CheckpointError, match=r"'weight' has shape \[2, 3\], the model needs \[2, 4\]"):
        load_checkpoint(ckpt, bigger, torch.optim.SGD(bigger.parameters(), lr=0.1))
    # EMA tensors of the wrong shape (a [1] tensor would broadcast into any shape) are refused
    from safetensors.torch import save_file

    save_file({"shadow.0": torch.ones(1, 1), "shadow.1": torch.ones(2)}, str(ckpt / "ema.safetensors"))
    ema = _EMA(model)
    before = [p.clone() for p in ema.shadow_params]
    with pytest.raises(CheckpointError, match=r"'shadow.0' has shape \[1, 1\], the model needs \[2, 3\]"):
        load_checkpoint(ckpt, model, ema=ema)
    assert all(torch.equal(a, b) for a, b in zip(before, ema.shadow_params))
    save_file({"shadow.0": torch.ones(2, 3)}, str(ckpt / "ema.safetensors"))
    with pytest.raises(CheckpointError, match="1 EMA tensors, the model has 2"):
        load_checkpoint(ckpt, model, ema=ema)
    (ckpt / "model.safetensors").write_bytes((ckpt / "model.safetensors").read_bytes()[:40])
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(ckpt, model)


def test_training_config_planner_spec_needs_trust(tmp_path):
    import argparse

    from vdm.training.cli import _allow_planner
    from vdm.training.config import TrainConfig

    cfg = TrainConfig(stage="planner", planner_spec="subprocess:run")
    args = argparse.Namespace(config=str(tmp_path / "train_config.json"), trust_remote_code=False)
    with pytest.raises(UntrustedPlannerError, match="train_config.json"):
        _allow_planner(cfg, args)
    _allow_planner(TrainConfig(stage="vae", planner_spec="subprocess:run"), args)  # stage I plans nothing
    _allow_planner(TrainConfig(stage="planner"), args)  # the default spec is registered
    try:
        _allow_planner(cfg, argparse.Namespace(config=None, trust_remote_code=True))
        assert "subprocess:run" in registered_planners()
    finally:
        unregister_planner("subprocess:run")
    assert main(["train", "--set", "stage=planner", "--set", "planner_spec=subprocess:run"]) == 2


def test_generate_refuses_to_overwrite_earlier_results(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "video.mp4").write_bytes(b"the user's earlier video")
    assert main(["generate", "x", "--out", str(out), "--format", "mp4"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "video.mp4").read_bytes() == b"the user's earlier video"
