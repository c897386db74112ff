"""Inception-I3D (Carreira & Zisserman 2017), the video network behind FVD and KVD.

FVD (Unterthiner et al. 2018) embeds each video with an I3D network trained on Kinetics-400 and compares the
two embedding distributions (:mod:`vdm.metrics.frechet`). Two distributions of that network are in common use;
both load here from a local file, nothing is downloaded:

* the TorchScript detector of StyleGAN-V / DIGAN (``i3d_torchscript.pt``), loaded with :func:`torch.jit.load`
  and called as ``detector(videos, rescale=False, resize=False, return_features=True)`` on float videos in
  [-1, 1] of shape ``(B, 3, T, 224, 224)``;
* VideoGPT's PyTorch port (``i3d_pretrained_400.pt``, a state dict of piergiaj/pytorch-i3d's ``InceptionI3d``),
  loaded into :class:`InceptionI3d` below (same parameter names) with ``torch.load(..., weights_only=True)``,
  or from a ``.safetensors`` conversion of it.

Both return the 400 Kinetics logits (before the softmax) as the feature vector, the feature used by the
original TensorFlow FVD. :class:`InceptionI3d` is written to be TorchScript-compatible, and
:func:`export_i3d_torchscript` wraps it in the StyleGAN-V calling convention, so a state dict can be turned into
a detector file that every TorchScript-based FVD script accepts.

Preprocessing (:class:`I3DFeatureExtractor`): videos are brought to [0, 1] from the declared value range,
optionally cut to their first ``num_frames`` frames, each frame is resized so its shorter side is 224
(bilinear) and centre-cropped to 224 × 224 (VideoGPT's protocol; for square videos a plain resize), and the
values are mapped to [-1, 1]. The network needs at least :data:`I3D_MIN_FRAMES` frames; FVD is conventionally
computed on 16-frame clips, and scores are only comparable between runs with the same frame count.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._files import check_weights_file, device_of, is_torchscript_archive
from .errors import MetricInputError, WeightsFormatError
from .preprocess import VideoLayout, normalize_videos, resize_center_crop, video_frames

__all__ = [
    "I3D_MIN_FRAMES",
    "I3DDetector",
    "I3DFeatureExtractor",
    "InceptionI3d",
    "export_i3d_torchscript",
    "load_i3d",
]

#: Fewest frames InceptionI3d accepts: three temporal stride-2 stages must leave at least 2 steps for the final
#: (2, 7, 7) average pool.
I3D_MIN_FRAMES = 9

# Branch widths (b0, b1a, b1b, b2a, b2b, b3b) of the Inception modules of Inception-v1 / I3D.
_MIXED_WIDTHS: dict[str, tuple[int, ...]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def _same_pad(x: Tensor, kernel: list[int], stride: list[int]) -> Tensor:
    """Zero-pad ``(B, C, T, H, W)`` like TensorFlow's ``SAME`` (the extra pixel goes to the back)."""
    pads: list[int] = []
    for axis in [2, 1, 0]:  # F.pad wants the last axis first
        size = x.shape[2 + axis]
        k, s = kernel[axis], stride[axis]
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads.append(total // 2)
        pads.append(total - total // 2)
    return F.pad(x, pads)


class MaxPool3dSame(nn.Module):
    """3-D max pooling with TensorFlow ``SAME`` padding (piergiaj's ``MaxPool3dSamePadding``)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel = list(kernel)
        self.stride = list(stride)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool3d(_same_pad(x, self.kernel, self.stride), self.kernel, self.stride)


class Unit3D(nn.Module):
    """Conv3d (``SAME`` padding) → BatchNorm3d → ReLU; parameter names ``conv3d.*`` and ``bn.*`` as in piergiaj."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        batch_norm: bool = True,
        activation: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.kernel = list(kernel)
        self.stride = list(stride)
        self.activation = activation
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-5, momentum=0.001) if batch_norm else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv3d(_same_pad(x, self.kernel, self.stride)))
        return F.relu(x) if self.activation else x


