"""Plug any frame-pair model into the ×2 interface: ``(frame0, frame1, t) -> frame_t``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .base import PairwiseInterpolator
from .errors import InterpolatorOutputError

__all__ = ["CallableInterpolator"]


class CallableInterpolator(PairwiseInterpolator):
    """Wrap a callable or ``nn.Module`` ``fn(frame0, frame1, t) -> frame_t`` as a :class:`FrameInterpolator`.

    Typical use is a learned interpolator (RIFE, FILM, ...) that you build and load yourself from a local file (with
    safetensors, or ``torch.load(..., weights_only=True)``); this library ships no such weights::

        model = MyRIFE().eval()
        model.load_state_dict(safetensors.torch.load_file("rife.safetensors"))
        video61 = interpolate(video16, times=2, interpolator=CallableInterpolator(model))

    ``fn`` receives ``(N, C, H, W)`` frames mapped to ``input_range`` (default [0, 1], what most published models
    expect) on ``device`` (default: the module's parameters' device, else the video's), and ``t`` as a Python float,
    or as an ``(N, 1)`` tensor with ``time_as_tensor=True`` (FILM's signature). It must return ``(N, C, H, W)``
    finite frames in ``input_range``; the result is mapped back, clamped to the input video's range and cast to
    its dtype. Calls run under ``torch.no_grad()``; the module's train/eval mode is left as you set it.

    Raises:
        InterpolatorOutputError: ``fn`` returned a non-tensor, a wrong shape or non-finite values (message says which).
    """

    def __init__(
        self,
        fn: Callable[[Tensor, Tensor, float | Tensor], Tensor] | nn.Module,
        *,
        input_range: tuple[float, float] = (0.0, 1.0),
        time_as_tensor: bool = False,
        device: torch.device | str | None = None,
        pairs_per_chunk: int | None = None,
    ) -> None:
        super().__init__(pairs_per_chunk)
        if not callable(fn):
            raise TypeError(f"fn must be callable (frame0, frame1, t) -> frame_t, got {type(fn).__name__}")
        if not input_range[1] > input_range[0]:
            raise ValueError(f"input_range must be (low, high) with high > low, got {input_range}")
        self.fn = fn
        self.input_range = (float(input_range[0]), float(input_range[1]))
        self.time_as_tensor = time_as_tensor
        self.device = torch.device(device) if device is not None else None

    def _target(self, like: Tensor) -> tuple[torch.device, torch.dtype]:
        if self.device is not None:
            device = self.device
        elif isinstance(self.fn, nn.Module) and (param := next(self.fn.parameters(), None)) is not None:
            return param.device, param.dtype if param.dtype.is_floating_point else like.dtype
        else:
            device = like.device
        return device, like.dtype

    @torch.no_grad()
    def interpolate_pairs(self, frame0: Tensor, frame1: Tensor, t: float = 0.5) -> Tensor:
        lo, hi = self.input_range
        device, dtype = self._target(frame0)
        x0 = (frame0 * (hi - lo) + lo).to(device=device, dtype=dtype)
        x1 = (frame1 * (hi - lo) + lo).to(device=device, dtype=dtype)
        time = x0.new_full((x0.shape[0], 1), t) if self.time_as_tensor else t
        out = self.fn(x0, x1, time)
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        if not isinstance(out, Tensor):
            raise InterpolatorOutputError(f"interpolation model {name} returned {type(out).__name__}, not a Tensor")
        if out.shape != x0.shape:
            raise InterpolatorOutputError(
                f"interpolation model {name} returned shape {tuple(out.shape)}, expected {tuple(x0.shape)}"
            )
        if not bool(torch.isfinite(out).all()):
            raise InterpolatorOutputError(f"interpolation model {name} returned non-finite values (NaN/inf)")
        return ((out.to(device=frame0.device, dtype=frame0.dtype) - lo) / (hi - lo)).clamp(0, 1)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(fn={self.fn!r}, input_range={self.input_range}, "
            f"time_as_tensor={self.time_as_tensor}, device={self.device}, pairs_per_chunk={self.pairs_per_chunk})"
        )
