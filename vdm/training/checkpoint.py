"""Resumable checkpoints without pickle: weights in safetensors, optimizer/scheduler state loaded with
``torch.load(weights_only=True)`` (tensors and plain Python values only), bookkeeping in JSON."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

__all__ = ["CheckpointError", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or does not match the model."""


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def save_checkpoint(
    directory: str | os.PathLike[str],
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    lr_scheduler: Any = None,
    ema: Any = None,
    extra: dict[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write ``<directory>/step-<step>/`` atomically (temp folder + rename) and prune old ones (keep ``keep``)."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(_state(model), str(tmp / "model.safetensors"))
    if ema is not None:
        save_file(
            {f"shadow.{i}": p.detach().contiguous().cpu() for i, p in enumerate(ema.shadow_params)},
            str(tmp / "ema.safetensors"),
        )
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    if lr_scheduler is not None:
        torch.save(lr_scheduler.state_dict(), tmp / "lr_scheduler.pt")
    torch.save({"torch": torch.get_rng_state()}, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, **(extra or {})}, indent=2), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(root.glob("step-*"))[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _load_tensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file))
    except Exception as exc:  # safetensors raises its own error type for a truncated or foreign file
        raise CheckpointError(f"{file} is not a readable safetensors file: {type(exc).__name__}: {exc}") from exc


def _check_shape(file: Path, name: str, got: tuple[int, ...], want: tuple[int, ...]) -> None:
    if got != want:
        raise CheckpointError(f"{file}: tensor {name!r} has shape {list(got)}, the model needs {list(want)}")


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The newest complete ``step-*`` folder under ``directory`` (``None`` if there is none)."""
    root = Path(directory)
    done = [p for p in sorted(root.glob("step-*")) if (p / "state.json").exists()] if root.exists() else []
    return done[-1] if done else None


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    lr_scheduler: Any = None,
    ema: Any = None,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; returns the JSON state (``step`` and extras)."""
    path = Path(path)
    if not (path / "state.json").exists() or not (path / "model.safetensors").exists():
        raise CheckpointError(f"{path} is not a complete checkpoint (state.json and model.safetensors needed)")
    weights = _load_tensors(path / "model.safetensors")
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for name, tensor in weights.items():
        _check_shape(path / "model.safetensors", name, tuple(tensor.shape), tuple(expected[name].shape))
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the model: {exc}") from exc
    if optimizer is not None:
        _restore(path / "optimizer.pt", optimizer.load_state_dict)
    if lr_scheduler is not None and (path / "lr_scheduler.pt").exists():
        _restore(path / "lr_scheduler.pt", lr_scheduler.load_state_dict)
    if ema is not None and (path / "ema.safetensors").exists():
        shadow = _load_tensors(path / "ema.safetensors")
        params = list(ema.shadow_params)
        names = {f"shadow.{i}" for i in range(len(params))}
        if set(shadow) != names:
            raise CheckpointError(
                f"{path / 'ema.safetensors'}: holds {len(shadow)} EMA tensors, the model has {len(params)}"
            )
        for i, p in enumerate(params):  # check every shape before changing any (copy_ would broadcast)
            _check_shape(path / "ema.safetensors", f"shadow.{i}", tuple(shadow[f"shadow.{i}"].shape), tuple(p.shape))
        for i, p in enumerate(params):
            p.data.copy_(shadow[f"shadow.{i}"])
    _restore(path / "rng.pt", lambda rng: torch.set_rng_state(rng["torch"]))
    try:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path / 'state.json'} is not valid JSON: {exc}") from exc
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise CheckpointError(f"{path / 'state.json'} has no integer 'step'")
    return state


def _restore(file: Path, apply: Any) -> None:
    try:
        apply(torch.load(file, weights_only=True))
    except Exception as exc:  # unpickling refused, truncated file, wrong structure
        raise CheckpointError(f"{file} cannot be restored: {type(exc).__name__}: {exc}") from exc
