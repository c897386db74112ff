#!/usr/bin/env bash
# Train the embedded default model end to end: world data cache -> stage I (VAE) -> stage III (denoiser +
# RGTrm with DSGs from the offline planner in the loop) -> export (fp16) -> evaluation on the world's test split.
# Also trains the text-only ablation ("w/o Dysen") with the same budget when ABLATION=1.
#
# The same command runs on a CPU (rehearsal) and on CUDA (the real run): the device is picked automatically.
# It is resumable: run it again and every stage continues from its last checkpoint.
#
#   OUT=outputs/default VAE_STEPS=1500 STEPS=20000 MINUTES=8 bash scripts/train_default.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin/dysen-vdm}
OUT=${OUT:-outputs/default}
VAE_STEPS=${VAE_STEPS:-1500}
STEPS=${STEPS:-20000}
BATCH=${BATCH:-16}
TRAIN_SIZE=${TRAIN_SIZE:-4096}
MINUTES=${MINUTES:-}          # optional wall-time budget of the denoiser stage(s)
ABLATION=${ABLATION:-0}
EVAL_NUM=${EVAL_NUM:-64}
CACHE="$OUT/world-cache"
budget=()
[ -n "$MINUTES" ] && budget=(--max-minutes "$MINUTES")

"$BIN" train --preset tiny-vae --output-dir "$OUT/vae" --max-steps "$VAE_STEPS" \
  --set train_size="$TRAIN_SIZE" --set data_cache="\"$CACHE\""
"$BIN" train --preset tiny --output-dir "$OUT/dsg" --vae-path "$OUT/vae/vae" --max-steps "$STEPS" \
  --batch-size "$BATCH" "${budget[@]}" --set stage='"planner"' --set train_size="$TRAIN_SIZE" \
  --set data_cache="\"$CACHE\"" --export "$OUT/pipeline"
"$BIN" evaluate --model "$OUT/pipeline" --num "$EVAL_NUM" --level 3 --json "$OUT/eval-dsg.json"
if [ "$ABLATION" = 1 ]; then
  "$BIN" train --preset tiny-text --output-dir "$OUT/text" --vae-path "$OUT/vae/vae" --max-steps "$STEPS" \
    --batch-size "$BATCH" "${budget[@]}" --set train_size="$TRAIN_SIZE" --set data_cache="\"$CACHE\"" \
    --export "$OUT/pipeline-text"
  "$BIN" evaluate --model "$OUT/pipeline-text" --num "$EVAL_NUM" --level 3 --json "$OUT/eval-text.json"
fi
