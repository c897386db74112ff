#!/usr/bin/env bash
# Prepare, on this CPU machine, what the lent GPU machine lacks for scripts/gpu_train.sh (it has torch+CUDA,
# torch-geometric, transformers and accelerate, but not diffusers, spaCy or the offline text encoder):
#   .whl/    the diffusers wheel (python 3.12)                       -> carry ".whl"
#   .carry/  the text encoder (all-MiniLM-L6-v2) in fp16, and the DSGs of every training caption planned
#            here with the offline Dysen planner (stage III with precomputed DSGs)       -> carry ".carry"
# Both folders are git-ignored via .git/info/exclude. Run: bash scripts/prepare_gpu_carry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TRAIN_SIZE=${TRAIN_SIZE:-8192}
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
grep -qx "/.carry/" .git/info/exclude 2>/dev/null || echo "/.carry/" >> .git/info/exclude
mkdir -p .whl .carry
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl diffusers==0.42.1
HF_HUB_OFFLINE=1 "$PY" - "$TRAIN_SIZE" <<'PYEOF'
import sys
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

from vdm.text import default_text_encoder_path
from vdm.training import TrainConfig
from vdm.training.world_source import WorldSource

src = default_text_encoder_path()
out = Path(".carry/minilm")
AutoTokenizer.from_pretrained(str(src)).save_pretrained(out)
AutoModel.from_pretrained(str(src), dtype=torch.float16).save_pretrained(out, safe_serialization=True)

# the training captions of the world (seeds 0..N-1 of the train split), planned here
import dsg
from dsg import write_jsonl
from vdm.pipelines import load_planner

n = int(sys.argv[1])
cfg = TrainConfig(train_size=n)
world = WorldSource.from_config(cfg)
planner = load_planner(cfg.planner_spec, **cfg.planner_kwargs)
graphs = []
for start in range(0, n, 256):
    _, captions, _ = world.examples(list(range(start, min(n, start + 256))))
    graphs += [planner.plan(c) for c in captions]
write_jsonl(graphs, ".carry/planned.jsonl")
print(f"text encoder -> {out}, {len(graphs)} planned DSGs -> .carry/planned.jsonl")
PYEOF
du -sh .whl .carry
