#!/usr/bin/env bash
# The CUDA checks of benchmarks/results/cuda/ (run on a GPU machine from the repository root; no GPU is needed
# anywhere else): official parity vectors with our modules on the GPU, the bundled default through `tts` and
# `v2a` on the GPU, the device tests, and the full-size network speeds.
#
#   PARITY=../shared/parity OUT=out/cuda bash benchmarks/check_cuda.sh
set -uo pipefail
PARITY=${PARITY:-../shared/parity}
OUT=${OUT:-out/cuda}
mkdir -p "$OUT"
da="python3 -m deepaudio.cli.main"
$da verify-parity --device cuda "$PARITY"/*.safetensors >"$OUT/parity_cuda.txt" 2>&1
echo "verify-parity rc=$? ($(grep -c '^ok' "$OUT/parity_cuda.txt") outputs within tolerance)"
$da tts --text "Good morning. The 3:30 pm train to Boston leaves from platform 4, and costs \$5.50." \
  -o "$OUT/tts_cuda.wav" --device cuda --seed 0
$da v2a --prompt "rain on a tin roof" --duration 8 -o "$OUT/v2a_cuda.wav" --device cuda
python3 -m pytest -q -p no:cacheprovider tests/test_dsp_devices.py tests/test_tts_parity.py tests/test_v2a_parity.py
python3 benchmarks/bench_tts.py --device cuda --steps 8 --seconds 15 --prompt 5 --json "$OUT/bench_tts_cuda.json"
python3 benchmarks/bench_v2a.py --device cuda --presets small_16k large_44k --steps 5 --warmup | tee "$OUT/bench_v2a_cuda.jsonl"
