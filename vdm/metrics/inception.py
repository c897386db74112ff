"""Image features for FID/KID and class logits for IS: Inception-v3 from a local file, or any network.

The paper reports FID on MSR-VTT (Table 1), computed per frame: every frame of every video is one image
sample. :class:`ImageFeatureExtractor` takes images ``(N, C, H, W)`` / ``(N, H, W, C)`` or videos (any
:data:`~vdm.metrics.preprocess.VideoLayout`, frames folded into the batch) and feeds a network in the input
format it expects.

Networks that load from a local path (nothing is downloaded):

* StyleGAN2-ADA's TorchScript Inception (``inception-2015-12-05.pt``), loaded by :func:`load_inception`; called
  as ``detector(images_uint8, return_features=True)`` for the 2048-d pool features (FID); the network resizes
  to 299 × 299 itself;
* torch-fidelity's ``FeatureExtractorInceptionV3`` with its converted weights file
  (``weights-inception-2015-12-05-6726825d.pth``), through :func:`torch_fidelity_inception` when torch-fidelity
  is installed (it needs torchvision; see docs/metrics.md), returning ``"2048"`` features for FID or
  ``"logits_unbiased"`` for IS, as torch-fidelity does;
* any ``nn.Module``/callable, with ``input_format`` saying what it expects.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._files import check_weights_file, device_of, is_torchscript_archive
from .errors import MetricInputError, MissingDependencyError, WeightsFormatError
from .preprocess import normalize_videos, resize_center_crop, to_uint8, video_frames

__all__ = ["ImageFeatureExtractor", "load_inception", "torch_fidelity_inception"]

ImageLayout = Literal["NCHW", "NHWC", "BTCHW", "BCTHW", "BTHWC"]
InputFormat = Literal["uint8", "float01", "float_pm1"]


def load_inception(
    path: str | os.PathLike, map_location: str | torch.device = "cpu", sha256: str | None = None
) -> nn.Module:
    """Load a TorchScript image detector (e.g. StyleGAN2-ADA's ``inception-2015-12-05.pt``) in eval mode.

    For torch-fidelity's ``.pth`` state dict use :func:`torch_fidelity_inception` instead.
    """
    path = check_weights_file(path, "Inception weights", sha256)
    if not is_torchscript_archive(path):
        raise WeightsFormatError(
            f"{path!r} is not a TorchScript archive; for torch-fidelity's state dict use torch_fidelity_inception()"
        )
    return torch.jit.load(path, map_location=map_location).eval()


class _TorchFidelityFeature(nn.Module):
    """Selects one named output of torch-fidelity's multi-output feature extractor."""

    def __init__(self, network: nn.Module, feature: str) -> None:
        super().__init__()
        self.network = network
        self.feature = feature

    def forward(self, images: Tensor) -> Tensor:
        return self.network(images)[0]


def torch_fidelity_inception(weights_path: str | os.PathLike, feature: str = "2048") -> nn.Module:
    """torch-fidelity's InceptionV3 from a local weights file, returning one feature (uint8 input).

    Args:
        weights_path: ``weights-inception-2015-12-05-6726825d.pth`` (torch-fidelity's release file).
        feature: ``"2048"`` (FID/KID), ``"logits_unbiased"`` (IS, as torch-fidelity computes it), ``"logits"``,
            ``"768"``, ``"192"`` or ``"64"``.
    """
    path = check_weights_file(weights_path, "Inception weights")
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as error:
        raise MissingDependencyError(
            "torch_fidelity_inception() needs torch-fidelity (pip install torch-fidelity; it requires a torchvision "
            f"built for your torch): {error}"
        ) from error
    network = FeatureExtractorInceptionV3("inception-v3-compat", [feature], feature_extractor_weights_path=path)
    return _TorchFidelityFeature(network, feature).eval()


class ImageFeatureExtractor(nn.Module):
    """Images or video frames → features/logits ``(N, D)`` of an image network.

    Args:
        network: the image network (TorchScript detector, torch-fidelity extractor, any module/callable).
        input_format: what ``network`` takes: ``"uint8"`` (NCHW in [0, 255], the Inception detectors),
            ``"float01"`` or ``"float_pm1"`` (float NCHW in [0, 1] / [-1, 1]).
        network_kwargs: keyword arguments of every call; ``None`` = ``dict(return_features=True)`` for TorchScript
            modules (StyleGAN2-ADA's detector convention) and ``{}`` otherwise.
        layout: ``"NCHW"``/``"NHWC"`` for images, or a video layout (``"BTCHW"``, ``"BCTHW"``, ``"BTHWC"``) whose
            frames are folded into the batch (per-frame FID).
        value_range: range of the input values (``None``: (0, 255) for integers, (0, 1) for floats).
        resolution: if given, resize (shorter side) + centre-crop to this square size before the network;
            ``None`` leaves the size to the network (the Inception detectors resize to 299 themselves).
        batch_size: images per network call.
    """

    def __init__(
        self,
        network: nn.Module | Any,
        input_format: InputFormat = "uint8",
        network_kwargs: dict[str, Any] | None = None,
        layout: ImageLayout = "NCHW",
        value_range: tuple[float, float] | None = None,
        resolution: int | None = None,
        batch_size: int = 64,
    ) -> None:
        super().__init__()
        if input_format not in ("uint8", "float01", "float_pm1"):
            raise MetricInputError(f"input_format must be 'uint8', 'float01' or 'float_pm1', got {input_format!r}")
        if layout not in ("NCHW", "NHWC", "BTCHW", "BCTHW", "BTHWC"):
            raise MetricInputError(f"unknown layout {layout!r}")
        self.network = network
        self.input_format = input_format
        if network_kwargs is None:
            network_kwargs = {"return_features": True} if isinstance(network, torch.jit.ScriptModule) else {}
        self.network_kwargs = network_kwargs
        self.layout = layout
        self.value_range = value_range
        self.resolution = resolution
        self.batch_size = batch_size

    @classmethod
    def from_file(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu", **kwargs: Any
    ) -> ImageFeatureExtractor:
        """:func:`load_inception` (TorchScript) + this extractor; ``kwargs`` go to the constructor."""
        return cls(load_inception(path, map_location=map_location), **kwargs)

    def preprocess(self, batch: Tensor) -> Tensor:
        """Images/videos → ``(N, 3, H, W)`` in the network's ``input_format``."""
        batch = torch.as_tensor(batch)
        if self.layout in ("NCHW", "NHWC"):
            if batch.dim() != 4:
                raise MetricInputError(f"images in layout {self.layout} must be 4-D, got shape {tuple(batch.shape)}")
            frames = normalize_videos(
                batch.unsqueeze(1), "BTCHW" if self.layout == "NCHW" else "BTHWC", self.value_range
            )
        else:
            frames = normalize_videos(batch, self.layout, self.value_range)
        images = video_frames(frames)
        if self.resolution is not None:
            images = resize_center_crop(images, self.resolution)
        if self.input_format == "uint8":
            return to_uint8(images)
        return images if self.input_format == "float01" else images * 2 - 1

    @torch.no_grad()
    def forward(self, batch: Tensor) -> Tensor:
        images = self.preprocess(batch)
        device = device_of(self.network)
        outputs = []
        for start in range(0, images.shape[0], self.batch_size):
            features = self.network(images[start : start + self.batch_size].to(device), **self.network_kwargs)
            outputs.append(features.reshape(features.shape[0], -1).float())
        return torch.cat(outputs)
