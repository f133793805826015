"""Text-to-speech with a reference voice: F5-TTS inference (Chen et al. 2024) plus the DeepAudio V2S
energy input.

    pipe = TTSPipeline.from_pretrained("ckpt/f5tts_v1_base", vocoder="ckpt/vocos")  # or () for the bundled one
    wav, sr = pipe("Text to say.", "voice.wav", ref_text="What the voice says.")  # a GenerationResult

Flow: reference clip -> 24 kHz mono, clipped/trimmed/RMS-raised (``tts_reference``) -> log-mel prompt;
text -> sentence chunks; each chunk's length comes from its own text (reference frames per reference
byte x chunk bytes / speed) or from the target energy contour; all chunks are sampled in one batch
(per-sample noise and masks, so a chunk's result does not depend on the batch) -> mel -> vocoder ->
chunks cross-faded. Settings are call arguments; nothing is written to disk here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepaudio import checks
from deepaudio.config import resolve_dtype
from deepaudio.dsp.timbre import match_timbre
from deepaudio.errors import ConfigError, InputError
from deepaudio.models.tts.cfm import sample
from deepaudio.models.tts.config import tts_mel_settings
from deepaudio.models.tts.dit import DiT
from deepaudio.models.tts.durations import FILE as DURATIONS_FILE
from deepaudio.models.tts.durations import DurationTable, expand, integer_durations
from deepaudio.perf import compile_for_inference, tune_allocator
from deepaudio.pipelines import tts_adapt
from deepaudio.pipelines.result import GenerationResult, resolve_settings
from deepaudio.pipelines.tts_reference import (
    MAX_REFERENCE_SECONDS,
    SAMPLE_RATE,
    Reference,
    check_reference_voice,
    check_voice,
    clip_at_silence,
    cross_fade,
    prepare_reference,
    reference_text_problem,
)
from deepaudio.quant import finish_calibration
from deepaudio.text.chunking import chunk_budget, split_sentences
from deepaudio.text.tokenizer import Tokenizer, Vocab
from deepaudio.v2s.contour import MEL_HOP as HOP
from deepaudio.v2s.contour import quiet_ends
from deepaudio.v2s.placement import place, token_kinds


@dataclass(frozen=True)
class TTSSettings:
    # EPSS with 7 steps (F5-TTS v1's fast schedule) is the default since 2026-12-04: on the held-out voices it
    # scored as NFE 32 did (WER 24.0 vs 27.3% tiny.en, 17.4 vs 17.1% base, prompt cosine 0.684 vs 0.680;
    # benchmarks/results/heldout_voices_v6_gl*.json) at a quarter of the network passes (docs/speed.md).
    # A step count outside the EPSS table (e.g. 32) falls back to uniform steps with sway, the old default.
    nfe: int = 7  # ODE steps
    cfg_strength: float = 2.0
    sway: float | None = -1.0  # F5-TTS sway sampling coefficient (None: uniform steps)
    solver: str = "euler"
    schedule: str = "epss"
    seed: int | None = None  # None: a fresh random seed
    speed: float = 1.0  # free-length speech only
    cross_fade_s: float = 0.15  # between sentence chunks
    max_batch: int = 8  # chunks sampled together
    batched_cfg: bool = True  # conditional and unconditional passes in one batch
    # 0..1: move the speech's long-term spectral envelope towards the reference's (dsp.timbre). On by default
    # since 2026-12-04: tuned on three espeak-ng voices the bundled v6 never heard and that are not held out
    # (prompt cosine 0.548 -> 0.582 -> 0.599 at 0 / 0.5 / 1; 18 items), then measured on the held-out voices
    # (cosine 0.692 -> 0.733, WER unchanged; docs/tts.md).
    timbre: float = 1.0
    # Speaker adaptation (pipelines.tts_adapt): Adam steps of the biases of a copy of the network on the reference
    # clip before sampling, at adapt_lr; 0 = off (the default: it lowered real human voices' similarity and
    # intelligibility, docs/tts.md).
    adapt: int = 0
    adapt_lr: float = 1e-3

    def __post_init__(self) -> None:
        # the same checks (types, finiteness, ranges) as the command line's, raising the project's error type
        checks.number("nfe", self.nfe, 1, 10000, integer=True)
        checks.number("cfg_strength", self.cfg_strength, -100, 100)
        checks.optional_number("sway", self.sway, -1, 1), checks.seed("seed", self.seed)
        checks.number("speed", self.speed, 0.1, 10), checks.number("cross_fade_s", self.cross_fade_s, 0, 10)
        checks.number("max_batch", self.max_batch, 1, integer=True), checks.number("timbre", self.timbre, 0, 1)
        checks.number("adapt", self.adapt, 0, 10000, integer=True)
        checks.number("adapt_lr", self.adapt_lr, 0, 1)


GRIFFIN_LIM = "griffin-lim"  # --vocoder griffin-lim: the weight-free fallback, chosen on purpose


def bundled_vocoder(mel) -> Path | None:
    """The bundled default vocoder's folder when this install has one and it reads ``mel`` exactly."""
    from deepaudio.assets import DEFAULT_ROOT
    from deepaudio.checkpoint import read_config
    from deepaudio.models.vocoders.mel_match import mel_differences
    from deepaudio.models.vocoders.vocos import MelFeatures, VocosConfig

    folder = DEFAULT_ROOT / "vocoder"
    if not (folder / "config.json").is_file():
        return None
    got = MelFeatures(VocosConfig(**read_config(folder, "vocos")["config"])).settings
    return None if mel_differences(mel, got) else folder


