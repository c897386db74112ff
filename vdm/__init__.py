"""vdm — latent video diffusion with DSG fusion (Dysen-VDM, paper §4.2-4.3) on diffusers.

Consumes DSGs (:mod:`dsg`), encodes them with :mod:`rgtrm`, and takes any planner through the
:class:`dsg.Planner` protocol (it never imports :mod:`dysen`). Submodules load on first use:

* :class:`DysenVDMPipeline` (``vdm.pipelines``), :class:`DSGVideoDenoiser`, :class:`DSGConditionEncoder`
  (``vdm.models``), the fusion processors (``vdm.fusion``), text encoders (``vdm.text``);
* the procedural world and its visual parser (``vdm.world``), dataset loaders (``vdm.data``), video I/O
  (``vdm.video_io``), frame interpolation (``vdm.interpolation``), metrics (``vdm.metrics``);
* training (``vdm.training``) and the command line (``vdm.cli``).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DysenVDMPipeline": "vdm.pipelines",
    "DysenVDMPipelineOutput": "vdm.pipelines",
    "load_planner": "vdm.pipelines",
    "DSGVideoDenoiser": "vdm.models",
    "PRESETS": "vdm.models",
    "DSGConditionEncoder": "vdm.models.dsg_encoder",
    "DSGFusion": "vdm.fusion",
    "DSGFusionAttnProcessor": "vdm.fusion",
    "TextEncoder": "vdm.text",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'vdm' has no attribute {name!r}")
