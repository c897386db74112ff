"""DSG fusion as a diffusers attention processor (paper eq. 6).

Eq. (6) inserts, in every transformer block of the denoiser, a cross-attention to the DSG features
``H_G`` followed by the cross-attention to the text features ``H_Y``::

    Ĥ = softmax(H · H_G / √d) · H_G
    Ĥ ← softmax(Ĥ · H_Y / √d) · H_Y

:class:`DSGFusionAttnProcessor` replaces the processor of a block's *text* cross-attention (diffusers'
``attn2``) and computes, for the normalised hidden states ``H`` the block hands to it::

    D   = tanh(g) · O_G · Attn(Q_G H, K_G [H_G; ∅], V_G [H_G; ∅])      (DSG cross-attention)
    out = D + TextAttn(H + D, H_Y)                                      (text cross-attention, eq. 6)

Readings chosen where eq. (6) is silent, and why:

* **Learned projections.** Eq. (6) writes the attention without projections; like every cross-attention
  in the backbone we use multi-head ``Q_G, K_G, V_G, O_G`` so that the DSG width (RGTrm's hidden size)
  need not equal each block's width.
* **Sequential, as written.** The text cross-attention queries the DSG-fused states ``H + D``.
* **Residual + zero-initialised gate.** ``D`` is also added to the block's residual stream (otherwise DSG
  information would reach the network only through the text attention's queries, and not at all when
  the text is dropped for classifier-free guidance), and is scaled by ``tanh(g)`` with ``g = 0`` at
  initialisation (adapter mode): a *pretrained* backbone computes exactly what it computed before at
  step 0 and learns to use DSGs in stage II. From-scratch models can start with ``gate_init != 0``.
* **A learned null token ∅** is appended to every frame's DSG tokens: the unconditional branch of
  classifier-free guidance and frames with no entity then attend to ∅ instead of to nothing.
* **Frame alignment.** Backbones fold frames into the batch for spatial attention, so the processor
  expects DSG tokens shaped ``(B·F, N, D)`` - frame ``m``'s spatial tokens attend to the scene graph of
  frame ``m`` only, with a ``(B·F, N)`` boolean mask for padding.

DSG tokens reach the processor either through ``cross_attention_kwargs={"dsg_states": ..., "dsg_mask":
...}`` (UNet3D forwards them) or through :meth:`set_condition`, which works for any backbone, including
those that do not forward ``cross_attention_kwargs`` (diffusers' Latte).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DSGFusionAttnProcessor", "DSGFusionError", "head_count"]


@functools.cache
def _accepted_arguments(processor: type) -> tuple[frozenset[str], bool]:
    """The parameter names of a processor class's ``__call__`` and whether it also takes ``**kwargs``; read once
    per class, not on every attention call."""
    params = inspect.signature(processor.__call__).parameters
    return frozenset(params), any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class DSGFusionError(ValueError):
    """DSG tokens do not fit the hidden states they are fused into."""


class DSGFusionAttnProcessor(nn.Module):
    """Cross-attention to per-frame DSG tokens, then the wrapped text cross-attention (eq. 6).

    Args:
        hidden_size: width of the hidden states of the attention layer it is installed on.
        dsg_dim: width of the DSG tokens (RGTrm's output width).
        heads: attention heads of the DSG attention.
        base_processor: the processor that computes the text cross-attention (the layer's original one).
        gate_init: initial gate value ``g`` (0: the backbone is unchanged at initialisation).
    """

    def __init__(
        self,
        hidden_size: int,
        dsg_dim: int,
        heads: int = 4,
        base_processor: Any = None,
        gate_init: float = 0.0,
    ) -> None:
        super().__init__()
        if hidden_size % heads:
            raise DSGFusionError(f"hidden_size={hidden_size} is not divisible by heads={heads}")
        self.hidden_size, self.dsg_dim, self.heads = hidden_size, dsg_dim, heads
        self.to_q = nn.Linear(hidden_size, hidden_size, bias=False)
        self.to_k = nn.Linear(dsg_dim, hidden_size, bias=False)
        self.to_v = nn.Linear(dsg_dim, hidden_size, bias=False)
        self.to_out = nn.Linear(hidden_size, hidden_size)
        self.null_token = nn.Parameter(torch.zeros(1, 1, dsg_dim))
        self.gate = nn.Parameter(torch.full((1,), float(gate_init)))
        self.gate_init = float(gate_init)
        if base_processor is None:
            from diffusers.models.attention_processor import AttnProcessor2_0

            base_processor = AttnProcessor2_0()
        self.base_processor = base_processor
        self._states: torch.Tensor | None = None
        self._mask: torch.Tensor | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.to_q, self.to_k, self.to_v):
            nn.init.xavier_uniform_(lin.weight)
        nn.init.xavier_uniform_(self.to_out.weight, gain=0.5)
        nn.init.zeros_(self.to_out.bias)
        nn.init.normal_(self.null_token, std=0.02)
        with torch.no_grad():
            self.gate.fill_(self.gate_init)

    def set_condition(self, states: torch.Tensor | None, mask: torch.Tensor | None = None) -> None:
        """Set (or clear, with ``None``) the DSG tokens used when none come through ``cross_attention_kwargs``."""
        self._states, self._mask = states, mask

    def dsg_attention(
        self, hidden_states: torch.Tensor, states: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """``tanh(g) · O_G · Attn(Q_G H, K_G [H_G; ∅], V_G [H_G; ∅])`` for ``H`` (B·F, L, C), ``H_G`` (B·F, N, D)."""
        bf, length, _ = hidden_states.shape
        if states.dim() != 3 or states.shape[-1] != self.dsg_dim:
            raise DSGFusionError(f"DSG tokens must be (B*F, N, {self.dsg_dim}), got {tuple(states.shape)}")
        if states.shape[0] != bf:
            raise DSGFusionError(
                f"DSG tokens cover {states.shape[0]} frames but the hidden states have {bf} (batch x frames); "
                "pass one token set per frame of every video (classifier-free guidance doubles the batch)"
            )
        states = states.to(hidden_states.dtype)
        tokens = torch.cat([states, self.null_token.to(states.dtype).expand(bf, 1, -1)], dim=1)
        keep = torch.ones(bf, tokens.shape[1], dtype=torch.bool, device=tokens.device)
        if mask is not None:
            if mask.shape != states.shape[:2]:
                raise DSGFusionError(f"DSG mask must be {tuple(states.shape[:2])}, got {tuple(mask.shape)}")
            keep[:, :-1] = mask.to(torch.bool)
        h, d = self.heads, self.hidden_size // self.heads
        q = self.to_q(hidden_states).view(bf, length, h, d).transpose(1, 2)
        k = self.to_k(tokens).view(bf, -1, h, d).transpose(1, 2)
        v = self.to_v(tokens).view(bf, -1, h, d).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])
        out = self.to_out(out.transpose(1, 2).reshape(bf, length, h * d))
        return torch.tanh(self.gate) * out

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        dsg_states: torch.Tensor | None = None,
        dsg_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """diffusers calls a processor directly (not through ``forward``) and reads this signature to pick the
        ``cross_attention_kwargs`` it takes. Under accelerate's offloading this module's own weights (the gate and
        the null token) come in through its hook, as :func:`diffusers.utils.accelerate_utils.apply_forward_hook`
        does for methods other than ``forward``."""
        hook = getattr(self, "_hf_hook", None)
        if hook is not None:
            hook.pre_forward(self)
        states = dsg_states if dsg_states is not None else self._states
        mask = dsg_mask if dsg_states is not None else self._mask
        if states is None:
            out = self._text_attention(attn, hidden_states, encoder_hidden_states, attention_mask, temb, kwargs)
        else:
            if hidden_states.dim() != 3:
                raise DSGFusionError(
                    f"expected (batch, tokens, channels) hidden states, got {tuple(hidden_states.shape)}"
                )
            fused = self.dsg_attention(hidden_states, states, mask)
            text = self._text_attention(
                attn, hidden_states + fused, encoder_hidden_states, attention_mask, temb, kwargs
            )
            out = text + fused
        return out if hook is None else hook.post_forward(self, out)

    def _text_attention(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        temb: torch.Tensor | None,
        kwargs: dict[str, Any],
    ) -> torch.Tensor:
        """The wrapped processor, given only the arguments its signature takes (as ``Attention.forward`` does for
        any processor): diffusers' sliced processor, for one, takes no ``temb``."""
        params, any_kwargs = _accepted_arguments(type(self.base_processor))
        if not any_kwargs:
            kwargs = {k: v for k, v in kwargs.items() if k in params}
        if temb is not None or "temb" in params:
            kwargs["temb"] = temb
        return self.base_processor(attn, hidden_states, encoder_hidden_states, attention_mask, **kwargs)

    # nn.Module defines __call__ -> forward; keep diffusers' calling convention on __call__ and make forward an alias
    forward = __call__

    def extra_repr(self) -> str:
        return f"hidden={self.hidden_size}, dsg_dim={self.dsg_dim}, heads={self.heads}, gate_init={self.gate_init}"


def head_count(hidden_size: int, preferred: int = 4) -> int:
    """The largest divisor of ``hidden_size`` that is <= ``preferred`` (at least 1)."""
    for h in range(min(preferred, hidden_size), 0, -1):
        if hidden_size % h == 0:
            return h
    return 1
