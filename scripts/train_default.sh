#!/usr/bin/env bash
# Rebuild the bundled default models (src/deepaudio/assets/default) on CPU, from nothing but this repo.
#
#   bash scripts/train_default.sh data        # the toy world (2400 clips, seed 0; the bundled router trained on
#                                             # its first 1200 = N_CLIPS=1200: growing --n moves no clip). Every
#                                             # voice speaks in every split since 2026-12-03; UNSEEN_SPEAKERS=1
#                                             # keeps flite-rms and espeak-029-f3 test-only: the data of the
#                                             # bundled router, V2A and TTS before v4 (the test split is the
#                                             # same either way)
#   bash scripts/train_default.sh speech      # a TTS-only speech corpus (SPEECH, default data/speech_wordnet):
#                                             # N_SPEECH=4000 WordNet usage examples in the toy world's voices
#                                             # (Debian wordnet-base; fetched without installing when
#                                             # /usr/share/wordnet is missing); SPEECH_TTS=1 makes the tts stage
#                                             # train on it beside the toy world's training split (v6 on)
#   bash scripts/train_default.sh router      # stage 3: the MoF gate
#   bash scripts/train_default.sh v2a         # stage 1: tiny V2A (tiny_m2: evenly timed sync tokens that see
#                                             # three frames, whole-second crops, auxiliary onset loss;
#                                             # continues from the bundled one if present; the bundled
#                                             # v2 is this command from scratch: no bundled v2a folder)
#   bash scripts/train_default.sh tts         # stage 2: toy TTS, phoneme input with aligned durations
#                                             # (continues from the bundled one if present; from scratch:
#                                             # STEPS_TTS=2000 LR_TTS=7.5e-4);
#                                             # ENERGY_TTS=1: also train the V2S energy input on each clip's
#                                             # own speech seen at 25 video frames/s (a lip contour's shape),
#                                             # zeroed for half the batches so one checkpoint serves TTS and
#                                             # V2S (the v5 run: LR_TTS=3e-4)
#   bash scripts/train_default.sh vocoder     # the small Vocos vocoder (bundled v1) on the speech corpus of every
#                                             # training voice, made first by: SPEECH=data/speech_all N_SPEECH=3400
#                                             # SPEECH_SPEAKERS=all bash scripts/train_default.sh speech.
#                                             # Two stages: VOCODER_STAGE=1 from scratch (v1 used the step-3000
#                                             # checkpoint of this 12000-step schedule: stop the run after it and
#                                             # export it with RESUME=1 VOCODER_STAGE=1 STEPS_VOCODER=3000), then
#                                             # (default) stage 2 continues it with band-limited segments and the
#                                             # multi-resolution STFT term (STEPS_VOCODER, VOCODER_DATA)
#   bash scripts/train_default.sh bundle      # fp16 export of runs/*/model into the package + TRAINING.md
#
# STEPS_V2A / STEPS_TTS / STEPS_ROUTER set the updates of one run (LR_TTS / LR_V2A / WARMUP_V2A
# the peak lr and warm-up, V2A_CFG the bundled V2A's default guidance); every run writes
# runs/<part>/{train_log.jsonl,training_summary.json,loss_curve.png}. A run that had to stop early is
# finished by re-launching it with --resume and --steps <current step> (the loop then only exports):
# RESUME=1 adds --resume (e.g. RESUME=1 STEPS_TTS=4000 bash scripts/train_default.sh tts).
# ALIGNMENTS=FILE (tts) reuses an earlier run's alignments.json of the same data instead of aligning again
# (10 rounds of ~4 min for the v7 data's 6 549 clips on 2 cores), e.g. ALIGNMENTS=runs/v7/tts/alignments.json.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/toyworld}
SPEECH=${SPEECH:-data/speech_wordnet}
RUNS=${RUNS:-runs}
BUNDLE=src/deepaudio/assets/default
da=".venv/bin/deepaudio"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

init_if_bundled() {  # continue from the committed model when there is one
  if [ -f "$BUNDLE/$1/config.json" ]; then echo "--init $BUNDLE/$1"; fi
}

tts_start() {  # continue from the bundled phoneme TTS when there is one, else the toy preset from scratch
  if [ -f "$BUNDLE/tts/durations.json" ]; then echo "--init $BUNDLE/tts"; else echo "--config toy"; fi
}