def load_vocoder(vocoder, device: torch.device | str, mel=None, quiet: bool = False):
    """An object with ``decode(mel [B, 100, T]) -> wav [B, L]`` and a ``label`` for sidecars: given as such,
    a Vocos or BigVGAN folder (ours or as released), ``"griffin-lim"``, or None: the bundled default vocoder
    (a small Vocos trained here) when it reads ``mel``, said once unless ``quiet``, else Griffin-Lim. With
    ``mel`` (the TTS's ``MelSettings``) a folder's vocoder is checked against it."""
    from deepaudio.assets import model_label
    from deepaudio.dsp.mel import F5_24K
    from deepaudio.models.vocoders import load_vocoder as load_folder
    from deepaudio.models.vocoders.griffinlim import GriffinLimVocoder
    from deepaudio.models.vocoders.mel_match import check_vocoder_mel

    mel = mel or F5_24K
    if vocoder is not None and hasattr(vocoder, "decode"):
        return vocoder
    if vocoder is not None and str(vocoder) == GRIFFIN_LIM:
        return _labelled(GriffinLimVocoder(settings=mel), GRIFFIN_LIM)
    if vocoder is None:
        vocoder = bundled_vocoder(mel)
        if vocoder is None:
            notice = "deepaudio: no vocoder given, using Griffin-Lim (low quality; pass --vocoder DIR)"
            return _labelled(GriffinLimVocoder(settings=mel, notice=notice), GRIFFIN_LIM)
        if not quiet:
            print("deepaudio: no vocoder given, using the bundled small vocoder (trained on synthetic voices; "
                  "pass --vocoder DIR for the official Vocos)", file=sys.stderr)
    model = load_folder(Path(vocoder), device=device)
    check_vocoder_mel(mel, model, f"vocoder {Path(vocoder).name} ({model.kind})")
    return _labelled(model, model_label(vocoder))


def _labelled(vocoder, label: str):
    vocoder.label = label  # how sidecars name it: griffin-lim, bundled-default or the folder given
    return vocoder


