"""Start stage II from a pretrained diffusers video backbone saved in a local folder (``--backbone-path``).

The folder is a ``save_pretrained`` model folder (``config.json`` + weights) of a
:class:`diffusers.UNet3DConditionModel` (the ModelScope text-to-video layout) or a
:class:`diffusers.LatteTransformer3DModel`, or a pipeline folder with that model under ``unet/`` or
``transformer/``. The denoiser is built on the same config, the base weights are loaded into it, and the DSG
fusion goes in as a zero-initialised adapter (gate ``g = 0``): at step 0 the denoiser computes exactly what
the backbone computes. The base is frozen; only the DSG branch (fusion processors + DSG encoder) trains,
optionally with LoRA on the base attention (``lora_rank > 0``, through ``peft``), merged into the base at
export so that the saved denoiser needs no ``peft``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

__all__ = [
    "PretrainedBackboneError",
    "add_lora",
    "freeze_base",
    "load_pretrained_denoiser",
    "merge_lora",
    "resolve_backbone_folder",
]

_CLASSES = {"UNet3DConditionModel": "unet3d", "LatteTransformer3DModel": "latte"}
#: parameters of the DSG branch inside the backbone (fusion processors are registered under ``.processor.``)
FUSION_MARK = ".processor."


class PretrainedBackboneError(ValueError):
    """A ``--backbone-path`` folder is not a usable pretrained video backbone."""


def resolve_backbone_folder(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The model folder (itself, or ``unet/`` / ``transformer/`` of a pipeline folder) and its backbone name."""
    root = Path(path)
    for cand in (root, root / "unet", root / "transformer"):
        cfg = cand / "config.json"
        if cfg.is_file():
            try:
                cls = json.loads(cfg.read_text(encoding="utf-8")).get("_class_name")
            except json.JSONDecodeError as exc:
                raise PretrainedBackboneError(f"{cfg} is not valid JSON: {exc}") from exc
            if cls in _CLASSES:
                return cand, _CLASSES[cls]
            if cand == root and cls is not None:
                raise PretrainedBackboneError(
                    f"{root} holds a {cls}; --backbone-path needs one of {sorted(_CLASSES)} (or a pipeline folder "
                    "with one under unet/ or transformer/)"
                )
    raise PretrainedBackboneError(
        f"{root}: no diffusers video backbone (config.json with _class_name {sorted(_CLASSES)}, here or under "
        "unet/ or transformer/)"
    )


def load_pretrained_denoiser(path: str | os.PathLike[str], dsg_dim: int | None, fusion_heads: int = 4) -> Any:
    """A :class:`~vdm.models.DSGVideoDenoiser` with the pretrained backbone of ``path`` and a zero-gated DSG
    fusion (``dsg_dim=None``: text-only, the backbone alone)."""
    from diffusers import LatteTransformer3DModel, UNet3DConditionModel

    from ..models import DSGVideoDenoiser

    folder, name = resolve_backbone_folder(path)
    cls = UNet3DConditionModel if name == "unet3d" else LatteTransformer3DModel
    base = cls.from_pretrained(str(folder), local_files_only=True)
    config = {k: v for k, v in dict(base.config).items() if not k.startswith("_")}
    config = json.loads(json.dumps(config))  # tuples -> lists, as a saved config holds them
    den = DSGVideoDenoiser(
        backbone=name, backbone_config=config, dsg_dim=dsg_dim, fusion_heads=fusion_heads, gate_init=0.0
    )
    missing, unexpected = den.net.load_state_dict(base.state_dict(), strict=False)
    stray = [k for k in missing if FUSION_MARK not in k]
    if stray or unexpected:
        raise PretrainedBackboneError(
            f"{folder}: weights do not fit the rebuilt backbone (missing {stray[:5]}, unexpected {unexpected[:5]})"
        )
    return den


def freeze_base(denoiser: nn.Module) -> int:
    """Freeze every backbone parameter except the DSG fusion (and LoRA) ones; returns the trainable count."""
    n = 0
    for pname, p in denoiser.named_parameters():
        keep = FUSION_MARK in pname or "lora_" in pname
        p.requires_grad_(keep)
        n += p.numel() if keep else 0
    return n


def _lora_targets(net: nn.Module) -> list[str]:
    """Names of the base attention projections (``to_q/to_k/to_v/to_out.0``), fusion processors excluded."""
    out = []
    for name, mod in net.named_modules():
        if FUSION_MARK.strip(".") in name.split("."):
            continue
        leaf = name.rsplit(".", 1)[-1]
        if isinstance(mod, nn.Linear) and (leaf in ("to_q", "to_k", "to_v") or name.endswith("to_out.0")):
            out.append(name)
    return out


def add_lora(denoiser: Any, rank: int, alpha: float | None = None) -> int:
    """LoRA adapters of ``rank`` on the base attention projections of ``denoiser.net`` (``peft``); returns the
    number of adapted layers."""
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as exc:
        raise PretrainedBackboneError(
            "lora_rank > 0 needs the optional package 'peft' (pip install 'dysen-vdm[lora]' or pip install peft)"
        ) from exc
    targets = _lora_targets(denoiser.net)
    if not targets:
        raise PretrainedBackboneError("the backbone has no attention projection to put LoRA on")
    cfg = LoraConfig(r=rank, lora_alpha=alpha or rank, target_modules=targets, lora_dropout=0.0, bias="none")
    inject_adapter_in_model(cfg, denoiser.net)
    return len(targets)


def merge_lora(denoiser: Any) -> int:
    """Fold LoRA weights into the base layers and remove the adapters (the saved model needs no ``peft``)."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return 0
    n = 0
    for name, mod in list(denoiser.net.named_modules()):
        if isinstance(mod, BaseTunerLayer):
            mod.merge()
            parent_name, _, child = name.rpartition(".")
            parent = denoiser.net.get_submodule(parent_name) if parent_name else denoiser.net
            setattr(parent, child, mod.get_base_layer())
            n += 1
    return n
