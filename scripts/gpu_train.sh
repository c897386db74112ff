#!/usr/bin/env bash
# The default model's real training run, for the lent GPU (one H100/H200, <= 9 minutes), after
# scripts/prepare_gpu_carry.sh here. Device call (carry ".whl" and ".carry"):
#   bash scripts/gpu_train.sh
# It renders the world data there, trains stage I (VAE) and stage III (denoiser + RGTrm on the precomputed
# planner DSGs) and the text-only ablation side by side in time budgets, exports fp16 pipelines and copies
# them, the logs and a few sample videos to $OUT. The same script rehearses on a CPU (CPU_REHEARSAL=1).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
OUT=${OUT:-outputs/gpu}
RUN=${RUN:-outputs/gpu-run}
if [ -d .whl ] && ! python3 -c "import diffusers" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONPATH=${PYTHONPATH:-$PWD}
if [ "${CPU_REHEARSAL:-0}" = 1 ]; then
  SIZE=64; VAE_MIN=0.5; DSG_MIN=1; BATCH=4; EVAL=0
else
  SIZE=8192; VAE_MIN=1.5; DSG_MIN=6; BATCH=64; EVAL=500
fi
mkdir -p "$OUT" "$RUN"
train() { python3 -m vdm.cli train "$@" --set train_size=$SIZE --set data_cache="\"$RUN/cache\"" \
  --set text_encoder_path='".carry/minilm"' ; }
train --preset tiny-vae --output-dir "$RUN/vae" --max-steps 100000 --max-minutes $VAE_MIN --batch-size $((BATCH * 2)) \
  2>&1 | tee "$OUT/vae.log"
# the DSG model and the text-only ablation run side by side on the one GPU, same budget
train --preset tiny --output-dir "$RUN/dsg" --vae-path "$RUN/vae/vae" --max-steps 100000 --max-minutes $DSG_MIN \
  --batch-size $BATCH --set stage='"planner"' --set planned_dsgs='".carry/planned.jsonl"' --set mixed_precision='"bf16"' \
  --set eval_every=$EVAL --export "$RUN/pipeline" > "$OUT/dsg.log" 2>&1 &
train --preset tiny-text --output-dir "$RUN/text" --vae-path "$RUN/vae/vae" --max-steps 100000 --max-minutes $DSG_MIN \
  --batch-size $BATCH --set mixed_precision='"bf16"' --export "$RUN/pipeline-text" > "$OUT/text.log" 2>&1 &
wait
tar -C "$RUN" -czf "$OUT/pipelines.tgz" pipeline pipeline-text
ls -la "$OUT"
