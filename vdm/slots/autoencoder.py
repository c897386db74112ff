"""Object-centric latent space (stage I of the default model): one latent token per entity per frame.

Paper §4.3 trains a frame autoencoder first (stage I) and runs diffusion in its latent space. The default
CPU model keeps that structure, but its latent is *object-centric*: a video with ``E`` entities and
``F`` frames is ``F x E`` tokens of ``6 + k`` numbers, one per instance of the DSG's
frame-instance graph, so that RGTrm's output for an entity instance can condition exactly that entity's
token (see :mod:`vdm.slots.denoiser`).

Each token is the "what / where / presence" split of Attend-Infer-Repeat (Eslami et al., 2016) and SPAIR:

``z = [x, y, log s, r, g, b, w_1 .. w_k]``

* ``x, y`` (*where*): the centroid of the entity's pixel mask, in ``[-1, 1]`` frame coordinates;
* ``log s``: ``s = sqrt(area) / width``, the entity's scale;
* ``r, g, b`` (*presence* and colour): the mean pixel value over the mask minus the background, i.e. the
  entity's colour premultiplied by its opacity; ``0`` where it is invisible (before it appears, after it
  disappears), which is how a token says "not there";
* ``w`` (*what*, ``k`` learned numbers): a small CNN's code of the entity's mask in a window centred on
  the centroid and scaled by ``s`` (so it holds shape and angle, not place or size).

The decoder is learned where it matters and analytic where it does not: a glyph network turns ``w`` into
an alpha map in the canonical window, the window is placed at ``(x, y)`` with scale ``s`` by
``grid_sample`` (a spatial transformer), and the frame is the background plus the sum of the entities'
alpha-weighted colours (entities of the procedural world never overlap, so the sum is exact).

Departure from the paper, and why (measured, docs/training.md): a per-frame ``AutoencoderKL`` latent
(f = 4) capped every denoiser we tried at 47-61 % clean reconstructions after 600 CPU steps, and one flat
token per frame did not learn; a slot autoencoder with a per-pixel MLP decoder (FACTS.md, sixth probe)
reached 61 % and rounded the shapes. Reading *where* and *colour* from the masks (the world gives them,
``render_batch``) and learning only the glyph makes stage I exact where it can be and leaves the
diffusion model a latent whose motions are straight lines. The encoder needs per-entity masks, so this
latent is for data that has them (the world; segmentation masks of real video); the paper's
``AutoencoderKL`` presets stay for everything else.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import Tensor, nn

__all__ = ["GEOMETRY_DIM", "SlotAutoencoder", "SlotAutoencoderError"]

#: Geometric and colour numbers before the learned code: x, y, log s, r, g, b.
GEOMETRY_DIM = 6


class SlotAutoencoderError(ValueError):
    """Inputs of the slot autoencoder have the wrong shape or type (the message names which)."""


def _grid(size: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """``(size, size, 2)`` pixel-centre coordinates in ``[-1, 1]`` (``align_corners=False``), ``(x, y)`` order."""
    ax = (torch.arange(size, device=device, dtype=dtype) * 2 + 1) / size - 1
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def _fill_nearest(values: Tensor, visible: Tensor) -> Tensor:
    """Fill invisible frames of each track with the nearest visible frame's value (earlier wins ties).

    ``values`` ``(B, F, E, D)``, ``visible`` ``(B, F, E)``; tracks never visible keep their values.
    """
    f = values.shape[1]
    idx = torch.arange(f, device=values.device).view(1, f, 1, 1)
    big = torch.full_like(visible, 10 * f, dtype=torch.long).unsqueeze(-1)
    frames = torch.where(visible.unsqueeze(-1), idx.expand(*visible.shape, 1), big)  # (B, F, E, 1)
    # distance from every frame t to every visible frame u of the same track: pick the nearest u
    dist = (idx.view(1, f, 1, 1, 1) - frames.view(frames.shape[0], 1, f, frames.shape[2], 1)).abs()
    nearest = dist.argmin(dim=2)  # (B, F, E, 1)
    out = torch.gather(values, 1, nearest.expand(-1, -1, -1, values.shape[-1]))
    return torch.where(visible.any(dim=1, keepdim=True).unsqueeze(-1), out, values)


class SlotAutoencoder(ModelMixin, ConfigMixin):
    """Encode videos + per-entity masks into slot latents ``(B, F, E, 6 + k)`` and decode them into frames.

    Args:
        sample_size: frame height and width in pixels.
        code_dim: ``k``, the learned *what* numbers per token.
        window: half-width of the canonical window in units of ``sqrt(area)`` (1.0 covers the world's
            circle, square and triangle with a margin).
        crop_size: pixels of the canonical window seen by the encoder and drawn by the glyph network.
        channels: width of the encoder and glyph CNNs.
        background: background colour in ``[0, 1]``.
        latent_mean, latent_std: per-number statistics of the latents over training data; the diffusion
            model works on ``(z - mean) / std`` (:meth:`normalize`), like Stable Diffusion's ``scaling_factor``.
    """

    @register_to_config
    def __init__(
        self,
        sample_size: int = 32,
        code_dim: int = 4,
        window: float = 1.0,
        crop_size: int = 16,
        channels: int = 32,
        background: tuple[float, float, float] = (0.0, 0.0, 0.0),
        latent_mean: list[float] | None = None,
        latent_std: list[float] | None = None,
    ) -> None:
        super().__init__()
        if crop_size % 4:
            raise SlotAutoencoderError(f"crop_size must be a multiple of 4, got {crop_size}")
        c = channels
        self.encoder_net = nn.Sequential(
            nn.Conv2d(1, c // 2, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Flatten(),
            nn.Linear(c * (crop_size // 4) ** 2, code_dim),
        )
        self.glyph_in = nn.Linear(code_dim, c * (crop_size // 4) ** 2)
        self.glyph_net = nn.Sequential(
            nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c, c, 3, padding=1),
            nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c, c // 2, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c // 2, 1, 3, padding=1),
        )
        dim = GEOMETRY_DIM + code_dim
        mean = torch.tensor(latent_mean if latent_mean is not None else [0.0] * dim)
        std = torch.tensor(latent_std if latent_std is not None else [1.0] * dim)
        if mean.shape != (dim,) or std.shape != (dim,):
            raise SlotAutoencoderError(f"latent_mean and latent_std need {dim} numbers each")
        self.register_buffer("z_mean", mean, persistent=False)
        self.register_buffer("z_std", std, persistent=False)

    # -- sizes -------------------------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return GEOMETRY_DIM + int(self.config.code_dim)

    def _background(self, ref: Tensor) -> Tensor:
        return torch.tensor(self.config.background, device=ref.device, dtype=ref.dtype)

    def _window(self, xy: Tensor, log_s: Tensor, size: int) -> Tensor:
        """Sampling grid ``(N, size, size, 2)`` of each token's canonical window in frame coordinates."""
        half = 2 * self.config.window * log_s.exp()  # sqrt(area)/W -> half-width in [-1, 1] units
        return xy[:, None, None, :] + half[:, None, None, None] * _grid(size, xy.device, xy.dtype)

    # -- encoder -----------------------------------------------------------------------------------------
    def geometry(self, video: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, F, E, 6)`` = x, y, log s, premultiplied colour (invisible frames filled from the nearest
        visible frame, colour 0 there) and the ``(B, F, E)`` visibility, from ``video (B, F, 3, H, W)`` in
        ``[0, 1]`` and ``masks (B, F, E, H, W)``."""
        self._check(video, masks)
        m = masks.to(video.dtype)
        h, w = m.shape[-2:]
        area = m.sum(dim=(-1, -2))
        vis = area > 0
        safe = area.clamp_min(1.0)
        ys = (torch.arange(h, device=m.device, dtype=m.dtype) * 2 + 1) / h - 1
        xs = (torch.arange(w, device=m.device, dtype=m.dtype) * 2 + 1) / w - 1
        cx = (m.sum(-2) * xs).sum(-1) / safe
        cy = (m.sum(-1) * ys).sum(-1) / safe
        log_s = torch.log(safe.sqrt() / w)
        colour = torch.einsum("bfehw,bfchw->bfec", m, video) / safe.unsqueeze(-1) - self._background(video)
        geo = torch.cat([cx.unsqueeze(-1), cy.unsqueeze(-1), log_s.unsqueeze(-1)], dim=-1)
        geo = _fill_nearest(geo, vis)
        colour = torch.where(vis.unsqueeze(-1), colour, torch.zeros_like(colour))
        return torch.cat([geo, colour], dim=-1), vis

    def crops(self, masks: Tensor, geo: Tensor) -> Tensor:
        """Each instance's mask in its canonical window: ``(N, 1, P, P)`` for flat ``masks (N, H, W)``."""
        grid = self._window(geo[:, :2], geo[:, 2], self.config.crop_size)
        return F.grid_sample(masks.unsqueeze(1).float(), grid.to(torch.float32), align_corners=False).to(geo.dtype)

    def encode(self, video: Tensor, masks: Tensor) -> Tensor:
        """Raw slot latents ``(B, F, E, 6 + k)`` of ``video (B, F, 3, H, W)`` in ``[0, 1]`` and its
        per-entity ``masks (B, F, E, H, W)`` (entity order = slot order; empty masks = no entity)."""
        geo, vis = self.geometry(video, masks)
        b, f, e = vis.shape
        code = torch.zeros(b, f, e, self.config.code_dim, device=video.device, dtype=video.dtype)
        flat = vis.reshape(-1)
        if flat.any():
            crop = self.crops(masks.reshape(-1, *masks.shape[-2:])[flat], geo.reshape(-1, GEOMETRY_DIM)[flat])
            code.view(-1, code.shape[-1])[flat] = self.encode_crops(crop)
        code = _fill_nearest(code, vis)
        return torch.cat([geo, code], dim=-1)

    def encode_crops(self, crops: Tensor) -> Tensor:
        """The *what* code ``(N, k)`` in ``(-1, 1)`` of canonical crops ``(N, 1, P, P)``."""
        return torch.tanh(self.encoder_net(crops))

    # -- decoder -----------------------------------------------------------------------------------------
    def glyphs(self, code: Tensor) -> Tensor:
        """Alpha logits ``(N, 1, P, P)`` of the canonical window for codes ``(N, k)``."""
        p = self.config.crop_size // 4
        return self.glyph_net(self.glyph_in(code).view(code.shape[0], -1, p, p))

    def alphas(self, z: Tensor, size: int | None = None) -> Tensor:
        """Per-token alpha maps ``(N, H, W)`` in ``[0, 1]`` of flat raw latents ``(N, 6 + k)``."""
        size = size or self.config.sample_size
        glyph = torch.sigmoid(self.glyphs(z[:, GEOMETRY_DIM:]))
        # inverse window: a frame pixel p sits at (p - centre) / half in the canonical window
        half = (2 * self.config.window * z[:, 2].exp()).clamp_min(1e-3)
        grid = (_grid(size, z.device, z.dtype)[None] - z[:, None, None, :2]) / half[:, None, None, None]
        return F.grid_sample(glyph, grid, align_corners=False).squeeze(1)

    def decode(self, z: Tensor, *, size: int | None = None, hard: bool = False) -> Tensor:
        """Frames ``(B, F, 3, H, W)`` in ``[0, 1]`` from raw latents ``(B, F, E, 6 + k)``.

        ``hard`` rounds each alpha map at 0.5 (the world's renderer draws hard edges); training uses the
        soft maps."""
        if z.dim() != 4 or z.shape[-1] != self.latent_dim:
            raise SlotAutoencoderError(f"latents must be (B, F, E, {self.latent_dim}), got {tuple(z.shape)}")
        b, f, e, _ = z.shape
        size = size or self.config.sample_size
        alpha = self.alphas(z.reshape(-1, self.latent_dim), size).view(b, f, e, size, size)
        if hard:
            alpha = (alpha > 0.5).to(alpha.dtype)
        colour = z[..., 3:GEOMETRY_DIM]
        frame = torch.einsum("bfehw,bfec->bfchw", alpha, colour) + self._background(z).view(1, 1, 3, 1, 1)
        return frame.clamp(0.0, 1.0)

    # -- latent scaling ----------------------------------------------------------------------------------
    def normalize(self, z: Tensor) -> Tensor:
        return (z - self.z_mean.to(z.dtype)) / self.z_std.to(z.dtype)

    def denormalize(self, z: Tensor) -> Tensor:
        return z * self.z_std.to(z.dtype) + self.z_mean.to(z.dtype)

    def set_latent_stats(self, z: Tensor) -> None:
        """Set the normalisation from raw latents ``(..., 6 + k)`` of training data (stored in the config)."""
        flat = z.reshape(-1, self.latent_dim).double()
        mean, std = flat.mean(0), flat.std(0).clamp_min(1e-3)
        self.z_mean.copy_(mean.float())
        self.z_std.copy_(std.float())
        self.register_to_config(latent_mean=mean.float().tolist(), latent_std=std.float().tolist())

    # -- losses ------------------------------------------------------------------------------------------
    def reconstruction_loss(self, masks: Tensor, geo: Tensor, code_noise: float = 0.0) -> Tensor:
        """Stage-I loss on visible instances: BCE of the glyph in the canonical window and of the placed
        alpha map in the frame. ``masks (N, H, W)``, ``geo (N, 6)`` from :meth:`geometry`."""
        crop = self.crops(masks, geo)
        code = self.encode_crops(crop)
        if code_noise > 0:
            code = code + code_noise * torch.randn_like(code)
        logits = self.glyphs(code)
        window = F.binary_cross_entropy_with_logits(logits, crop)
        z = torch.cat([geo, code], dim=-1)
        alpha = self.alphas(z, masks.shape[-1]).clamp(1e-6, 1 - 1e-6)
        target = masks.float()
        weight = 1.0 + target * (target.numel() / target.sum().clamp_min(1.0) - 1.0) * 0.5
        frame = F.binary_cross_entropy(alpha, target, weight=weight)
        return window + frame

    @staticmethod
    def _check(video: Tensor, masks: Tensor) -> None:
        if video.dim() != 5 or video.shape[2] != 3:
            raise SlotAutoencoderError(f"video must be (B, F, 3, H, W) in [0, 1], got {tuple(video.shape)}")
        if masks.dim() != 5 or masks.shape[:2] != video.shape[:2] or masks.shape[-2:] != video.shape[-2:]:
            raise SlotAutoencoderError(
                f"masks must be (B, F, E, H, W) matching the video {tuple(video.shape)}, got {tuple(masks.shape)}"
            )
