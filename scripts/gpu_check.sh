#!/usr/bin/env bash
# The GPU check, in one go, for a machine with a CUDA GPU (CI has none). About 8 minutes on one H200:
#   1. the CUDA tests (train there and resume on the CPU, losses against the CPU's, bf16 for every cell,
#      cuDNN handed one block of weights per layer);
#   2. bench/gpu.py: the presets' characters/s in fp32 and bf16 against the 2-core CPU, a chunk's overhead,
#      and the chapter's textbook run end to end;
#   3. the `anna` preset in bf16 on Anna Karenina for about five minutes (100 epochs), then its best
#      checkpoint scored on every held-out character and on the novel alone, beside the shipped 2x512
#      (1.2486 and 1.1073: assets/MODEL_CARD.md). A better one can replace it (the card says how).
# Usage: bash scripts/gpu_check.sh [folder for the run, default runs/gpu-check]
set -u
out=${1:-runs/gpu-check}
python - <<'PY'
import torch
print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())
print("GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
PY
python -m pytest -q -p no:cacheprovider -m gpu tests/training/test_cuda.py
python bench/gpu.py --epochs 5 --steps 60
python -m charlm train --preset anna --corpus anna-karenina --device cuda --bf16 --epochs 100 \
    --max-seconds 300 --keep-checkpoints 2 --out "$out"
python -m charlm evaluate --checkpoint "$out" --best --corpus anna-karenina
python -m charlm evaluate --checkpoint "$out" --best --corpus anna-karenina --until "*** END OF"
