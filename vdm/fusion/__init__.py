"""DSG fusion (paper eq. 6) as diffusers attention processors."""

from .install import DSGFusion, cross_attention_layers, keep_fusion_processors, set_attention_slice
from .processor import DSGFusionAttnProcessor, DSGFusionError, head_count

__all__ = [
    "DSGFusion",
    "DSGFusionAttnProcessor",
    "DSGFusionError",
    "cross_attention_layers",
    "head_count",
    "keep_fusion_processors",
    "set_attention_slice",
]
