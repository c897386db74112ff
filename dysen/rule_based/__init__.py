"""The offline planner: spaCy dependency parses + temporal-connective rules + rule-based imagination."""

from .extract import Analysis, ExtractedEvent, Mention, SceneFact, analyse_doc
from .imagine import imagine
from .planner import RuleBasedPlanner
from .timeline import Link, assign_times

__all__ = [
    "Analysis",
    "ExtractedEvent",
    "Link",
    "Mention",
    "RuleBasedPlanner",
    "SceneFact",
    "analyse_doc",
    "assign_times",
    "imagine",
]
