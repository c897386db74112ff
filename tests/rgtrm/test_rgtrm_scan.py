"""The parallel linear recurrence (pointer jumping) against the per-frame loop and a scalar Python loop."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rgtrm import RGTrmInputError, chain_steps, linear_recurrence, linear_recurrence_loop


@st.composite
def chains(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes in frame order with predecessor links into the previous frame (entities may disappear)."""
    sizes = draw(st.lists(st.integers(0, 4), min_size=1, max_size=9))
    prev, frame, start = [], [], 0
    last: list[int] = []
    for m, n in enumerate(sizes):
        cands = last
        links = draw(st.lists(st.sampled_from(cands), unique=True, max_size=min(n, len(cands)))) if cands else []
        links += [-1] * (n - len(links))
        prev += links
        frame += [m] * n
        last = list(range(start, start + n))
        start += n
    return torch.tensor(prev, dtype=torch.long), torch.tensor(frame, dtype=torch.long)


def scalar_loop(a: torch.Tensor, b: torch.Tensor, prev: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    h = [None] * b.size(0)
    for i in sorted(range(b.size(0)), key=lambda i: int(frame[i])):
        p = int(prev[i])
        h[i] = b[i] if p < 0 else a[i] * h[p] + b[i]
    return torch.stack(h) if h else b.clone()


@settings(max_examples=40)
@given(chains(), st.booleans())
def test_parallel_scan_equals_loops(chain: tuple[torch.Tensor, torch.Tensor], per_channel: bool) -> None:
    prev, frame = chain
    n = prev.numel()
    g = torch.Generator().manual_seed(n)
    a = torch.rand(n, 2, 3 if per_channel else 1, generator=g, dtype=torch.float64)
    b = torch.randn(n, 2, 3, generator=g, dtype=torch.float64)
    want = scalar_loop(a, b, prev, frame)
    bound = int(frame.max()) + 1 if n else 0
    torch.testing.assert_close(linear_recurrence(a, b, prev), want)
    torch.testing.assert_close(linear_recurrence(a, b, prev, chain_length=bound), want)
    torch.testing.assert_close(linear_recurrence_loop(a, b, prev, frame), want)


def test_gradients_match_reference() -> None:
    prev = torch.tensor([-1, -1, 0, 1, 2, -1, 4, 5])
    frame = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    a = torch.rand(8, 3, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(8, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: linear_recurrence(a, b, prev, 4), (a, b))
    w = torch.randn(8, 3, 4, dtype=torch.float64)
    ra, rb = torch.autograd.grad((scalar_loop(a, b, prev, frame) * w).sum(), (a, b))
    for fn in (lambda: linear_recurrence(a, b, prev), lambda: linear_recurrence_loop(a, b, prev, frame)):
        ga, gb = torch.autograd.grad((fn() * w).sum(), (a, b))
        torch.testing.assert_close(ga, ra)
        torch.testing.assert_close(gb, rb)


def test_long_chain_is_stable_with_gates_near_one() -> None:
    n = 300  # a closed form with cumprod would divide by ~0.5**300
    prev = torch.arange(-1, n - 1)
    a = torch.full((n, 1), 0.5, dtype=torch.float32)
    b = torch.ones(n, 1)
    h = linear_recurrence(a, b, prev, chain_length=n)
    assert torch.isfinite(h).all()
    torch.testing.assert_close(h[-1], torch.tensor([2.0]), atol=1e-5, rtol=0)


def test_chain_steps() -> None:
    assert [chain_steps(t) for t in (0, 1, 2, 3, 4, 5, 16, 17)] == [0, 0, 1, 2, 2, 3, 4, 5]
    with pytest.raises(RGTrmInputError):
        chain_steps(-1)


def test_bad_inputs_raise_typed_errors() -> None:
    a, b = torch.rand(3, 1), torch.rand(3, 1)
    with pytest.raises(RGTrmInputError, match="chain_length"):
        linear_recurrence(a, b, torch.tensor([-1, 0, 1]), chain_length=2)
    with pytest.raises(RGTrmInputError, match="cycle"):
        linear_recurrence(a, b, torch.tensor([2, 0, 1]))
    with pytest.raises(RGTrmInputError, match="prev"):
        linear_recurrence(a, b, torch.tensor([-1, 0]))
    with pytest.raises(RGTrmInputError, match="prev"):
        linear_recurrence(a, b, torch.tensor([-1.0, 0.0, 1.0]))


def test_trees_fall_back_to_autograd() -> None:
    """A node may be the predecessor of several (a tree): forward and gradients still match the loop."""
    prev = torch.tensor([-1, 0, 0, 1, 2, 2])
    frame = torch.tensor([0, 1, 1, 2, 2, 2])
    a = torch.rand(6, 2, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 2, 3, dtype=torch.float64)
    want = scalar_loop(a, b, prev, frame)
    got = linear_recurrence(a, b, prev)
    torch.testing.assert_close(got, want)
    ga, gb = torch.autograd.grad((got * w).sum(), (a, b))
    ra, rb = torch.autograd.grad((want * w).sum(), (a, b))
    torch.testing.assert_close(ga, ra)
    torch.testing.assert_close(gb, rb)
