"""The default model's denoiser: a transformer over slot tokens (one per entity per frame).

Every token ``(m, e)`` (frame ``m``, entity ``e``) of the slot latent (:mod:`vdm.slots.autoencoder`) is
embedded and given the frame's position embedding and *its own entity's* DSG tokens: the mean of the
entity's tokens over all frames (a static identity: label, attributes, what it does in the video) and,
through a zero-initialised projection, its token of frame ``m`` (what it does now). It then passes
``depth`` blocks of

1. self-attention over all ``F x E`` tokens of the video (within a frame and along every entity's track),
   modulated by the diffusion time (adaLN-zero, as in DiT);
2. the DSG cross-attention of paper eq. 6, first line: ``Ĥ = softmax(H·H_G/√d)·H_G``, where the tokens of
   frame ``m`` attend to the DSG tokens of frame ``m`` only (scene graph ``m`` conditions frame ``m``);
3. the text cross-attention of eq. 6, second line: ``Ĥ ← softmax(Ĥ·H_Y/√d)·H_Y``;
4. an MLP.

Each cross-attention is residual and has a learned null key/value, so a frame with no DSG tokens (the
unconditional branch of classifier-free guidance) or an empty prompt is well defined; this is the same
reading of eq. 6 as :mod:`vdm.fusion` (docs/vdm.md).

With ``use_dsg=False`` (the "w/o Dysen" ablation, paper Table 4) there is no DSG branch: each slot gets a
learned slot-index embedding instead of its entity's DSG token and only the text cross-attention remains.

The model predicts the flow-matching velocity ``v = ε - x_0`` of ``x_t = (1 - t)·x_0 + t·ε`` (rectified
flow; sampled with diffusers' ``FlowMatchEulerDiscreteScheduler``), chosen for few-step sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import Tensor, nn

__all__ = ["SlotDenoiser", "SlotDenoiserOutput"]


@dataclass
class SlotDenoiserOutput(BaseOutput):
    """``sample``: the predicted velocity, ``(B, F, E, Z)``."""

    sample: Tensor


def _bias(mask: Tensor | None, batch: int, length: int, ref: Tensor) -> Tensor:
    """Additive attention bias ``(batch, 1, 1 + length)``: the null key always visible, masked keys -inf."""
    keep = torch.ones(batch, 1 + length, dtype=torch.bool, device=ref.device)
    if mask is not None:
        keep[:, 1:] = mask
    bias = torch.zeros(keep.shape, dtype=ref.dtype, device=ref.device).masked_fill(~keep, torch.finfo(ref.dtype).min)
    return bias.unsqueeze(1)


class _CrossAttention(nn.Module):
    """Residual cross-attention with a learned null key (diffusers ``Attention``, its default processor)."""

    def __init__(self, width: int, context_dim: int, heads: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.null = nn.Parameter(torch.zeros(1, 1, context_dim))
        self.attn = Attention(width, cross_attention_dim=context_dim, heads=heads, dim_head=width // heads)
        nn.init.zeros_(self.attn.to_out[0].weight)
        nn.init.zeros_(self.attn.to_out[0].bias)

    def forward(self, x: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        ctx = torch.cat([self.null.to(context.dtype).expand(context.shape[0], -1, -1), context], dim=1)
        bias = _bias(mask, x.shape[0], context.shape[1], x)
        return x + self.attn(self.norm(x), encoder_hidden_states=ctx, attention_mask=bias)


class _Block(nn.Module):
    def __init__(self, width: int, heads: int, dsg_dim: int | None, text_dim: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.attn = Attention(width, heads=heads, dim_head=width // heads)
        self.dsg = _CrossAttention(width, dsg_dim, heads) if dsg_dim else None
        self.text = _CrossAttention(width, text_dim, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        self.modulation = nn.Linear(width, 6 * width)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(
        self,
        x: Tensor,
        temb: Tensor,
        frames: int,
        dsg: Tensor | None,
        dsg_mask: Tensor | None,
        text: Tensor,
        text_mask: Tensor | None,
    ) -> Tensor:
        b, n, w = x.shape
        sh1, sc1, g1, sh2, sc2, g2 = self.modulation(temb).unsqueeze(1).chunk(6, dim=-1)
        x = x + g1 * self.attn(self.norm1(x) * (1 + sc1) + sh1)
        if self.dsg is not None and dsg is not None:
            # eq. 6, line 1, frame-aligned: the E tokens of frame m attend to the DSG tokens of frame m
            e = n // frames
            per_frame = x.view(b * frames, e, w)
            ctx = dsg.reshape(b * frames, dsg.shape[2], dsg.shape[3])
            m = None if dsg_mask is None else dsg_mask.reshape(b * frames, -1)
            x = self.dsg(per_frame, ctx, m).view(b, n, w)
        x = self.text(x, text, text_mask)  # eq. 6, line 2
        return x + g2 * self.mlp(self.norm2(x) * (1 + sc2) + sh2)


class SlotDenoiser(ModelMixin, ConfigMixin):
    """Velocity predictor over slot latents ``(B, F, E, latent_dim)``.

    Args:
        latent_dim: numbers per slot token (``SlotAutoencoder.latent_dim``).
        num_frames: most frames (rows of the frame position table).
        max_slots: slots of the text-only model (it has no DSG to tell how many entities there are).
        width, depth, heads, mlp_ratio: transformer size.
        dsg_dim: width of the DSG entity tokens (``DSGConditionEncoder.hidden``); ``None``: text-only.
        text_dim: width of the text encoder's states.
    """

    @register_to_config
    def __init__(
        self,
        latent_dim: int = 10,
        num_frames: int = 16,
        max_slots: int = 4,
        width: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        dsg_dim: int | None = 128,
        text_dim: int = 384,
    ) -> None:
        super().__init__()
        self.proj_in = nn.Linear(latent_dim, width)
        self.frame_pos = nn.Parameter(torch.randn(num_frames, width) * 0.02)
        if dsg_dim:
            self.entity_norm = nn.LayerNorm(dsg_dim)
            self.entity_static = nn.Linear(dsg_dim, width)
            self.entity_frame = nn.Linear(dsg_dim, width)
            nn.init.zeros_(self.entity_frame.weight)
            nn.init.zeros_(self.entity_frame.bias)
        else:
            self.slot_emb = nn.Parameter(torch.randn(max_slots, width) * 0.02)
        self.time_proj = Timesteps(width, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(width, width)
        self.blocks = nn.ModuleList(_Block(width, heads, dsg_dim, text_dim, mlp_ratio) for _ in range(depth))
        self.norm_out = nn.LayerNorm(width, elementwise_affine=False)
        self.out_modulation = nn.Linear(width, 2 * width)
        self.proj_out = nn.Linear(width, latent_dim)
        for layer in (self.out_modulation, self.proj_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    @property
    def uses_dsg(self) -> bool:
        return bool(self.config.dsg_dim)

    def forward(
        self,
        sample: Tensor,
        timestep: Tensor | float,
        text: Tensor,
        text_mask: Tensor | None = None,
        dsg: Tensor | None = None,
        dsg_mask: Tensor | None = None,
        return_dict: bool = True,
    ) -> SlotDenoiserOutput | tuple[Tensor]:
        """``sample (B, F, E, Z)`` at ``timestep`` (0..1000, ``t·1000``), text states ``(B, T, text_dim)`` and
        mask, DSG entity tokens ``(B, F, E, dsg_dim)`` and their ``(B, E)`` mask
        (:meth:`vdm.models.DSGConditionEncoder.entity_tokens`)."""
        b, f, e, z = sample.shape
        if f > self.config.num_frames:
            raise ValueError(f"{f} frames but the model has positions for {self.config.num_frames}")
        x = self.proj_in(sample) + self.frame_pos[:f].view(1, f, 1, -1)
        if self.uses_dsg:
            if dsg is None or dsg.shape[:3] != (b, f, e):
                got = None if dsg is None else tuple(dsg.shape)
                raise ValueError(f"dsg entity tokens must be (B, F, E, D) = ({b}, {f}, {e}, D), got {got}")
            tok = self.entity_norm(dsg.to(x.dtype))
            x = x + self.entity_static(tok.mean(dim=1, keepdim=True)) + self.entity_frame(tok)
            frame_mask = None if dsg_mask is None else dsg_mask.unsqueeze(1).expand(b, f, e)
        else:
            if e > self.config.max_slots:
                raise ValueError(f"{e} slots but the text-only model has {self.config.max_slots}")
            x = x + self.slot_emb[:e].view(1, 1, e, -1)
            frame_mask = None
        t = torch.as_tensor(timestep, device=sample.device, dtype=torch.float32).reshape(-1).expand(b)
        temb = self.time_embed(self.time_proj(t).to(x.dtype))
        tokens = x.reshape(b, f * e, -1)
        for block in self.blocks:
            tokens = block(tokens, temb, f, dsg if self.uses_dsg else None, frame_mask, text.to(x.dtype), text_mask)
        shift, scale = self.out_modulation(temb).unsqueeze(1).chunk(2, dim=-1)
        out = self.proj_out(self.norm_out(tokens) * (1 + scale) + shift).view(b, f, e, z)
        return SlotDenoiserOutput(out) if return_dict else (out,)
