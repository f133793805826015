#!/usr/bin/env bash
# Set up deepaudio in ./.venv on a fresh Debian machine; safe to re-run.
#   bash scripts/setup.sh          core + voices + eval + text + vision + demo extras (what the demo and
#                                  the web app, deepaudio serve, need)
#   bash scripts/setup.sh test     the above + train and dev extras and Debian chromium (what the tests need)
# GPU users: see README ("Installing on a GPU machine"); set DEEPAUDIO_TORCH to the torch requirement
# you want (default: torch==2.13.0, the CPU build that lies on local disk here).
set -euo pipefail
mode="${1:-run}"
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v flite >/dev/null 2>&1 || need_apt+=(flite)
# real read speech with transcripts for the evaluation tests (WER / MCD / speaker checks)
[ -d /usr/share/pocketsphinx/test/data/librivox ] || need_apt+=(pocketsphinx-testdata)
# festival voices: the speech corpus' extra voices and the held-out voices of the TTS benchmarks (test set-up)
if [ "$mode" = "test" ]; then
  for p in festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts; do
    dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
  done
fi
# the browser test of the web app drives Debian's chromium with Playwright
[ "$mode" = "test" ] && [ ! -x /usr/bin/chromium ] && need_apt+=(chromium)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
py=.venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK=1
# PyTorch first and pinned, so that no other requirement pulls a multi-gigabyte CUDA build.
"$py" -m pip install -q "${DEEPAUDIO_TORCH:-torch==2.13.0}" 2>&1 | grep -v '^WARNING: Location' || true
extras="eval,voices,text,vision,demo"
[ "$mode" = "test" ] && extras="eval,voices,text,vision,demo,train,dev,int8"
"$py" -m pip install -q -e ".[${extras}]" 2>&1 | grep -v '^WARNING: Location' || true
"$py" -c "import deepaudio, torch; print('setup: deepaudio ready (torch', torch.__version__ + ')')"
