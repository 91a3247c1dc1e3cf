#!/usr/bin/env bash
# The ETTh1 protocol for the four SSM forecasters on every visible GPU at once: one
# process per (model, lookback, horizon), assigned round-robin, each running the
# validation grid with seed 0 and then the chosen configuration with seeds 1 and 2.
# Results: OUT/raw/ltsf_<model>_L<L>_H<H>.json, merged into OUT/ltsf_<model>_L<L>.json
# (and .md) by benchmarks/ltsf_table.py, which also prints the tables.
#
#   bash benchmarks/ltsf_gpu.sh OUT [extra ltsf.py arguments...]
set -u
OUT=${1:?usage: ltsf_gpu.sh OUT [ltsf.py args]}
shift
mkdir -p "$OUT/raw"
NGPU=$(python3 -c "import torch; print(max(torch.cuda.device_count(), 1))")
MODELS=${MODELS:-"s4 s5 mamba hybrid"}
LOOKBACKS=${LOOKBACKS:-"336 96"}
i=0
for H in 720 336 192 96; do for L in $LOOKBACKS; do for m in $MODELS; do
  CUDA_VISIBLE_DEVICES=$((i % NGPU)) python3 benchmarks/ltsf.py --model "$m" \
    --lookback "$L" --horizons "$H" --tag "_H$H" --out "$OUT/raw" "$@" \
    > "$OUT/raw/log_${m}_L${L}_H${H}.txt" 2>&1 &
  i=$((i + 1))
done; done; done
wait
python3 benchmarks/ltsf_table.py "$OUT/raw" --merge-to "$OUT"
