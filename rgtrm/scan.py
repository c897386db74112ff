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
``cumprod``/``cumsum`` closed form would need and which underflows once gates approach one). A chain start
points to itself with coefficient :math:`0`, so the running product of every node falls to zero once its
pointer has passed the start of its chain: no sentinel row is needed, and a zero running product marks a
finished node.

:func:`linear_recurrence_loop` is the plain per-frame loop, kept as the slow reference for tests and
benchmarks.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import RGTrmInputError

__all__ = ["chain_steps", "linear_recurrence", "linear_recurrence_loop"]


def chain_steps(chain_length: int) -> int:
    """Pointer-jumping steps needed for chains of at most ``chain_length`` nodes: ``ceil(log2(T))``."""
    if chain_length < 0:
        raise RGTrmInputError("chain_length", chain_length, "must be >= 0")
    steps = 0
    while (1 << steps) < chain_length:  # exact integer ceil(log2(T)), scriptable
        steps += 1
    return steps


def _check(a: Tensor, b: Tensor, prev: Tensor) -> None:
    if prev.dim() != 1 or prev.dtype != torch.long:
        raise RGTrmInputError("prev", tuple(prev.shape), "must be a 1-D torch.long tensor")
    if b.size(0) != prev.size(0) or a.size(0) != prev.size(0):
        raise RGTrmInputError("prev", tuple(prev.shape), f"must have one entry per row of a/b ({b.size(0)})")


def _pointer_jump(
    coef: Tensor,
    acc: Tensor,
    ptr: Tensor,
    steps: int | None,
    inplace: bool = False,
    scratch: Tensor | None = None,
) -> tuple[Tensor, int, Tensor]:
    r"""Compose every node with the nodes behind it along ``ptr``; returns ``(acc, steps taken, scratch)``.

    On entry ``coef`` is :math:`a` with zeros at chain starts, ``acc`` is :math:`\mathbf{b}` and ``ptr`` the
    predecessor, a chain start pointing to itself. Each step composes every node with its pointee and
    doubles the pointer,

    .. math::
        \mathbf{acc}_i \leftarrow \mathbf{acc}_i + c_i\, \mathbf{acc}_{p_i}, \qquad
        c_i \leftarrow c_i\, c_{p_i}, \qquad p_i \leftarrow p_{p_i},

    so after :math:`s` steps :math:`c_i` is the product of the :math:`2^s` coefficients behind node
    :math:`i`, which is zero once they reach past the chain start: a node with :math:`c_i = 0` is final
    (its start's self-pointer then only adds :math:`0 \cdot \mathbf{acc}`, no sentinel row is needed).
    ``steps=None`` runs until every :math:`c_i` is zero (one host sync per step).

    Out of place (the default) it is differentiable under autograd. ``inplace=True`` (for the custom
    autograd function) allocates at most two ``(N, D)`` tensors per call, the result and one gather buffer
    (``scratch``: given, or allocated and returned for reuse), and updates ``acc`` and ``coef`` in place
    after the first step; the gather is taken first, so every node reads its pointee's old value. Fresh
    large tensors are expensive on CPU (their pages are faulted in on first touch): one per step was half
    of the scan's time. Scriptable (``torch.jit.script``; ``inplace`` and ``scratch`` are then ignored).
    """
    done = 0
    buf = acc
    while steps is None or done < steps:
        if steps is None:
            if not bool((coef != 0).any()):
                break
            if done > chain_steps(acc.size(0)):  # more steps than any acyclic chain of N nodes needs
                raise RGTrmInputError("prev", "cycle", "predecessor links must not form a cycle")
        if torch.jit.is_scripting() or not inplace or done == 0:
            if not torch.jit.is_scripting() and inplace and scratch is not None:
                buf = torch.index_select(acc, 0, ptr, out=scratch)
            else:
                buf = acc.index_select(0, ptr)
            acc = torch.addcmul(acc, buf, coef)  # the broadcast factor last: the fast kernel
            coef = coef * coef.index_select(0, ptr)
        else:
            torch.index_select(acc, 0, ptr, out=buf)
            acc.addcmul_(buf, coef)
            coef.mul_(coef.index_select(0, ptr))
        ptr = ptr.index_select(0, ptr)
        done += 1
    if steps is not None and not _compiling() and bool((coef != 0).any()):
        bound = str(1 << steps) + " or less"
        raise RGTrmInputError("chain_length", bound, "is shorter than the longest predecessor chain")
    return acc, done, buf


def _compiling() -> bool:
    """Whether the code is being traced by ``torch.compile`` (never true under TorchScript)."""
    if torch.jit.is_scripting():
        return False
    return torch.compiler.is_compiling()


def _start_mask(prev: Tensor, like: Tensor) -> Tensor:
    """``prev < 0`` shaped ``(N, 1, ...)`` to broadcast against ``like``."""
    return (prev < 0).view([-1] + [1] * (like.dim() - 1))


def self_pointers(prev: Tensor) -> Tensor:
    """``prev`` with every chain start (``-1``) pointing to itself (also the gather index of ``"paper"`` mode)."""
    return torch.where(prev < 0, torch.arange(prev.numel(), device=prev.device), prev)


