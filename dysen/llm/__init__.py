"""The LLM planner: prompts (paper Fig. 3), answer schemas and the three-step pipeline."""

from .planner import LLMPlanner
from .schemas import PlanAnswer, PolishAnswer, SceneAnswer, extract_json, strict_schema, validate_answer

__all__ = [
    "LLMPlanner",
    "PlanAnswer",
    "PolishAnswer",
    "SceneAnswer",
    "extract_json",
    "strict_schema",
    "validate_answer",
]
