"""Quick probe of speaker-adaptation variants on a few voices: prompt cosine and WER per configuration.

Each configuration is a JSON object: ``steps`` (adaptation steps, 0 = off), optional ``lr``, ``align`` (use the
prompt aligner given by ``--aligner``) and any keyword of ``pipelines.tts_adapt.adapt_network`` (``params``,
``batch``, ``conditional_only``, ``dropout``, ``text_free`` ...). Voices: toy-world / warped voice ids (prompt: the
voice reading the first toy-world test sentence, then the next ``--n`` sentences) or the pocketsphinx-testdata
speaker names of ``bench_real_voices.py`` (prompt: the recording). Small (9 items): for choosing what to run on the
full benches, not for claims.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/probe_tts_adapt.py --voices flite-slt-w89 festival-kal-w112 \\
        espeak-us-m3-w112 -- '{"steps": 0}' '{"steps": 30, "lr": 1e-3, "params": "bias"}'
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voices", nargs="+", required=True)
    ap.add_argument("--n", type=int, default=3, help="sentences per voice")
    ap.add_argument("--aligner", type=Path, help="prompt aligner JSON (fit_prompt_aligner.py)")
    ap.add_argument("configs", nargs="+", type=json.loads)
    args = ap.parse_args()

    import torch
    from bench_heldout_voices import heldout_sentences
    from bench_real_voices import DATA, real_prompts

    import deepaudio.pipelines.tts_adapt as tts_adapt
    from deepaudio.data.toyworld.voices import SPEAKER_BY_ID, VoiceBank
    from deepaudio.eval.speaker import Resemblyzer, cosine
    from deepaudio.eval.wer import wer
    from deepaudio.io.audio import load_audio, save_audio
    from deepaudio.models.tts.durations import PromptAligner
    from deepaudio.perception.asr import transcribe
    from deepaudio.pipelines.tts import TTSPipeline

    sentences = [s for _, s in heldout_sentences(args.n + 1, None, 0)]
    pipe = TTSPipeline.from_pretrained()
    if args.aligner:
        pipe.aligner = PromptAligner.load(args.aligner)
    spk = Resemblyzer()
    tmp = Path(tempfile.mkdtemp())
    real = {name: (path, text) for name, path, text in real_prompts(DATA, tmp)}
    bank = VoiceBank(tmp / "cache")
    prompts = []  # (voice, prompt path, prompt text, sentences, prompt embedding)
    for v in args.voices:
        if v in real:
            path, text = real[v]
            todo = sentences[:args.n]
        else:
            text, todo = sentences[0], sentences[1:args.n + 1]
            path = tmp / f"{v}.wav"
            save_audio(path, bank.synthesize(SPEAKER_BY_ID[v], text), 24000)
        wav, sr = load_audio(path, sample_rate=24000, mono=True)
        prompts.append((v, path, text, todo, spk.embed(wav, sr)))
    original = tts_adapt.adapt_network
    for cfg in args.configs:
        cfg = dict(cfg)
        steps, lr, align = cfg.pop("steps"), cfg.pop("lr", 1e-3), cfg.pop("align", False)
        tts_adapt.adapt_network = functools.partial(original, **cfg)
        pipe._adapt_cache = tts_adapt.AdaptedCache()
        sims, wers = [], []
        for _, path, text, todo, emb in prompts:
            for k, sentence in enumerate(todo):
                with torch.inference_mode():
                    gen, sr = pipe(sentence, str(path), ref_text=text, seed=k, adapt=steps, adapt_lr=lr,
                                   align_prompt=align)
                sims.append(cosine(spk.embed(gen, sr), emb))
                wers.append(wer(sentence, transcribe(gen, sr)))
        print(json.dumps({"steps": steps, "lr": lr, "align": align, **cfg, "sim": round(sum(sims) / len(sims), 4),
                          "wer": round(sum(wers) / len(wers), 3), "sims": [round(x, 3) for x in sims]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