class InceptionModule(nn.Module):
    """Four parallel branches (1×1; 1×1→3×3; 1×1→3×3; pool→1×1) concatenated on channels."""

    def __init__(self, in_channels: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.b0 = Unit3D(in_channels, widths[0])
        self.b1a = Unit3D(in_channels, widths[1])
        self.b1b = Unit3D(widths[1], widths[2], kernel=(3, 3, 3))
        self.b2a = Unit3D(in_channels, widths[3])
        self.b2b = Unit3D(widths[3], widths[4], kernel=(3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, widths[5])
        self.out_channels = widths[0] + widths[2] + widths[4] + widths[5]

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """Inception-v1 I3D for RGB clips, parameter-compatible with piergiaj/pytorch-i3d and VideoGPT's FVD.

    Args:
        num_classes: size of the logit layer (400 for the Kinetics-400 weights of FVD).
        in_channels: input channels (3 for RGB).
        width_divisor: divide every channel width by this (1 = the real network; larger values give the tiny
            stand-ins used by tests; the divided widths are floored at 1).
        dropout: dropout probability before the logits (inactive in ``eval()``; piergiaj passes its
            ``dropout_keep_prob=0.5`` here, so 0.5 either way).

    Input ``(B, in_channels, T, H, W)`` with values in [-1, 1], ``T ≥ 9`` and ``H, W ≈ 224`` (the final
    ``(2, 7, 7)`` average pool needs a 7 × 7 map); output ``(B, num_classes)`` logits, averaged over the
    remaining time steps as in VideoGPT.
    """

    def __init__(self, num_classes: int = 400, in_channels: int = 3, width_divisor: int = 1, dropout: float = 0.5):
        super().__init__()
        if width_divisor < 1:
            raise MetricInputError(f"width_divisor must be >= 1, got {width_divisor}")
        self.num_classes = num_classes
        self.width_divisor = width_divisor
        self.min_frames = I3D_MIN_FRAMES

        def w(c: int) -> int:
            return max(1, c // width_divisor)

        self.Conv3d_1a_7x7 = Unit3D(in_channels, w(64), kernel=(7, 7, 7), stride=(2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(w(64), w(64))
        self.Conv3d_2c_3x3 = Unit3D(w(64), w(192), kernel=(3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        channels = w(192)
        mixed = {}
        for name, widths in _MIXED_WIDTHS.items():
            mixed[name] = InceptionModule(channels, tuple(w(c) for c in widths))
            channels = mixed[name].out_channels
        self.Mixed_3b, self.Mixed_3c = mixed["Mixed_3b"], mixed["Mixed_3c"]
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b, self.Mixed_4c, self.Mixed_4d = mixed["Mixed_4b"], mixed["Mixed_4c"], mixed["Mixed_4d"]
        self.Mixed_4e, self.Mixed_4f = mixed["Mixed_4e"], mixed["Mixed_4f"]
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b, self.Mixed_5c = mixed["Mixed_5b"], mixed["Mixed_5c"]
        self.avg_pool = nn.AvgPool3d(kernel_size=(2, 7, 7), stride=(1, 1, 1))
        self.dropout = nn.Dropout(dropout)
        self.logits = Unit3D(channels, num_classes, batch_norm=False, activation=False, bias=True)

    def extract_features(self, x: Tensor) -> Tensor:
        """The pooled ``Mixed_5c`` map ``(B, 1024 / width_divisor, T', 1, 1)`` before the logit layer."""
        x = self.MaxPool3d_2a_3x3(self.Conv3d_1a_7x7(x))
        x = self.MaxPool3d_3a_3x3(self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x)))
        x = self.MaxPool3d_4a_3x3(self.Mixed_3c(self.Mixed_3b(x)))
        x = self.Mixed_4f(self.Mixed_4e(self.Mixed_4d(self.Mixed_4c(self.Mixed_4b(x)))))
        x = self.Mixed_5c(self.Mixed_5b(self.MaxPool3d_5a_2x2(x)))
        return self.avg_pool(x)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[2] < self.min_frames:
            raise ValueError(f"InceptionI3d needs at least {self.min_frames} frames, got {x.shape[2]}")
        logits = self.logits(self.dropout(self.extract_features(x)))
        return logits.squeeze(4).squeeze(3).mean(dim=2)

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> InceptionI3d:
        """Build a network whose shape fits ``state_dict`` (width and classes inferred) and load it strictly."""
        state = {key.removeprefix("module."): value for key, value in state_dict.items()}
        try:
            first = state["Conv3d_1a_7x7.conv3d.weight"]
            logits = state["logits.conv3d.weight"]
        except KeyError as error:
            raise WeightsFormatError(
                f"not an InceptionI3d state dict: missing {error.args[0]!r} (keys start with {sorted(state)[:3]})"
            ) from None
        if not isinstance(first, Tensor) or first.dim() != 5 or 64 % first.shape[0]:
            raise WeightsFormatError(f"unexpected Conv3d_1a_7x7 weight shape {tuple(getattr(first, 'shape', ()))}")
        model = cls(num_classes=logits.shape[0], in_channels=first.shape[1], width_divisor=64 // first.shape[0])
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise WeightsFormatError(f"state dict does not fit InceptionI3d: {error}") from None
        return model.eval()


class I3DDetector(nn.Module):
    """TorchScript-friendly wrapper with the StyleGAN-V detector signature around an :class:`InceptionI3d`.

    ``forward(x, rescale=False, resize=False, return_features=False)``: ``rescale`` maps [0, 255] input to
    [-1, 1]; ``resize`` resizes ``(T, H, W)`` to ``(T, 224, 224)`` (trilinear); ``return_features`` returns the
    logits (the FVD feature), otherwise class probabilities.
    """

    def __init__(self, network: InceptionI3d) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False) -> Tensor:
        if rescale:
            x = x / 127.5 - 1.0
        if resize:
            x = F.interpolate(x, size=[x.shape[2], 224, 224], mode="trilinear", align_corners=False)
        logits = self.network(x)
        return logits if return_features else logits.softmax(dim=1)


def export_i3d_torchscript(network: InceptionI3d, path: str | os.PathLike) -> None:
    """Save ``network`` (in eval mode) as a TorchScript detector with the StyleGAN-V calling convention."""
    scripted = torch.jit.script(I3DDetector(network).eval())
    torch.jit.save(scripted, os.fspath(path))


def load_i3d(path: str | os.PathLike, map_location: str | torch.device = "cpu", sha256: str | None = None) -> nn.Module:
    """Load an I3D network from a local file, in eval mode.

    * a TorchScript archive (e.g. StyleGAN-V's ``i3d_torchscript.pt``) → the :class:`torch.jit.ScriptModule`;
    * ``*.safetensors`` or a ``torch.save``-d state dict (VideoGPT's ``i3d_pretrained_400.pt``) →
      :class:`InceptionI3d` (loaded with ``weights_only=True``; pickled code is never executed).

    Args:
        path: the weights file.
        map_location: device to load onto.
        sha256: expected SHA-256 of the file; checked before loading when given. TorchScript files contain
            code (TorchScript, not arbitrary Python), so pin the checksum of detectors from third parties.
    """
    path = check_weights_file(path, "I3D weights", sha256)
    if is_torchscript_archive(path):
        return torch.jit.load(path, map_location=map_location).eval()
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path, device=str(map_location))
    else:
        try:
            state = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as error:
            raise WeightsFormatError(
                f"{path!r} is neither TorchScript nor a weights-only state dict: {error}"
            ) from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise WeightsFormatError(f"{path!r} holds a {type(state).__name__}, expected a state dict")
    return InceptionI3d.from_state_dict(state).to(map_location)


class I3DFeatureExtractor(nn.Module):
    """Videos in any layout/range → I3D features ``(B, D)`` (float32), with the preprocessing documented above.

    Args:
        network: an I3D network: :class:`InceptionI3d`, a loaded TorchScript detector, or any module/callable
            taking ``(B, 3, T, 224, 224)`` in [-1, 1].
        protocol: where resizing and rescaling happen.

            * ``"videogpt"`` (default): here — shorter side to ``resolution`` (bilinear), centre crop, values to
              [-1, 1]; TorchScript detectors are called with ``rescale=False, resize=False``.
            * ``"stylegan-v"``: in the detector, as StyleGAN-V's own FVD does — clips go out as float in
              [0, 255] at their own size and TorchScript detectors are called with ``rescale=True, resize=True``
              (the detector resizes to 224 × 224 without cropping: use it with square videos).
        detector_kwargs: keyword arguments of every call; ``None`` picks the protocol's flags plus
            ``return_features=True`` for TorchScript modules (and :class:`I3DDetector`), ``{}`` for other modules.
        layout, value_range, num_frames: how to read the input videos
            (:func:`~vdm.metrics.preprocess.normalize_videos`).
        resolution: frame side after resize + centre crop (224 for the Kinetics I3D; ``"videogpt"`` only).
        batch_size: videos per network call (bounds memory; features do not depend on it).
    """

    def __init__(
        self,
        network: nn.Module,
        protocol: Literal["videogpt", "stylegan-v"] = "videogpt",
        detector_kwargs: dict[str, Any] | None = None,
        layout: VideoLayout = "BTCHW",
        value_range: tuple[float, float] | None = None,
        num_frames: int | None = None,
        resolution: int = 224,
        batch_size: int = 16,
    ) -> None:
        super().__init__()
        if protocol not in ("videogpt", "stylegan-v"):
            raise MetricInputError(f"protocol must be 'videogpt' or 'stylegan-v', got {protocol!r}")
        self.network = network
        self.protocol = protocol
        if detector_kwargs is None:
            in_detector = protocol == "stylegan-v"
            if isinstance(network, (torch.jit.ScriptModule, I3DDetector)):
                detector_kwargs = dict(rescale=in_detector, resize=in_detector, return_features=True)
            elif in_detector:
                raise MetricInputError(
                    "protocol='stylegan-v' needs a detector taking rescale/resize flags (a TorchScript detector or "
                    f"I3DDetector), got {type(network).__name__}; pass detector_kwargs to override"
                )
            else:
                detector_kwargs = {}
        self.detector_kwargs = detector_kwargs
        self.layout: VideoLayout = layout
        self.value_range = value_range
        self.num_frames = num_frames
        self.resolution = resolution
        self.batch_size = batch_size

    @classmethod
    def from_file(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu", sha256: str | None = None, **kwargs: Any
    ) -> I3DFeatureExtractor:
        """:func:`load_i3d` + this extractor; ``kwargs`` go to the constructor."""
        return cls(load_i3d(path, map_location=map_location, sha256=sha256), **kwargs)

    def preprocess(self, videos: Tensor) -> Tensor:
        """Videos → float32 ``(B, 3, T, resolution, resolution)`` in [-1, 1] (``"stylegan-v"``: ``(B, 3, T, H, W)``
        in [0, 255])."""
        videos = normalize_videos(videos, self.layout, self.value_range, self.num_frames)
        if videos.shape[1] < I3D_MIN_FRAMES:
            raise MetricInputError(f"I3D needs videos of at least {I3D_MIN_FRAMES} frames, got {videos.shape[1]}")
        if self.protocol == "stylegan-v":
            return (videos.permute(0, 2, 1, 3, 4) * 255).contiguous()
        batch, frames = videos.shape[:2]
        frames_resized = resize_center_crop(video_frames(videos), self.resolution)
        videos = frames_resized.reshape(batch, frames, 3, self.resolution, self.resolution)
        return (videos.permute(0, 2, 1, 3, 4) * 2 - 1).contiguous()

    @torch.no_grad()
    def forward(self, videos: Tensor) -> Tensor:
        device = device_of(self.network)
        outputs = []
        for start in range(0, len(videos), self.batch_size):
            clip = self.preprocess(videos[start : start + self.batch_size]).to(device)
            features = self.network(clip, **self.detector_kwargs)
            outputs.append(features.reshape(features.shape[0], -1).float())
        return torch.cat(outputs)
