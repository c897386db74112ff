"""Pipelines."""

from .pipeline_dysen_vdm import DysenVDMPipeline, DysenVDMPipelineOutput, PipelineInputError
from .planner_spec import DEFAULT_PLANNER, PlannerSpecError, load_planner

__all__ = [
    "DEFAULT_PLANNER",
    "DysenVDMPipeline",
    "DysenVDMPipelineOutput",
    "PipelineInputError",
    "PlannerSpecError",
    "load_planner",
]
