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


def _pointer_jump(coef: Tensor, acc: Tensor, ptr: Tensor, steps: int | None) -> tuple[Tensor, int]:
    """Compose along pointers until every pointer reaches the sentinel (last row); returns ``(acc, steps)``.

    Each step composes every row's ``(coef, acc)`` with its pointee's and doubles the pointer. Rows carry a
    sentinel as their last entry (``acc = 0``, pointing to itself). Differentiable when run under autograd.
    """
    sentinel = ptr.numel() - 1
    done = 0
    while steps is None or done < steps:
        if steps is None and not bool((ptr != sentinel).any()):
            break
        if steps is None and done > sentinel:
            raise RGTrmInputError("prev", "cycle", "predecessor links must not form a cycle")
        acc = torch.addcmul(acc, coef, acc.index_select(0, ptr))
        coef = coef * coef.index_select(0, ptr)
        ptr = ptr.index_select(0, ptr)
        done += 1
    if steps is not None and not torch.compiler.is_compiling() and bool((ptr != sentinel).any()):
        raise RGTrmInputError("chain_length", f"{2**steps} or less", "is shorter than the longest predecessor chain")
    return acc, done


def _with_sentinel(x: Tensor, fill: float = 0.0) -> Tensor:
    return torch.cat([x, x.new_full((1, *x.shape[1:]), fill)], dim=0)


def _pointers(prev: Tensor) -> Tensor:
    """``prev`` with ``-1`` replaced by the sentinel index ``N``, plus the sentinel's own self-pointer."""
    n = prev.numel()
    sentinel = prev.new_full((1,), n)
    return torch.cat([torch.where(prev < 0, sentinel, prev), sentinel])


class _LinearScan(torch.autograd.Function):
    r"""Pointer-jumping scan with a hand-written backward.

    The adjoint of a chain recurrence is the same recurrence run backwards along the chains,
    :math:`\tilde{g}_i = g_i + a_{\mathrm{next}(i)} \tilde{g}_{\mathrm{next}(i)}`, so the backward pass is one
    more scan instead of autograd through every step's gathers and products (about half the work).
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, prev: Tensor, steps: int | None) -> Tensor:  # type: ignore[override]
        ptr = _pointers(prev)
        acc, used = _pointer_jump(_with_sentinel(a), _with_sentinel(b), ptr, steps)
        h = acc[:-1]
        ctx.save_for_backward(a, h, prev)
        ctx.steps = used
        ctx.b_shape = b.shape
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:  # type: ignore[override]
        a, h, prev = ctx.saved_tensors
        n = prev.numel()
        has_prev = prev >= 0
        nxt = prev.new_full((n + 1,), n)  # successor of each node (unique along chains), sentinel if none
        nxt[prev[has_prev]] = torch.arange(n, device=prev.device)[has_prev]
        coef_next = _with_sentinel(a).index_select(0, nxt)  # a of the successor, 0 at chain ends
        gtil, _ = _pointer_jump(coef_next, _with_sentinel(grad), nxt, ctx.steps)
        gtil = gtil[:-1]
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            h_prev = _with_sentinel(h).index_select(0, _pointers(prev)[:-1])  # h_{prev(i)}, 0 at chain starts
            grad_a = (gtil * h_prev).sum_to_size(a.shape)
        if ctx.needs_input_grad[1]:
            grad_b = gtil.sum_to_size(ctx.b_shape)
        return grad_a, grad_b, None, None


def linear_recurrence(a: Tensor, b: Tensor, prev: Tensor, chain_length: int | None = None) -> Tensor:
    r"""Solve :math:`\mathbf{h}_i = a_i \mathbf{h}_{\mathrm{prev}(i)} + \mathbf{b}_i` for all nodes in parallel.

    Args:
        a: (N, ...) coefficients, broadcastable against ``b`` (e.g. ``(N, H, 1)`` per-head gates).
        b: (N, ...) inputs.
        prev: (N,) index of each node's predecessor, ``-1`` at chain starts. Links must not form cycles.
            When every node is the predecessor of at most one node (chains, as ``FrameInstanceBatch.inst_prev``
            gives), the backward pass is a reverse scan; otherwise (trees) autograd runs through the steps.
        chain_length: an upper bound on the number of nodes in any chain (e.g. the batch's largest frame
            count). Given, the step count is static (friendly to ``torch.compile``); ``None`` iterates until
            every pointer has reached a chain start (one host sync per step).

    Returns:
        (N, ...) tensor ``h`` with the shape of ``b`` (differentiable in ``a`` and ``b``).
    """
    _check(a, b, prev)
    steps = chain_steps(chain_length) if chain_length is not None else None
    if torch.compiler.is_compiling() or _is_chains(prev):
        return _LinearScan.apply(a, b.expand(torch.broadcast_shapes(a.shape, b.shape)), prev, steps)
    acc, _ = _pointer_jump(_with_sentinel(a), _with_sentinel(b), _pointers(prev), steps)
    return acc[:-1]


def _is_chains(prev: Tensor) -> bool:
    """Whether every node is the predecessor of at most one node."""
    linked = prev[prev >= 0]
    return linked.numel() == 0 or int(torch.bincount(linked).max()) <= 1


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
        h.index_copy_(0, idx, a[idx] * h.index_select(0, ptr[idx]) + b[idx])
    return h[:n]
