"""Training stages I-III (paper §4.3) on Accelerate, configuration presets, checkpoints, export."""

from .config import TRAIN_PRESETS, TrainConfig, TrainConfigError
from .data import VideoBatch, VideoBatchSource
from .trainer import DenoiserTrainModule, TrainResult, train

__all__ = [
    "TRAIN_PRESETS",
    "DenoiserTrainModule",
    "TrainConfig",
    "TrainConfigError",
    "TrainResult",
    "VideoBatch",
    "VideoBatchSource",
    "train",
]