case "${1:-}" in
  data)
    $da toyworld --out "$DATA" --n "${N_CLIPS:-2400}" --seed 0 ${UNSEEN_SPEAKERS:+--unseen-speakers} ;;
  speech)
    wn=/usr/share/wordnet
    if [ ! -f "$wn/data.noun" ]; then  # fetch Debian's wordnet-base and unpack it here, without installing
      wn="$SPEECH.wordnet/usr/share/wordnet"
      if [ ! -f "$wn/data.noun" ]; then
        tmp=$(mktemp -d)
        (cd "$tmp" && apt-get download wordnet-base)
        mkdir -p "$SPEECH.wordnet" && dpkg -x "$tmp"/wordnet-base_*.deb "$SPEECH.wordnet" && rm -rf "$tmp"
      fi
    fi
    # SPEECH_SPEAKERS=all: the toy world's voices and the extra festival/espeak-ng ones (EXTRA_SPEAKERS)
    $da speech-corpus --wordnet "$wn" --out "$SPEECH" --n "${N_SPEECH:-4000}" --seed 0 \
      ${SPEECH_SPEAKERS:+--speakers "$SPEECH_SPEAKERS"} ;;
  router)
    # the toy world's instructions join when its data is there (the v3 gate, with "think", trained without)
    toy=()
    if [ -f "$DATA/manifests/router_train.csv" ]; then
      toy=(--data "$DATA/manifests/router_train.csv" --test-data "$DATA/manifests/router_test.csv")
    fi
    $da train router --out "$RUNS/router" "${toy[@]}" --test-data benchmarks/data/router_phrasings.csv \
      --test-data benchmarks/data/router_heldout.csv --n-train "${N_ROUTER:-10000}" --n-test 2000 \
      --steps "${STEPS_ROUTER:-4000}" --hidden 256 --lexical-dim 4096 --seed 0 ;;
  v2a)
    # (--init of a bundled tiny model grows its sync encoder's input: the new channels start at zero)
    $da train v2a --config tiny_m2 --crops --onset-loss 1.0 --data "$DATA/manifests/v2a_train.csv" \
      --val "$DATA/manifests/v2a_val.csv" --out "$RUNS/v2a" --steps "${STEPS_V2A:-4500}" --batch 8 \
      --lr "${LR_V2A:-5e-4}" --warmup "${WARMUP_V2A:-200}" --save-every 250 --val-every 500 --seed 0 \
      $(init_if_bundled v2a) ${RESUME:+--resume} ;;
  tts)
    speech=()  # SPEECH may name several corpora (v7: "data/speech_all data/speech_variants")
    if [ -n "${SPEECH_TTS:-}" ]; then for s in $SPEECH; do speech+=("$s/manifests/tts_train.csv"); done; fi
    $da train tts $(tts_start) --durations --data "$DATA/manifests/tts_train.csv" \
      "${speech[@]}" --val "$DATA/manifests/tts_val.csv" \
      --out "$RUNS/tts" --steps "${STEPS_TTS:-4000}" --lr "${LR_TTS:-5e-4}" --warmup 200 --batch-frames 4000 \
      --precision bf16 --save-every 100 --val-every 250 --ema-update-after 50 --ema-beta 0.999 --seed 0 \
      ${RESUME:+--resume} ${ALIGNMENTS:+--alignments "$ALIGNMENTS"} \
      ${ENERGY_TTS:+--energy --energy-source self --energy-fps 25 --energy-drop 0.5} ;;
  vocoder)
    vdata="${VOCODER_DATA:-data/speech_all/manifests/tts_train.csv}"
    if [ "${VOCODER_STAGE:-2}" = 1 ]; then
      $da train vocoder --data "$vdata" --out "$RUNS/vocoder_stage1" --config small_24k --mel f5_24k \
        --steps "${STEPS_VOCODER:-12000}" --batch 16 --segment-frames 64 --lr 1e-3 --warmup 200 --seed 0 ${RESUME:+--resume}
    else
      $da train vocoder --data "$vdata" --out "$RUNS/vocoder" --init "$RUNS/vocoder_stage1/model" --config small_24k \
        --mel f5_24k --band-limit 0.3 --weights stft=2 phase=1 mel=2 --steps "${STEPS_VOCODER:-1500}" --batch 16 \
        --segment-frames 64 --lr 5e-4 --warmup 50 --save-every 250 --val-every 500 --seed 1 ${RESUME:+--resume}
    fi ;;
  bundle)
    # V2A_CFG (optional): a default guidance for the bundled V2A other than MMAudio's 4.5, when
    # benchmarks/bench_default_v2a.py --cfg measures one better (the bundled tiny V2A: 4.5 keeps its timing best).
    .venv/bin/python scripts/build_default.py --runs "$RUNS" --out "$BUNDLE" ${V2A_CFG:+--v2a-cfg "$V2A_CFG"} ;;
  *)
    echo "usage: bash scripts/train_default.sh data|speech|router|v2a|tts|vocoder|bundle" >&2; exit 2 ;;
esac
