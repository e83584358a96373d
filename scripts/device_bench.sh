#!/usr/bin/env bash
# For a session lent a GPU: the bench (on CUDA when present; device choice stays automatic) and a short
# training-throughput run, JSON and logs under $OUT, in under 5 minutes. QUICK=1 runs it at tiny sizes
# (how it is tested on a CPU): `QUICK=1 OUT=/tmp/out bash scripts/device_bench.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder the results go to}
mkdir -p "$OUT"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee "$OUT/device.txt"
if [ "${QUICK:-0}" = 1 ]; then
  bench=(--sentences 4 --sizes 1,8 --mixed 16 --many 100 --train-batch 8 --train-steps 1 --repeat 1)
  train=(--steps 4 --eval-every 4 --batch-size 8 --eval-per-length 1)
else
  bench=(--sizes 1,8,64,256,1024,4096 --many 50000 --train-batch 1024 --train-steps 5)
  train=(--steps 300 --eval-every 300 --batch-size 1024 --eval-per-length 16)
fi
timeout 180 python -m s2s.bench "${bench[@]}" --json "$OUT/bench.json" | tee "$OUT/bench.txt"
# Training from the shipped weights: steps per second at a GPU-sized batch (the log has the seconds).
timeout 100 python -m s2s.train --config configs/families.toml --init-from weights --run-dir "$OUT/train" \
  --threads 0 "${train[@]}" > "$OUT/train.log" 2>&1
tail -n 1 "$OUT/train/log.jsonl" | tee -a "$OUT/bench.txt"
