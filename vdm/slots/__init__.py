"""The embedded default model: object-centric latent video diffusion that learns on a 2-core CPU.

* :class:`SlotAutoencoder` (stage I): one latent token per entity per frame (where / colour / learned
  glyph code), decoded by a learned glyph network placed by a spatial transformer and composited;
* :class:`SlotDenoiser` (stages II/III): a transformer over the slot tokens, each conditioned on its own
  entity's RGTrm token, with the DSG then text cross-attention of paper eq. 6, trained by flow matching;
* :class:`SlotVDMPipeline`: prompt -> planner -> DSG -> video, the interface of :class:`vdm.DysenVDMPipeline`;
* :mod:`vdm.slots.recipe`: the resumable training command (scores: :mod:`vdm.training.world_eval`).

Why this departs from the paper's pixel-grid latent: docs/training.md (measured candidates).
"""

from .autoencoder import SlotAutoencoder, SlotAutoencoderError
from .denoiser import SlotDenoiser, SlotDenoiserOutput
from .pipeline import SlotVDMPipeline

__all__ = ["SlotAutoencoder", "SlotAutoencoderError", "SlotDenoiser", "SlotDenoiserOutput", "SlotVDMPipeline"]
