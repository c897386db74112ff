"""DSG fusion (eq. 6) as diffusers attention processors."""

import pytest
import torch
from diffusers import LatteTransformer3DModel, UNet3DConditionModel

from vdm.fusion import DSGFusion, DSGFusionAttnProcessor, DSGFusionError
from vdm.models import PRESETS, DSGVideoDenoiser

UNET = dict(PRESETS["unet3d-tiny"][1], cross_attention_dim=32)
LATTE = dict(PRESETS["latte-tiny"][1], caption_channels=32, num_layers=2, video_length=4)


def _inputs(b=2, f=4, n=5, d=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 4, f, 8, 8, generator=g)
    t = torch.tensor([10, 700][:b])
    txt = torch.randn(b, 6, 32, generator=g)
    states = torch.randn(b * f, n, d, generator=g)
    mask = torch.rand(b * f, n, generator=g) > 0.3
    return x, t, txt, states, mask


@pytest.mark.parametrize("kind", ["unet3d", "latte"])
def test_adapter_mode_leaves_pretrained_backbone_unchanged(kind, tmp_path):
    """A pretrained backbone loaded from a local folder computes exactly what it did before, at gate 0."""
    torch.manual_seed(0)
    if kind == "unet3d":
        UNet3DConditionModel(**UNET).save_pretrained(tmp_path)
        net = UNet3DConditionModel.from_pretrained(tmp_path)
    else:
        LatteTransformer3DModel(**LATTE).save_pretrained(tmp_path)
        net = LatteTransformer3DModel.from_pretrained(tmp_path)
    x, t, txt, states, mask = _inputs()

    def run():
        if kind == "unet3d":
            return net(x, t, txt).sample
        return net(x, timestep=t, encoder_hidden_states=txt).sample

    ref = run()
    fusion = DSGFusion(net, dsg_dim=24)
    assert len(fusion.processors) > 0
    with fusion.condition(states, mask):
        same = run()
    assert torch.equal(same, ref)
    # the DSG branch is live: with an open gate the output depends on the DSG tokens
    for p in fusion.processors:
        p.gate.data.fill_(1.0)
    with fusion.condition(states, mask):
        a = run()
    with fusion.condition(states + 1.0, mask):
        b = run()
    assert not torch.allclose(a, b)
    # and gradients reach the fusion parameters
    with fusion.condition(states, mask):
        run().square().mean().backward()
    assert all(p.grad is not None for p in fusion.parameters() if p.requires_grad)


def test_processor_is_frame_aligned_and_masked():
    from diffusers.models.attention_processor import Attention

    torch.manual_seed(0)
    attn = Attention(query_dim=32, cross_attention_dim=16, heads=4, dim_head=8)
    proc = DSGFusionAttnProcessor(32, 24, heads=4, base_processor=attn.processor, gate_init=1.0)
    attn.set_processor(proc)
    h = torch.randn(6, 10, 32)  # 2 videos x 3 frames folded into the batch
    txt = torch.randn(6, 4, 16)
    states = torch.randn(6, 5, 24)
    mask = torch.ones(6, 5, dtype=torch.bool)
    mask[:, 3:] = False
    with torch.no_grad():
        proc.set_condition(states, mask)
        base = attn(h, txt)
        changed = states.clone()
        changed[4] += 3.0  # the scene graph of video 1, frame 1
        proc.set_condition(changed, mask)
        out = attn(h, txt)
        diff = (out - base).abs().amax(dim=(1, 2))
        assert diff[4] > 0 and torch.all(diff[[0, 1, 2, 3, 5]] == 0)
        padded = states.clone()
        padded[:, 3:] = 100.0  # padding tokens never matter
        proc.set_condition(padded, mask)
        assert torch.equal(attn(h, txt), base)
        # an all-masked frame attends to the null token only: finite output
        proc.set_condition(states, torch.zeros_like(mask))
        assert torch.isfinite(attn(h, txt)).all()


def test_fusion_errors_name_the_problem():
    from diffusers.models.attention_processor import Attention

    attn = Attention(query_dim=32, cross_attention_dim=16, heads=4, dim_head=8)
    proc = DSGFusionAttnProcessor(32, 24, heads=4, base_processor=attn.processor)
    attn.set_processor(proc)
    h, txt = torch.randn(6, 10, 32), torch.randn(6, 4, 16)
    proc.set_condition(torch.randn(3, 5, 24))
    with pytest.raises(DSGFusionError, match="cover 3 frames but the hidden states have 6"):
        attn(h, txt)
    proc.set_condition(torch.randn(6, 5, 7))
    with pytest.raises(DSGFusionError, match=r"\(B\*F, N, 24\)"):
        attn(h, txt)
    proc.set_condition(torch.randn(6, 5, 24), torch.ones(6, 4, dtype=torch.bool))
    with pytest.raises(DSGFusionError, match="mask"):
        attn(h, txt)
    with pytest.raises(DSGFusionError, match="divisible"):
        DSGFusionAttnProcessor(30, 24, heads=4)
    with pytest.raises(DSGFusionError, match="no cross-attention"):
        DSGFusion(torch.nn.Linear(2, 2), 8)


@pytest.mark.parametrize("preset", ["latte-tiny", "unet3d-tiny"])
def test_denoiser_shapes_save_load_and_text_only(preset, tmp_path):
    torch.manual_seed(0)
    name, cfg = PRESETS[preset]
    cfg = dict(cfg, **({"video_length": 4} if name == "latte" else {}))
    den = DSGVideoDenoiser(name, cfg, dsg_dim=24, gate_init=0.5).eval()
    x = torch.randn(2, 4, 4, 8, 8)
    txt = torch.randn(2, 6, 384)
    tm = torch.ones(2, 6, dtype=torch.bool)
    g, gm = torch.randn(2, 4, 5, 24), torch.rand(2, 4, 5) > 0.2
    out = den(x, torch.tensor([3, 900]), txt, tm, g, gm).sample
    assert out.shape == x.shape
    null = den(x, torch.tensor([3, 900]), txt, tm).sample  # null DSG
    assert not torch.allclose(out, null)
    den.save_pretrained(tmp_path)
    again = DSGVideoDenoiser.from_pretrained(tmp_path).eval()
    assert torch.allclose(again(x, torch.tensor([3, 900]), txt, tm, g, gm).sample, out, atol=1e-6)
    with pytest.raises(DSGFusionError, match=r"dsg_states must be \(B=2, F=4"):
        den(x, 3, txt, tm, torch.randn(2, 3, 5, 24))
    text_only = DSGVideoDenoiser(name, cfg, dsg_dim=None)
    assert not text_only.uses_dsg
    with pytest.raises(DSGFusionError, match="text-only"):
        text_only(x, 3, txt, tm, g, gm)
