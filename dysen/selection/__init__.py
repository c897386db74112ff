"""Demonstration selectors for the in-context prompts: random, nearest neighbour, REINFORCE policy."""

from .base import RandomSelector, Selector, candidate_indices
from .encoder import TextEncoder, default_encoder_path
from .nearest import NearestNeighbourSelector

__all__ = [
    "DemoPolicy",
    "NearestNeighbourSelector",
    "PolicySelector",
    "RandomSelector",
    "Selector",
    "TextEncoder",
    "TrainingExample",
    "candidate_indices",
    "default_encoder_path",
    "evaluate_selector",
    "load_policy",
    "planning_reward",
    "save_policy",
    "train_policy",
]


def __getattr__(name: str):  # torch is imported only when the policy is used
    if name in (
        "DemoPolicy",
        "PolicySelector",
        "TrainingExample",
        "evaluate_selector",
        "load_policy",
        "planning_reward",
        "save_policy",
        "train_policy",
        "TrainingResult",
    ):
        from . import policy

        return getattr(policy, name)
    raise AttributeError(f"module 'dysen.selection' has no attribute {name!r}")
