"""Pipelines."""

from .pipeline_dysen_vdm import DysenVDMPipeline, DysenVDMPipelineOutput, PipelineInputError
from .planner_spec import DEFAULT_PLANNER, PlannerSpecError, UntrustedPlannerError, load_planner, register_planner

__all__ = [
    "DEFAULT_PLANNER",
    "DysenVDMPipeline",
    "DysenVDMPipelineOutput",
    "PipelineInputError",
    "PlannerSpecError",
    "UntrustedPlannerError",
    "load_planner",
    "register_planner",
]
