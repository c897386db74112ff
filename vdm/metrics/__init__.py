"""vdm.metrics — the paper's video-generation metrics (Sec. 5.1, Tables 1, 2, 4, Fig. 5), offline.

* FVD / KVD: :class:`FeatureDistance` over :class:`I3DFeatureExtractor` (TorchScript detector or VideoGPT's
  ``InceptionI3d`` state dict, from a local file);
* FID / KID: :class:`FeatureDistance` over :class:`ImageFeatureExtractor` (per frame);
* IS: :class:`InceptionScore` over any classifier returning logits;
* CLIPSIM: :class:`ClipSimilarity` (transformers CLIP from a local folder);
* shared pieces: :func:`frechet_distance`, :func:`kernel_distance`, the streaming :class:`FeatureStatistics`.

Only torch and numpy are imported here; transformers, scipy and safetensors are imported on use. See
docs/metrics.md for the preprocessing, the weight files and the caveats.
"""

from .clip_tokenizer import build_clip_tokenizer_files, check_clip_tokenizer, find_open_clip_bpe
from .clipsim import ClipSimilarity
from .errors import (
    BrokenTokenizerError,
    MetricError,
    MetricInputError,
    MissingDependencyError,
    NotEnoughSamplesError,
    WeightsFormatError,
    WeightsNotFoundError,
)
from .feature_distance import FeatureDistance
from .frechet import frechet_distance, frechet_distance_from_statistics, trace_sqrt_product
from .i3d import I3D_MIN_FRAMES, I3DDetector, I3DFeatureExtractor, InceptionI3d, export_i3d_torchscript, load_i3d
from .inception import ImageFeatureExtractor, load_inception, torch_fidelity_inception
from .inception_score import InceptionScore, InceptionScoreResult, inception_score
from .kernel import KernelDistance, kernel_distance, mmd2_unbiased, polynomial_kernel
from .preprocess import normalize_videos, resize_center_crop
from .statistics import FeatureStatistics

__all__ = [
    "I3D_MIN_FRAMES",
    "BrokenTokenizerError",
    "ClipSimilarity",
    "FeatureDistance",
    "FeatureStatistics",
    "I3DDetector",
    "I3DFeatureExtractor",
    "ImageFeatureExtractor",
    "InceptionI3d",
    "InceptionScore",
    "InceptionScoreResult",
    "KernelDistance",
    "MetricError",
    "MetricInputError",
    "MissingDependencyError",
    "NotEnoughSamplesError",
    "WeightsFormatError",
    "WeightsNotFoundError",
    "build_clip_tokenizer_files",
    "check_clip_tokenizer",
    "export_i3d_torchscript",
    "find_open_clip_bpe",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "inception_score",
    "kernel_distance",
    "load_i3d",
    "load_inception",
    "mmd2_unbiased",
    "normalize_videos",
    "polynomial_kernel",
    "resize_center_crop",
    "torch_fidelity_inception",
    "trace_sqrt_product",
]
