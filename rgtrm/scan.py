r"""Parallel evaluation of the linear recurrence behind RGTrm's ``"scan"`` mode.

Along every entity's chain of frame instances (``prev[i]`` is the same entity's instance in the previous
frame, ``-1`` at a chain start) the scan mode of :class:`~rgtrm.RGTrmConv` computes

.. math::
    \mathbf{h}_i = a_i \, \mathbf{h}_{\mathrm{prev}(i)} + \mathbf{b}_i, \qquad
    \mathbf{h}_{-1} := \mathbf{0},

a first-order linear recurrence with coefficients known in advance (paper eq. 4 with
:math:`a_i = 1 - z_i` and :math:`\mathbf{b}_i = z_i \mathbf{Q}_i`). Its composition is associative,
:math:`(a, \mathbf{b}) \circ (a', \mathbf{b}') = (a a', a \mathbf{b}' + \mathbf{b})`, so it can be evaluated
by *pointer jumping* (Hillis–Steele / Wyllie list ranking): after step :math:`s` every node holds the
composition of the :math:`2^s` steps behind it and a pointer :math:`2^s` instances back. A chain of length
:math:`T` needs :math:`\lceil \log_2 T \rceil` steps of gathers and element-wise products, all nodes in
parallel, with no Python loop over frames and no division by running products (which a
``cumprod``/``cumsum`` closed form would need and which underflows once gates approach one).

:func:`linear_recurrence_loop` is the plain per-frame loop, kept as the slow reference for tests and
benchmarks.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .errors import RGTrmInputError

__all__ = ["chain_steps", "linear_recurrence", "linear_recurrence_loop"]


def chain_steps(chain_length: int) -> int:
    """Pointer-jumping steps needed for chains of at most ``chain_length`` nodes: ``ceil(log2(T))``."""
    if chain_length < 0:
        raise RGTrmInputError("chain_length", chain_length, "must be >= 0")
    return math.ceil(math.log2(chain_length)) if chain_length > 1 else 0


def _check(a: Tensor, b: Tensor, prev: Tensor) -> None:
    if prev.dim() != 1 or prev.dtype != torch.long:
        raise RGTrmInputError("prev", tuple(prev.shape), "must be a 1-D torch.long tensor")
    if b.size(0) != prev.size(0) or a.size(0) != prev.size(0):
        raise RGTrmInputError("prev", tuple(prev.shape), f"must have one entry per row of a/b ({b.size(0)})")


def _jump(acc: Tensor, coef: Tensor, ptr: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One pointer-jumping step: compose every node's (coef, acc) with its pointee's and double the pointer."""
    return (
        torch.addcmul(acc, coef, acc.index_select(0, ptr)),
        coef * coef.index_select(0, ptr),
        ptr.index_select(0, ptr),
    )


def linear_recurrence(a: Tensor, b: Tensor, prev: Tensor, chain_length: int | None = None) -> Tensor:
    r"""Solve :math:`\mathbf{h}_i = a_i \mathbf{h}_{\mathrm{prev}(i)} + \mathbf{b}_i` for all nodes in parallel.

    Args:
        a: (N, ...) coefficients, broadcastable against ``b`` (e.g. ``(N, H, 1)`` per-head gates).
        b: (N, ...) inputs.
        prev: (N,) index of each node's predecessor, ``-1`` at chain starts. Predecessor links must form
            chains (no cycles), as ``FrameInstanceBatch.inst_prev`` does.
        chain_length: an upper bound on the number of nodes in any chain (e.g. the batch's largest frame
            count). Given, the step count is static (friendly to ``torch.compile``); ``None`` iterates until
            every pointer has reached a chain start (one host sync per step).

    Returns:
        (N, ...) tensor ``h`` with the shape of ``b`` (differentiable in ``a`` and ``b``).
    """
    _check(a, b, prev)
    n = b.size(0)
    # sentinel row n: h = 0, pointer to itself; chain starts point at it.
    pad_a = a.new_zeros((1, *a.shape[1:]))
    pad_b = b.new_zeros((1, *b.shape[1:]))
    coef = torch.cat([a, pad_a], dim=0)
    acc = torch.cat([b, pad_b], dim=0)
    sentinel = prev.new_full((1,), n)
    ptr = torch.cat([torch.where(prev < 0, sentinel, prev), sentinel])
    if chain_length is not None:
        for _ in range(chain_steps(chain_length)):
            acc, coef, ptr = _jump(acc, coef, ptr)
        if not torch.compiler.is_compiling() and bool((ptr[:n] != n).any()):
            raise RGTrmInputError("chain_length", chain_length, "is shorter than the longest predecessor chain")
        return acc[:n]
    steps = 0
    while bool((ptr[:n] != n).any()):
        if steps > n:
            raise RGTrmInputError("prev", "cycle", "predecessor links must not form a cycle")
        acc, coef, ptr = _jump(acc, coef, ptr)
        steps += 1
    return acc[:n]


def linear_recurrence_loop(a: Tensor, b: Tensor, prev: Tensor, frame: Tensor) -> Tensor:
    r"""Reference: the same recurrence as :func:`linear_recurrence`, one Python iteration per frame.

    ``frame[i]`` is the frame of node ``i``; every predecessor must lie in the frame before its node's.
    Nodes of one frame are updated together, so this is the natural per-frame implementation (and what the
    parallel scan is benchmarked against in ``benchmarks/bench_rgtrm.py``).
    """
    _check(a, b, prev)
    n = b.size(0)
    h = b.new_zeros((n + 1, *b.shape[1:]))  # row n: h_{-1} = 0
    ptr = torch.where(prev < 0, prev.new_full((), n), prev)
    num_frames = int(frame.max()) + 1 if n else 0
    for m in range(num_frames):
        idx = (frame == m).nonzero().view(-1)
        h = h.index_copy(0, idx, a[idx] * h[ptr[idx]] + b[idx])
    return h[:n]
