#!/usr/bin/env bash
# For a session lent a GPU: the bench (on CUDA when present; the device choice stays automatic), then the
# shipped model's recipe from scratch with the same one command as on a CPU (bf16 autocast is chosen by
# itself on CUDA), its schedule fitted to MINUTES (or its 13,000 steps, whichever ends first: the decay and
# the fp32 steps are reached either way), and the evaluation of what it exported. JSON and logs under $OUT.
# QUICK=1 runs it at tiny sizes, which is how it is tested on a CPU: `QUICK=1 OUT=/tmp/out bash scripts/device_bench.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder the results go to}
mkdir -p "$OUT"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee "$OUT/device.txt"
if [ "${QUICK:-0}" = 1 ]; then
  bench=(--sentences 4 --sizes 1,8 --mixed 16 --many 100 --train-batch 8 --train-steps 1 --repeat 1 --no-cli)
  train=(--steps 4 --eval-every 4 --batch-size 8 --eval-per-length 1 --max-len 8 --hidden-size 32 --vocab-size 300)
  evaluate=(--n 20 --per-bucket 2)
  MINUTES=${MINUTES:-1}
else
  bench=(--sizes 1,8,64,256,1024,4096 --many 50000 --train-batch 1024 --train-steps 5 --no-cli)
  train=()
  evaluate=(--n 2000 --per-bucket 200)
  MINUTES=${MINUTES:-8}
fi
timeout 150 python -m s2s.bench "${bench[@]}" --json "$OUT/bench.json" | tee "$OUT/bench.txt"
started=$(date +%s)
timeout $((MINUTES * 60 + 60)) python -m s2s.train --config configs/word-doubler.toml --run-dir "$OUT/train" \
  --threads 0 --max-minutes "$MINUTES" "${train[@]}" > "$OUT/train.log" 2>&1 || echo "training stopped: $?" | tee -a "$OUT/bench.txt"
echo "training wall time: $(( $(date +%s) - started )) s" | tee -a "$OUT/bench.txt"
tail -n 1 "$OUT/train/log.jsonl" | tee -a "$OUT/bench.txt"
timeout 120 python -m s2s.evaluate --model "$OUT/train/export" "${evaluate[@]}" > "$OUT/evaluation.json"
python - "$OUT/evaluation.json" <<'PY' | tee -a "$OUT/bench.txt"
import json, sys
report = json.load(open(sys.argv[1]))
for name, family in report["families"].items():
    print(name, {bucket: round(b["exact_match"], 4) for bucket, b in family["buckets"].items()})
print("real text", report["real"]["overall"]["exact_match"])
PY
