"""``--backbone-path``: a locally saved pretrained UNet3D, DSG fusion as a zero-init adapter, base frozen."""

import pytest
import torch
from diffusers import UNet3DConditionModel
from real_fixtures import save_tiny_unet3d

from dsg import DSGVocab, EventSchedule, schedule_to_dsg
from vdm.training import TrainConfig
from vdm.training.data import VideoBatch
from vdm.training.pretrained import PretrainedBackboneError, add_lora, merge_lora
from vdm.training.trainer import DenoiserTrainModule, build_models, train

GRAPHS = [
    schedule_to_dsg(EventSchedule.from_tuples([("red circle", p, None, (0, 2))]), text=f"a red circle {p}s")
    for p in ("jump", "grow")
]


class Latents:
    provides_latents = True

    def batch(self, index, batch_size):
        g = torch.Generator().manual_seed(index)
        picks = [GRAPHS[(index + j) % 2] for j in range(batch_size)]
        latents = torch.randn(batch_size, 4, 4, 8, 8, generator=g)
        return VideoBatch(None, [d.text for d in picks], picks, latents=latents)

    def vocab(self):
        return DSGVocab.build(GRAPHS)


@pytest.fixture(scope="module")
def unet_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("modelscope")
    save_tiny_unet3d(root / "unet")  # the pipeline-folder layout: <root>/unet/config.json
    return root


def _cfg(unet_dir, out, **kw):
    base = {"output_dir": str(out), "backbone_path": str(unet_dir), "num_frames": 4, "batch_size": 2, "max_steps": 2}
    base.update(dsg_hidden=32, dsg_layers=1, ema_decay=None, warmup_steps=1, checkpoint_every=0, gate_init=0.5)
    return TrainConfig(**{**base, **kw})


def test_step0_is_bit_identical_and_only_the_dsg_branch_trains(unet_dir, tmp_path):
    base = UNet3DConditionModel.from_pretrained(unet_dir / "unet").eval()
    cfg = _cfg(unet_dir, tmp_path / "run")
    denoiser, encoder = build_models(cfg, Latents())
    module = DenoiserTrainModule(denoiser, encoder).eval()
    torch.manual_seed(1)
    x, t, text = torch.randn(2, 4, 4, 8, 8), torch.tensor([10, 700]), torch.randn(2, 7, 384)
    with torch.no_grad():
        want = base(x, t, encoder_hidden_states=text).sample
        got = module(x, t, text, torch.ones(2, 7, dtype=torch.bool), GRAPHS)  # with real DSGs, gate 0
    assert torch.equal(got, want)  # bit-identical, whatever gate_init says: adapter mode forces g = 0
    trainable = {n for n, p in denoiser.named_parameters() if p.requires_grad}
    assert trainable and all(".processor." in n for n in trainable)
    before = {k: v.clone() for k, v in denoiser.state_dict().items() if ".processor." not in k}
    result = train(cfg, Latents())
    after = result["module"].denoiser.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the base stayed frozen
    gates = result["module"].denoiser.fusion.gates()
    assert gates.abs().sum() > 0  # the DSG branch moved
    assert (tmp_path / "run" / "denoiser" / "config.json").exists()


def test_lora_starts_identical_and_merges_away(unet_dir, tmp_path):
    pytest.importorskip("peft")
    cfg = _cfg(unet_dir, tmp_path / "run", stage="text", lora_rank=2)
    denoiser, _ = build_models(cfg, Latents())
    lora = [n for n, p in denoiser.named_parameters() if p.requires_grad]
    assert lora and all("lora_" in n for n in lora)
    x, t, text = torch.randn(1, 4, 4, 8, 8), torch.tensor([5]), torch.randn(1, 7, 384)
    ref = UNet3DConditionModel.from_pretrained(unet_dir / "unet").eval()
    with torch.no_grad():
        assert torch.equal(denoiser.eval()(x, t, text).sample, ref(x, t, encoder_hidden_states=text).sample)
        for n, p in denoiser.named_parameters():
            if "lora_B" in n:
                p.normal_()
        adapted = denoiser(x, t, text).sample
        assert merge_lora(denoiser) > 0
        assert not any("lora_" in n for n, _ in denoiser.named_parameters())
        assert torch.allclose(denoiser(x, t, text).sample, adapted, atol=1e-5)


def test_backbone_errors(tmp_path):
    (tmp_path / "config.json").write_text('{"_class_name": "AutoencoderKL"}')
    with pytest.raises(PretrainedBackboneError, match="AutoencoderKL"):
        build_models(_cfg(tmp_path, tmp_path / "run"), Latents())
    with pytest.raises(ValueError, match="lora_rank"):
        TrainConfig(lora_rank=4)  # LoRA is for a pretrained base only
    assert add_lora.__doc__


def test_lora_without_peft_is_a_clear_error(unet_dir, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "peft", None)  # as if peft were not installed
    with pytest.raises(PretrainedBackboneError, match=r"dysen-vdm\[lora\]"):
        build_models(_cfg(unet_dir, tmp_path / "run", lora_rank=2), Latents())
