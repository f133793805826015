"""Write the bundled default voice: ``src/deepaudio/assets/default/voice/{voice.flac,voice.json}``.

The reference clip used when tts, dub, run or serve get no ``--ref-audio``. It is one toy-world
speaker saying one training-split sentence, synthesised exactly as the toy world does
(``data.toyworld.voices.VoiceBank``: edge silence trimmed, RMS 0.08, 24 kHz), so the bundled TTS has
heard this voice and this kind of prompt thousands of times. flite-awb is the voice it reads best
(benchmarks/results/default_tts_v6_all.json, its 7 test-split items: Whisper tiny.en WER 4.2%, base 6.5%).

    PYTHONPATH=src python scripts/make_default_voice.py [OUT_DIR]   # needs Debian flite (scripts/setup.sh)

Deterministic: flite has no random state, so re-running gives the same samples.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from deepaudio.data.toyworld.config import WorldConfig
from deepaudio.data.toyworld.sentences import SENTENCES
from deepaudio.data.toyworld.splits import sentence_splits
from deepaudio.data.toyworld.voices import SPEAKER_BY_ID, VoiceBank
from deepaudio.io.atomic import atomic_path
from deepaudio.io.audio import save_audio

SPEAKER = "flite-awb"
TEXT = "We watched the boats come into the harbour."
OUT = Path(__file__).resolve().parents[1] / "src/deepaudio/assets/default/voice"


def main(out: Path = OUT) -> None:
    train = sentence_splits(SENTENCES, WorldConfig().sentence_fractions, 0)["train"]
    assert TEXT in train, "the default voice's sentence must be one the bundled TTS was trained on"
    with tempfile.TemporaryDirectory() as cache:
        bank = VoiceBank(cache)
        wav = bank.synthesize(SPEAKER_BY_ID[SPEAKER], TEXT, cache=False)
    out.mkdir(parents=True, exist_ok=True)
    save_audio(out / "voice.flac", wav, bank.sample_rate)
    info = {"speaker": SPEAKER, "text": TEXT, "audio": "voice.flac", "sample_rate": bank.sample_rate,
            "seconds": round(len(wav) / bank.sample_rate, 3), "made_by": "scripts/make_default_voice.py"}
    with atomic_path(out / "voice.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {out / 'voice.flac'} ({info['seconds']} s) and voice.json")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
