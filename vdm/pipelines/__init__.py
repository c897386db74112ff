"""Pipelines, and the closed table of pipeline classes a saved folder may name (``_class_name``)."""

import importlib
from typing import Any

from .pipeline_dysen_vdm import Conditioning, DysenVDMPipeline, DysenVDMPipelineOutput, PipelineInputError
from .planner_spec import DEFAULT_PLANNER, PlannerSpecError, UntrustedPlannerError, load_planner, register_planner
from .weights import UnsafeWeightsError, check_weight_files

#: Pipeline classes a saved folder may name in its ``model_index.json`` (``_class_name``), as lazy
#: ``"module:attr"`` strings: a folder is data, so it can only pick one of these (never import a module).
PIPELINE_CLASSES: dict[str, str] = {
    "DysenVDMPipeline": "vdm.pipelines.pipeline_dysen_vdm:DysenVDMPipeline",
    "SlotVDMPipeline": "vdm.slots.pipeline:SlotVDMPipeline",
}


def pipeline_class(name: str) -> Any:
    """The pipeline class registered as ``name`` (:data:`PIPELINE_CLASSES`); ``KeyError`` otherwise."""
    module, attr = PIPELINE_CLASSES[name].split(":")
    return getattr(importlib.import_module(module), attr)


__all__ = [
    "DEFAULT_PLANNER",
    "PIPELINE_CLASSES",
    "Conditioning",
    "DysenVDMPipeline",
    "DysenVDMPipelineOutput",
    "PipelineInputError",
    "PlannerSpecError",
    "UnsafeWeightsError",
    "UntrustedPlannerError",
    "check_weight_files",
    "load_planner",
    "pipeline_class",
    "register_planner",
]
