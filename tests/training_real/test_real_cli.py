"""The bar of issue 17, from the CLI: a folder of tiny videos -> annotate (sharded, merged) -> train --data
folder:... -> export -> generate; the same training through ``accelerate launch`` with 2 processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

from real_fixtures import TINY_SETS, save_tiny_vae, write_video_folder

from vdm.cli import main


def _sets(*extra: str) -> list[str]:
    return [a for s in (*TINY_SETS, *extra) for a in ("--set", s)]


def _annotate(videos: Path, dsgs: Path) -> None:
    captions = videos / "captions.jsonl"
    for i in range(2):  # two shards, as two machines would, then the merge
        assert main(["annotate", str(captions), str(dsgs), "--shard", f"{i}/2", "--no-progress"]) == 0
    assert (dsgs.parent / "dsgs.shard-00001-of-00002.jsonl").exists()
    assert main(["annotate", str(captions), str(dsgs), "--merge"]) == 0
    rows = [json.loads(line) for line in dsgs.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["clip0", "clip1", "clip2", "clip3"]


def _generate(model: Path, out: Path) -> None:
    args = ["generate", "a red circle jumps", "--model", str(model), "--out", str(out), "--steps", "2"]
    assert main([*args, "--frames", "4", "--interpolate", "0", "--format", "gif"]) == 0
    assert list(out.glob("*.gif"))


def test_folder_to_generate_single_process(tmp_path):
    videos = write_video_folder(tmp_path / "videos")
    vae = save_tiny_vae(tmp_path / "vae")
    dsgs = tmp_path / "dsgs.jsonl"
    _annotate(videos, dsgs)
    out, export = tmp_path / "run", tmp_path / "pipe"
    train = ["train", "--data", f"folder:{videos}", "--dsgs", str(dsgs), "--vae-path", str(vae)]
    train += ["--output-dir", str(out), "--latent-cache", str(tmp_path / "latents"), "--max-steps", "2"]
    assert main([*train, "--batch-size", "2", *_sets(), "--export", str(export), "--export-dtype", "float32"]) == 0
    assert (out / "denoiser").is_dir() and (export / "model_index.json").exists()
    assert len(list((tmp_path / "latents").glob("shard-*.safetensors"))) == 2
    _generate(export, tmp_path / "gen")
    # stage III on the same cache: DSGs planned in the loop, vocabulary from a planned sample of captions
    planner = ["train", "--data", f"folder:{videos}", "--vae-path", str(vae), "--output-dir", str(tmp_path / "s3")]
    planner += ["--latent-cache", str(tmp_path / "latents"), "--max-steps", "1", "--batch-size", "2"]
    assert main([*planner, *_sets("stage=planner")]) == 0
    assert (tmp_path / "s3" / "dsg_encoder").is_dir()


def test_two_processes_real_data_replicas_identical_then_generate(tmp_path, capsys):
    videos = write_video_folder(tmp_path / "videos")
    vae = save_tiny_vae(tmp_path / "vae")
    dsgs = tmp_path / "dsgs.jsonl"
    _annotate(videos, dsgs)
    accelerate = Path(sys.executable).parent / "accelerate"
    config = Path(__file__).resolve().parents[2] / "configs" / "accelerate" / "ddp.yaml"  # the 8-GPU recipe
    out, export = tmp_path / "run", tmp_path / "pipe"
    cmd = [str(accelerate), "launch", "--config_file", str(config), "--num_processes", "2"]
    cmd += ["--mixed_precision", "no", "--main_process_port", "29563"]
    cmd += [str(Path(__file__).parent / "ddp_real.py"), str(tmp_path / "ranks")]
    cmd += ["train", "--data", f"folder:{videos}", "--dsgs", str(dsgs), "--vae-path", str(vae)]
    cmd += ["--output-dir", str(out), "--latent-cache", str(tmp_path / "latents"), "--max-steps", "3"]
    cmd += ["--batch-size", "1", *_sets("grad_accum=1"), "--export", str(export), "--export-dtype", "float32"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "process 1 encoded 1 shard(s)" in res.stdout + res.stderr  # the cache was built in parallel
    ranks = [json.loads((tmp_path / "ranks" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3
    assert ranks[0]["sum"] == ranks[1]["sum"] and ranks[0]["abs"] == ranks[1]["abs"]
    assert ranks[0]["first_captions"] != ranks[1]["first_captions"]  # each rank saw its own clips
    _generate(export, tmp_path / "gen")
    # the 2-process checkpoint holds whole tensors: one process resumes from it (another world size)
    capsys.readouterr()
    resume = ["train", "--data", f"folder:{videos}", "--dsgs", str(dsgs), "--vae-path", str(vae)]
    resume += ["--output-dir", str(out), "--latent-cache", str(tmp_path / "latents"), "--max-steps", "4"]
    assert main([*resume, "--batch-size", "1", *_sets()]) == 0
    said = capsys.readouterr().out
    assert "at step 3" in said and "trained 4 steps" in said and "encoded" not in said  # cache reused as is