class TTSPipeline:
    def __init__(self, model: DiT, tokenizer: Tokenizer, vocoder=None, device: torch.device | str = "cpu",
                 dtype: str | torch.dtype = "fp32", durations: DurationTable | None = None,
                 quiet_vocoder: bool = False):
        tune_allocator()  # big activations reuse heap pages instead of fresh mmaps (deepaudio.perf)
        self.device = torch.device(device)
        self.durations = durations  # phoneme-input models: each frame is given its token (models.tts.durations)
        self._adapt_cache = tts_adapt.AdaptedCache()  # speaker-adapted copies of the network (TTSSettings.adapt)
        self.dtype = resolve_dtype(dtype)
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.tokenizer = tokenizer
        self.mel = tts_mel_settings(model.config)
        self.vocoder = load_vocoder(vocoder, self.device, self.mel, quiet=quiet_vocoder)
        if hasattr(self.vocoder, "eval"):
            self.vocoder.eval()

    def compile(self) -> TTSPipeline:
        """Compile the network's step (``deepaudio.perf.compile_for_inference``): faster steps, a compile of
        about 40 s (F5 Base, 2 cores) for every new sequence length; for long runs of equal-length calls."""
        compile_for_inference(self.model)
        return self

    def quantize_int8(self, compiled: bool = True) -> TTSPipeline:
        """Run the network static int8 on an x86 CPU (``deepaudio.quant``; needs torchao and fp32 weights):
        the first solve calibrates at fp32 speed, each new length is compiled on its first call; F5 Base
        steps 1.5-1.6x faster than the official bf16 step, approximately (docs/speed.md has the quality cost)."""
        from deepaudio.quant import quantize_int8

        quantize_int8(self.model, compiled=compiled)
        return self

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None, vocoder=None, device: torch.device | str = "cpu",
                        dtype: str | torch.dtype = "fp32", tokenizer: str = "auto",
                        strict_text: bool = False) -> TTSPipeline:
        """Load a converted checkpoint folder (config.json, model.safetensors, vocab.txt); ``None`` loads the
        bundled default (``deepaudio/assets/default/tts``, energy-conditioned, so it serves V2S too)."""
        if directory is None:
            from deepaudio.assets import bundled_dir

            directory = bundled_dir("tts")
        model = DiT.from_pretrained(directory)
        folder = Path(directory).expanduser()
        vocab = Vocab.load(folder / "vocab.txt")
        table = DurationTable.load(folder / DURATIONS_FILE) if (folder / DURATIONS_FILE).is_file() else None
        from deepaudio.assets import is_bundled

        # a duration_predictor.safetensors exported by older versions is ignored: the table measured better
        # (the bundled TTS and the bundled vocoder belong together: no notice when one brings the other)
        return cls(model, Tokenizer(vocab, tokenizer, strict_text), vocoder, device, dtype, table,
                   quiet_vocoder=is_bundled(folder))

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the network and its vocabulary as a checkpoint folder (``from_pretrained`` reads it)."""
        extra = {"vocab.txt": self.tokenizer.vocab.to_text()}
        if self.durations is not None:
            extra[DURATIONS_FILE] = self.durations.to_text()
        return self.model.save_pretrained(directory, extra_files=extra)

    @torch.inference_mode()
    def __call__(self, text: str | Sequence[str], ref_audio, ref_text: str | None = None, nfe: int = 7,
                 cfg_strength: float = 2.0, sway: float | None = -1.0, solver: str = "euler",
                 schedule: str = "epss", seed: int | None = None, speed: float = 1.0,
                 duration: float | None = None, energy: torch.Tensor | None = None,
                 ref_energy: torch.Tensor | None = None, cross_fade_s: float = 0.15, max_batch: int = 8,
                 batched_cfg: bool = True, timbre: float = 1.0, adapt: int = 0, adapt_lr: float = 1e-3,
                 progress: Callable[[int, int], None] | None = None,
                 settings: TTSSettings | None = None, asr_model: str | Path | None = None,
                 asr_language: str | None = None):
        """Speak ``text`` in the voice of ``ref_audio`` (a path or ``(wav, sr)``) -> a ``GenerationResult``
        (``audio`` [1, L] at 24 kHz; unpacks as ``wav, sr``). Settings as keywords or one ``TTSSettings``.

        Without ``ref_text`` the reference is transcribed by ``asr_model`` (a local faster-whisper folder;
        default the packaged tiny.en) in ``asr_language`` (None: detected by a multilingual model).

        A list of texts gives a list of results, sampled together. ``duration`` (seconds) fixes the length
        of the new speech; ``energy`` (frames at 93.75/s, values in [0, 1]) is the V2S contour of the
        target window and also fixes its length; ``ref_energy`` the prompt's contour (zeros if absent,
        ``"speech"``: the energy of the reference recording).
        """
        st = resolve_settings(TTSSettings, settings, nfe=nfe, cfg_strength=cfg_strength, sway=sway, solver=solver,
                              schedule=schedule, seed=seed, speed=speed, cross_fade_s=cross_fade_s,
                              max_batch=max_batch, batched_cfg=batched_cfg, timbre=timbre, adapt=adapt,
                              adapt_lr=adapt_lr)
        checks.optional_number("duration", duration, 0.01, 3600)
        texts = [text] if isinstance(text, str) else list(text) if isinstance(text, (list, tuple)) else None
        if texts is None:
            raise InputError(f"text must be a string or a list of strings, got {type(text).__name__}")
        if not texts or any(not checks.text("text", t).strip() for t in texts):
            raise InputError("empty text to speak", hint="give at least one non-empty sentence")
        for t in texts:
            self.tokenizer.check_speakable(t, "text")
        if ref_text is not None and checks.text("ref_text", ref_text).strip():
            self.tokenizer.check_speakable(ref_text, "reference text")
        for name, contour in (("energy", energy), ("ref_energy", ref_energy)):
            if isinstance(contour, torch.Tensor) and not torch.isfinite(contour).all():
                raise InputError(f"{name} contour contains NaN or infinite values")
        if energy is not None and not self.model.config.energy_input:
            raise ConfigError("this checkpoint has no energy input", hint="use a DeepAudio V2S checkpoint")
        ref = self._reference(ref_audio, ref_text, asr_model, asr_language)
        ref_mel = self._mel(ref.wav)  # (Nc, M)
        if isinstance(ref_energy, str):
            if ref_energy != "speech":
                raise ConfigError(f"unknown ref_energy {ref_energy!r}", hint="give a contour tensor or 'speech'")
            # As in the DeepAudio-V1 reference code, the prompt's contour may be the prompt speech's own energy,
            # computed on the processed reference so that it lines up with the prompt mel frame by frame.
            from deepaudio.dsp.energy import energy_contour

            ref_energy = energy_contour(ref.wav[None], SAMPLE_RATE, target_len=ref_mel.shape[0])
        # Phoneme models: the contour's leading and trailing pauses are silence added around the speech, not
        # frames of pause tokens to sample (a long run of them drew speech into the pause: V2S lip r 0.30 ->
        # 0.52 on the toy test split, benchmarks/results/default_v2s_v3*.json).
        lead, trail = (0, 0) if energy is None or self.durations is None else quiet_ends(energy)
        if lead or trail:
            energy = energy.reshape(-1)[lead:energy.shape[-1] - trail]
        jobs, fades = [], []  # jobs: (text index, chunk text, generated frames, energy slice)
        for i, t in enumerate(texts):
            planned, fade = self._plan(i, t, ref, ref_mel.shape[0], st.speed, duration, energy, st.cross_fade_s)
            jobs += planned
            fades.append(fade)
        gen = torch.Generator().manual_seed(int(st.seed)) if st.seed is not None else torch.Generator()
        if st.seed is None:
            gen.seed()
        prompt = self._prompt_text(ref.text, ref_mel.shape[0])
        model = self._adapted(ref_mel, prompt, st.adapt, st.adapt_lr) if st.adapt else self.model
        mels: list[torch.Tensor] = []
        for start in range(0, len(jobs), st.max_batch):
            mels += self._sample(model, jobs[start:start + st.max_batch], prompt, ref_mel, ref_energy, gen, st.nfe,
                                 st.cfg_strength, st.sway, st.solver, st.schedule, st.batched_cfg, progress)
        results = []
        for i in range(len(texts)):
            parts = [self._decode(match_timbre(m, ref_mel, st.timbre)) / ref.gain
                     for m, job in zip(mels, jobs) if job[0] == i]
            wav = cross_fade(parts, samples=fades[i]).float().cpu()
            if lead or trail:
                wav = torch.nn.functional.pad(wav, (lead * HOP, trail * HOP))
            meta = {"task": "tts", "text": texts[i], "reference_text": ref.text, "chunks": sum(j[0] == i for j in jobs),
                    "seed": st.seed, "nfe": st.nfe, "cfg_strength": st.cfg_strength, "timbre": st.timbre,
                    "adapt": st.adapt, "timed_by_contour": energy is not None,
                    "vocoder": getattr(self.vocoder, "label", type(self.vocoder).__name__)}
            results.append(GenerationResult(wav.unsqueeze(0), SAMPLE_RATE, meta))
        return results[0] if isinstance(text, str) else results

    # -- steps ---------------------------------------------------------------------------------------

    def _reference(self, ref_audio, ref_text: str | None, asr_model=None, asr_language: str | None = None
                   ) -> Reference:
        wav, sr, where, longer = self._load_reference(ref_audio)
        if sr != SAMPLE_RATE:
            from deepaudio.io.audio import resample

            wav = resample(wav[None], sr, SAMPLE_RATE)[0]
        wav = wav.reshape(-1).float()
        if longer:
            cut = clip_at_silence(wav, MAX_REFERENCE_SECONDS).numel() / SAMPLE_RATE
            used = "--ref-text as given, which must describe only that part" if ref_text else "its transcript"
            print(f"deepaudio: the reference is longer than {MAX_REFERENCE_SECONDS:g} s; using its first {cut:.1f} s "
                  f"(cut at a pause) with {used}", file=sys.stderr)
        if ref_text is None or not ref_text.strip():
            from deepaudio.perception.asr import backend_name, transcribe_language

            used = clip_at_silence(wav, MAX_REFERENCE_SECONDS)
            ref_text, lang, detected = transcribe_language(used[None], SAMPLE_RATE, asr_model, language=asr_language)
            how = "detected" if detected else "given" if asr_language else "the model's only language"
            print(f"deepaudio: no reference text given; {backend_name(asr_model)} transcribed it as: {ref_text!r} "
                  f"(language {lang}, {how})", file=sys.stderr)
            problem = reference_text_problem(ref_text, used.numel() / SAMPLE_RATE)
            if not ref_text.strip():
                raise InputError(f"the reference audio could not be transcribed ({problem})", where,
                                 "pass --ref-text")
            if problem:
                print(f"deepaudio: warning: {str(where) + ': ' if where else ''}{problem}", file=sys.stderr)
        return prepare_reference(wav, self.tokenizer.normalize(ref_text))  # numbers read out before rate estimates

    @staticmethod
    def _load_reference(ref_audio) -> tuple[torch.Tensor, int, Path | None, bool]:
        """(mono wav (L,), its rate, the file or None, whether the recording is longer than what we keep);
        only the first 15 s (+ a margin) of a file are decoded, and a voice-less reference is refused."""
        if isinstance(ref_audio, (str, Path)):
            from deepaudio.io.audio import load_audio

            keep = MAX_REFERENCE_SECONDS + 0.5
            wav, sr = load_audio(ref_audio, mono=True, max_seconds=keep)
            wav, where = wav.reshape(-1), Path(ref_audio)
        elif isinstance(ref_audio, (tuple, list)) and len(ref_audio) == 2:
            wav, sr = ref_audio
            checks.number("reference sample rate", sr, 1, integer=True)
            wav = torch.as_tensor(wav, dtype=torch.float32)
            if wav.ndim > 2 or wav.numel() == 0:
                raise InputError(f"reference waveform must be [samples] or [channels, samples], got shape "
                                 f"{tuple(wav.shape)}")
            wav, where, keep = (wav.mean(dim=0) if wav.ndim == 2 else wav), None, None
        else:
            raise InputError("ref_audio must be a file path or (waveform, sample_rate), got "
                             f"{type(ref_audio).__name__}")
        check_voice(wav, int(sr), where)
        check_reference_voice(wav.float(), int(sr), where)
        longer = wav.numel() > MAX_REFERENCE_SECONDS * sr
        if keep is not None:
            wav = wav[:int(MAX_REFERENCE_SECONDS * sr) + 1] if longer else wav
        return wav, int(sr), where, longer

    def _mel(self, wav: torch.Tensor) -> torch.Tensor:
        from deepaudio.dsp.mel import mel_spectrogram

        return mel_spectrogram(wav.to(self.device), self.mel).transpose(0, 1).float()  # (T, M)

    def _plan(self, index, text, ref: Reference, ref_frames: int, speed, duration, energy, fade_s):
        """Chunks of one text, their generated-frame counts and the cross-fade length in samples.

        Free length: each chunk's frames come from its own text (reference frames per reference byte).
        Fixed length (``duration`` or an energy contour): the frames are shared out by text size and every
        chunk but the last also renders the ``ov`` frames the next one fades in over, with a cross-fade of
        (ov - 1) hops, so the joined speech has exactly the length, and each chunk the timing, of the
        window (the reference code loses the contour's alignment when it chunks).
        """
        ref_seconds = ref.wav.numel() / SAMPLE_RATE
        # Chunks and their lengths are measured on the text as spoken ("$5" is "five dollars").
        chunks = split_sentences(self.tokenizer.normalize(text), chunk_budget(ref.text, ref_seconds, speed))
        ref_bytes = max(1, len(ref.text.encode("utf-8")))
        sizes = [len(c.encode("utf-8")) for c in chunks]
        if energy is None and duration is None:
            if self.durations is not None:  # the duration table at the reference speaker's rate
                rate = ref_frames / max(1e-6, self._predicted(ref.text).sum())
                frames = [max(1, round(self._predicted(c).sum() * rate / speed)) for c in chunks]
            else:  # F5-TTS: very short texts (< 10 bytes) are given 1/0.3 of the nominal length.
                frames = [max(1, int(ref_frames / ref_bytes * n / (0.3 if n < 10 else speed))) for n in sizes]
            return [(index, c, n, None) for c, n in zip(chunks, frames)], int(fade_s * SAMPLE_RATE)
        total = energy.shape[-1] if energy is not None else int(round(duration * SAMPLE_RATE / HOP))
        ov = max(2, round(fade_s * SAMPLE_RATE / HOP) + 1)
        shares = _split_frames(total, sizes)
        if len(chunks) > 1 and min(shares) <= ov:  # too short to cross-fade: one chunk for the whole window
            chunks, shares = [" ".join(chunks)], [total]
        jobs, pos = [], 0
        for k, (chunk, n) in enumerate(zip(chunks, shares)):
            n_render = n + (ov if k < len(chunks) - 1 else 0)
            e = energy.reshape(-1)[pos:pos + n_render] if energy is not None else None
            jobs.append((index, chunk, max(1, n_render), e))
            pos += n
        return jobs, (ov - 1) * HOP

    def _sample(self, model, jobs, prompt, ref_mel, ref_energy, gen, nfe, cfg_strength, sway, solver, schedule,
                batched_cfg, progress) -> list[torch.Tensor]:
        nc = ref_mel.shape[0]
        b = len(jobs)
        duration = torch.tensor([nc + n for _, _, n, _ in jobs], device=self.device)
        if self.durations is not None:
            text = self._frame_text(prompt, jobs)
        else:
            text = self.tokenizer.batch([prompt + chunk for _, chunk, _, _ in jobs], self.device)
        cond = ref_mel[None].expand(b, -1, -1)
        energy = None
        if model.config.energy_input:
            total = int(duration.max())
            energy = torch.zeros(b, total, device=self.device)
            if ref_energy is not None:
                pe = ref_energy.reshape(-1)[:nc].to(self.device)
                energy[:, : pe.numel()] = pe
            for row, (_, _, _n, e) in enumerate(jobs):
                if e is not None:
                    energy[row, nc:nc + e.numel()] = e.to(self.device)
        res = sample(model, cond, text, duration, steps=nfe, cfg_strength=cfg_strength, sway=sway,
                     method=solver, schedule=schedule, generator=gen, energy=energy, batched_cfg=batched_cfg,
                     mask_padded_keys=True, progress=progress)
        finish_calibration(model)  # int8 (quantize_int8): the first solve's observations become int8
        return [res.mel[row, nc:int(res.duration[row])] for row in range(b)]

    def _prompt_text(self, ref_text: str, nc: int):
        """Phoneme models: (nc,) the reference's token per frame, spread by the duration table. Character
        models: the reference text itself."""
        if self.durations is None:
            return ref_text
        ids = self.tokenizer.encode(ref_text)
        return expand(ids, integer_durations(self._token_frames(ids), nc))

    def _adapted(self, ref_mel: torch.Tensor, prompt, steps: int, lr: float):
        """The network adapted to this reference (``pipelines.tts_adapt``), from a small cache."""
        text = prompt if isinstance(prompt, torch.Tensor) else self.tokenizer.batch([prompt], self.device)[0]
        cache = self._adapt_cache
        key = cache.key(ref_mel, text, steps, lr)
        net = cache.get(key)
        if net is None:
            print(f"deepaudio: adapting the TTS to the reference voice ({steps} steps)", file=sys.stderr)
            with torch.inference_mode(False), torch.enable_grad():  # adapt_network's copies are normal tensors
                net = tts_adapt.adapt_network(self.model, ref_mel, text, steps, lr,
                                              frame_text=self.durations is not None)
            cache.put(key, net)
        return net

    def _predicted(self, text: str):
        return self._token_frames(self.tokenizer.encode(text))

    def _token_frames(self, ids) -> np.ndarray:
        """(N,) float frames per token at the training set's rate (the duration table's)."""
        return self.durations.predict(ids)

    def _frame_text(self, prompt: torch.Tensor, jobs) -> torch.Tensor:
        """(B, nc + max n) frame-level ids: the prompt's (``_prompt_text``), then each chunk's tokens over its
        own frames (along its energy contour when there is one), -1 after each sample's end."""
        pause = self.tokenizer.vocab.index.get(",", self.tokenizer.vocab.index.get(" "))
        rows = []
        for _, chunk, n, e in jobs:
            ids = self.tokenizer.encode(chunk)
            durs, silent = self.place(ids, None if e is None else e.reshape(-1)[:n], n)
            frames = expand(ids, durs)
            if silent is not None and pause is not None:
                frames[silent] = pause
            rows.append(torch.cat([prompt, frames]))
        out = torch.full((len(rows), max(r.numel() for r in rows)), -1, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : r.numel()] = r
        return out.to(self.device)

    def place(self, ids, contour: torch.Tensor | None, n: int, placement: str | None = None):
        """Whole-frame durations of the tokens ``ids`` over ``n`` frames and the pause mask
        (:func:`deepaudio.v2s.placement.place`), at this model's token durations."""
        return place(self._token_frames(ids), self._token_kinds(ids), contour, n, placement)

    def _token_kinds(self, ids) -> list[str]:
        return token_kinds([self.tokenizer.vocab.tokens[int(i)] for i in ids])

    def _decode(self, mel: torch.Tensor) -> torch.Tensor:
        wav = self.vocoder.decode(mel.transpose(0, 1)[None].float())  # (1, L)
        return wav.reshape(-1).float()


def _split_frames(total: int, sizes: list[int]) -> list[int]:
    """Share ``total`` frames among chunks in proportion to their text sizes, summing exactly to total."""
    weight = sum(sizes)
    bounds = [round(total * sum(sizes[: i + 1]) / weight) for i in range(len(sizes))]
    return [bounds[0]] + [bounds[i] - bounds[i - 1] for i in range(1, len(bounds))]
