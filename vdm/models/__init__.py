"""Denoiser backbones and the DSG-conditioned video denoiser."""

from .backbones import BACKBONES, PRESETS, Backbone, build_backbone, register_backbone
from .denoiser import DenoiserOutput, DSGVideoDenoiser

__all__ = [
    "BACKBONES",
    "PRESETS",
    "Backbone",
    "DSGVideoDenoiser",
    "DenoiserOutput",
    "build_backbone",
    "register_backbone",
]