def _to_successors(prev: Tensor, values: Tensor, fill: Tensor) -> Tensor:
    r"""``out[prev[i]] = values[i]`` for every linked node :math:`i`, ``fill`` where no node continues a row.

    One ``index_copy`` with static shapes (no boolean-mask indexing, so no data-dependent shape under
    ``torch.compile``): chain starts write into a spare last row, which is dropped. On chains (every node the
    predecessor of at most one) each row is written at most once.
    """
    n = prev.numel()
    target = torch.where(prev < 0, prev.new_full((), n), prev)
    return torch.cat([fill, fill[:1]]).index_copy_(0, target, values)[:n]


class _LinearScan(torch.autograd.Function):
    r"""Pointer-jumping scan with a hand-written backward.

    The adjoint of a chain recurrence is the same recurrence run backwards along the chains,
    :math:`\tilde{\mathbf{g}}_i = \mathbf{g}_i + a_{\mathrm{next}(i)} \tilde{\mathbf{g}}_{\mathrm{next}(i)}`, so
    the backward pass is one more scan instead of autograd through every step's gathers and products (about
    half the work); then :math:`\partial L / \partial \mathbf{b}_i = \tilde{\mathbf{g}}_i` and
    :math:`\partial L / \partial a_i = \tilde{\mathbf{g}}_i \cdot \mathbf{h}_{\mathrm{prev}(i)}` (zero at chain
    starts), summed over the dimensions along which :math:`a` broadcasts.
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, prev: Tensor, steps: int | None) -> Tensor:  # type: ignore[override]
        start = _start_mask(prev, a)
        coef = a.masked_fill(start, 0.0)
        h, used, scratch = _pointer_jump(coef.clone(), b, self_pointers(prev), steps, inplace=True)
        if used == 0:  # no step ran: h is b itself, and there is no gather buffer
            h, scratch = h.clone(), h.new_empty(0)
        ctx.save_for_backward(coef, h, prev)
        # the gather buffer is kept for the backward scan as plain scratch (not version-checked, so a
        # repeated backward may overwrite it): one fresh (N, D) tensor fewer per fwd + bwd, for the memory
        # of one more activation between forward and backward
        ctx.scratch = scratch
        ctx.steps = used
        ctx.a_shape = a.shape
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:  # type: ignore[override]
        coef, h, prev = ctx.saved_tensors
        scratch = ctx.scratch
        n = prev.numel()
        ar = torch.arange(n, device=prev.device)
        nxt = _to_successors(prev, ar, ar)  # the node continuing each node, itself at chain ends
        coef_next = _to_successors(prev, coef, torch.zeros_like(coef))  # a of the successor, 0 at chain ends
        scratch = scratch if scratch.shape == grad.shape and scratch.dtype == grad.dtype else None
        gtil, used, scratch = _pointer_jump(coef_next, grad, nxt, ctx.steps, inplace=True, scratch=scratch)
        grad_a = None
        if ctx.needs_input_grad[0]:
            # h_{prev(i)} (h_i at chain starts, masked below), into the scan's gather buffer when it has one
            h_prev = torch.index_select(h, 0, self_pointers(prev), out=scratch) if used else h[self_pointers(prev)]
            grad_a = h_prev.mul_(gtil).sum_to_size(ctx.a_shape).masked_fill_(_start_mask(prev, coef), 0.0)
        return grad_a, gtil if ctx.needs_input_grad[1] else None, None, None


def linear_recurrence(a: Tensor, b: Tensor, prev: Tensor, chain_length: int | None = None) -> Tensor:
    r"""Solve :math:`\mathbf{h}_i = a_i \mathbf{h}_{\mathrm{prev}(i)} + \mathbf{b}_i` for all nodes in parallel.

    Args:
        a: (N, ...) coefficients, broadcastable against ``b`` (e.g. ``(N, H, 1)`` per-head gates).
        b: (N, ...) inputs.
        prev: (N,) index of each node's predecessor, ``-1`` at chain starts. Links must not form cycles.
            When every node is the predecessor of at most one node (chains, as ``FrameInstanceBatch.inst_prev``
            gives), the backward pass is a reverse scan; otherwise (trees) autograd runs through the steps.
        chain_length: an upper bound on the number of nodes in any chain (e.g. the batch's largest frame
            count). Given, the step count is static and nothing depends on the data's values (no host
            sync, no data-dependent shape: ``torch.compile(fullgraph=True)`` traces forward and backward);
            ``None`` iterates until every running product is zero (one host sync per step).

    Returns:
        (N, ...) tensor ``h`` of the broadcast shape of ``a`` and ``b`` (differentiable in ``a`` and ``b``).

    Raises:
        RGTrmInputError: ``prev`` malformed or cyclic, or ``chain_length`` shorter than a chain (checked in
            eager mode after the last step: one host sync).
    """
    steps = chain_steps(chain_length) if chain_length is not None else None
    if not torch.jit.is_scripting():
        _check(a, b, prev)
        if torch.compiler.is_compiling() or _is_chains(prev):
            return _LinearScan.apply(a, b.expand(torch.broadcast_shapes(a.shape, b.shape)), prev, steps)
    # trees, and TorchScript (which cannot compile a custom autograd function): autograd through the steps
    coef = a.masked_fill(_start_mask(prev, a), 0.0)
    return _pointer_jump(coef, b, self_pointers(prev), steps)[0]


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
