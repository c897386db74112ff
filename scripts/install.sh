#!/usr/bin/env bash
# Creates .venv and installs dysen-vdm into it, on the local CPU build of torch.
#   scripts/install.sh            runtime
#   scripts/install.sh dev        + test tools
#   scripts/install.sh dev,docs   + docs tools
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
pip=".venv/bin/python -m pip"
$pip install -q --upgrade pip
# 1. torch first, pinned: the CPU wheel; an unpinned torch would pull a CUDA build.
$pip install -q -c constraints.txt torch==2.13.0
# 2. the library and its dependencies, torch held by the constraints file.
if [ -n "$extras" ]; then target=".[${extras}]"; else target="."; fi
$pip install -q -c constraints.txt -e "$target"
# 2b. test tools only: open-clip-torch carries the CLIP BPE merges the offline CLIP tokenizer builder reads; its own
#     dependencies (timm, torchvision) are not needed for that and would pull another torch, hence --no-deps.
if [[ ",$extras," == *",dev,"* ]]; then
  $pip install -q --no-deps open-clip-torch==3.3.0
fi
# 3. torch-scatter is source-only and needs torch in its build environment. Optional: PyG falls back to
#    pure torch without it. A first build takes about 6 minutes; pip's wheel cache makes later ones instant.
if ! .venv/bin/python -c "import torch_scatter" 2>/dev/null; then
  $pip install -q -c constraints.txt --no-build-isolation torch-scatter==2.1.2 \
    || echo "warning: torch-scatter did not build; continuing with PyG's pure-torch scatter" >&2
fi
