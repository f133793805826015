"""Text-to-speech with a reference voice: F5-TTS inference (Chen et al. 2024) plus the DeepAudio V2S
energy input.

    pipe = TTSPipeline.from_pretrained("ckpt/f5tts_v1_base", vocoder="ckpt/vocos")
    wav, sr = pipe("Text to say.", "voice.wav", ref_text="What the voice says.")

Flow: reference clip -> 24 kHz mono, clipped/trimmed/RMS-raised (``tts_reference``) -> log-mel prompt;
text -> sentence chunks; each chunk's length comes from its own text (reference frames per reference
byte x chunk bytes / speed) or from the target energy contour; all chunks are sampled in one batch
(per-sample noise and masks, so a chunk's result does not depend on the batch) -> mel -> vocoder ->
chunks cross-faded. Settings are call arguments; nothing is written to disk here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import ConfigError, InputError
from deepaudio.models.tts.cfm import sample
from deepaudio.models.tts.dit import DiT
from deepaudio.models.tts.durations import FILE as DURATIONS_FILE
from deepaudio.models.tts.durations import DurationTable, contour_durations, expand, integer_durations
from deepaudio.pipelines.tts_reference import SAMPLE_RATE, Reference, cross_fade, prepare_reference
from deepaudio.text.chunking import chunk_budget, split_sentences
from deepaudio.text.tokenizer import Tokenizer, Vocab

HOP = 256
# V2S phoneme placement: "align" (a dynamic programme puts the text's pauses, sentence ends first, into the
# contour's quiet runs: models.tts.durations.contour_durations), "active" (phonemes at their own durations
# over the non-quiet frames) or "energy" (spread along the contour itself). Sentence starts on the toy
# world's multi-sentence clips, lip contour: median 68 ms from the real ones with "align", 259 ms with
# "active", 282 ms with "energy" (test split; validation 36 / 418 / 334 ms; benchmarks/bench_v2s_placement.py).
PLACEMENT = "align"
SENTENCE_ENDS = ".!?;:\u3002\uff01\uff1f\uff1b"
BILABIALS = {"P", "B", "M", "p", "b", "m"}
QUIET_FLOOR, QUIET_MIN_FRAMES = 0.1, 10  # contour below 10 % of its peak for >= 10 frames (107 ms): a pause
DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
          "fp16": torch.float16, "float16": torch.float16}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}", hint="use fp32, bf16 or fp16")
    return DTYPES[dtype]


def load_vocoder(vocoder, device: torch.device | str):
    """An object with ``decode(mel [B, 100, T]) -> wav [B, L]``: given as such, as a Vocos checkpoint
    folder, or None for the Griffin-Lim fallback (no neural vocoder weights ship with deepaudio)."""
    if vocoder is not None and hasattr(vocoder, "decode"):
        return vocoder
    if vocoder is None:
        print("deepaudio: no vocoder given, using Griffin-Lim (low quality; pass --vocoder DIR)", file=sys.stderr)
        return GriffinLimVocoder()
    from deepaudio.models.vocoders.vocos import Vocos

    return Vocos.from_pretrained(Path(vocoder), device=device)


class GriffinLimVocoder:
    """The fallback vocoder: Griffin-Lim inversion of the F5 24 kHz log-mel (``deepaudio.dsp.griffinlim``)."""

    def __init__(self, n_iter: int = 32, seed: int = 0):
        self.n_iter, self.seed = n_iter, seed

    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        from deepaudio.dsp.griffinlim import griffin_lim_from_mel
        from deepaudio.dsp.mel import F5_24K

        gen = torch.Generator().manual_seed(self.seed)
        return griffin_lim_from_mel(mel.float().cpu(), F5_24K, n_iter=self.n_iter, generator=gen)


class TTSPipeline:
    def __init__(self, model: DiT, tokenizer: Tokenizer, vocoder=None, device: torch.device | str = "cpu",
                 dtype: str | torch.dtype = "fp32", durations: DurationTable | None = None):
        self.device = torch.device(device)
        self.durations = durations  # phoneme-input models: each frame is given its token (models.tts.durations)
        self.dtype = resolve_dtype(dtype)
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.tokenizer = tokenizer
        self.vocoder = load_vocoder(vocoder, self.device)
        if hasattr(self.vocoder, "eval"):
            self.vocoder.eval()

    @classmethod
    def from_pretrained(cls, directory: str | Path, vocoder=None, device: torch.device | str = "cpu",
                        dtype: str | torch.dtype = "fp32", tokenizer: str = "auto",
                        strict_text: bool = False) -> TTSPipeline:
        """Load a converted checkpoint folder (config.json, model.safetensors, vocab.txt)."""
        model = DiT.from_pretrained(directory)
        folder = Path(directory).expanduser()
        vocab = Vocab.load(folder / "vocab.txt")
        table = DurationTable.load(folder / DURATIONS_FILE) if (folder / DURATIONS_FILE).is_file() else None
        # a duration_predictor.safetensors exported by older versions is ignored: the table measured better
        return cls(model, Tokenizer(vocab, tokenizer, strict_text), vocoder, device, dtype, table)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the network and its vocabulary as a checkpoint folder (``from_pretrained`` reads it)."""
        extra = {"vocab.txt": self.tokenizer.vocab.to_text()}
        if self.durations is not None:
            extra[DURATIONS_FILE] = self.durations.to_text()
        return self.model.save_pretrained(directory, extra_files=extra)

    @torch.inference_mode()
    def __call__(self, text: str | Sequence[str], ref_audio, ref_text: str | None = None, nfe: int = 32,
                 cfg_strength: float = 2.0, sway: float | None = -1.0, solver: str = "euler",
                 schedule: str = "uniform", seed: int | None = None, speed: float = 1.0,
                 duration: float | None = None, energy: torch.Tensor | None = None,
                 ref_energy: torch.Tensor | None = None, cross_fade_s: float = 0.15, max_batch: int = 8,
                 batched_cfg: bool = True, progress: Callable[[int, int], None] | None = None):
        """Speak ``text`` in the voice of ``ref_audio`` (a path or ``(wav, sr)``) -> ``(wav [1, L], 24000)``.

        A list of texts gives a list of results, sampled together. ``duration`` (seconds) fixes the length
        of the new speech; ``energy`` (frames at 93.75/s, values in [0, 1]) is the V2S contour of the
        target window and also fixes its length; ``ref_energy`` the prompt's contour (zeros if absent,
        ``"speech"``: the energy of the reference recording).
        """
        if speed <= 0:
            raise ConfigError(f"speed must be > 0, got {speed}")
        texts = [text] if isinstance(text, str) else list(text)
        if not texts or any(not t.strip() for t in texts):
            raise InputError("empty text to speak", hint="give at least one non-empty sentence")
        if energy is not None and not self.model.config.energy_input:
            raise ConfigError("this checkpoint has no energy input", hint="use a DeepAudio V2S checkpoint")
        ref = self._reference(ref_audio, ref_text)
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
            planned, fade = self._plan(i, t, ref, ref_mel.shape[0], speed, duration, energy, cross_fade_s)
            jobs += planned
            fades.append(fade)
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else torch.Generator()
        if seed is None:
            gen.seed()
        mels: list[torch.Tensor] = []
        for start in range(0, len(jobs), max_batch):
            mels += self._sample(jobs[start:start + max_batch], ref, ref_mel, ref_energy, gen, nfe, cfg_strength,
                                 sway, solver, schedule, batched_cfg, progress)
        results = []
        for i in range(len(texts)):
            parts = [self._decode(m) / ref.gain for m, job in zip(mels, jobs) if job[0] == i]
            wav = cross_fade(parts, samples=fades[i]).float().cpu()
            if lead or trail:
                wav = torch.nn.functional.pad(wav, (lead * HOP, trail * HOP))
            results.append((wav.unsqueeze(0), SAMPLE_RATE))
        return results[0] if isinstance(text, str) else results

    # -- steps ---------------------------------------------------------------------------------------

    def _reference(self, ref_audio, ref_text: str | None) -> Reference:
        if isinstance(ref_audio, (str, Path)):
            from deepaudio.io.audio import load_audio

            wav, sr = load_audio(ref_audio, sample_rate=SAMPLE_RATE, mono=True)
        else:
            wav, sr = ref_audio
            wav = torch.as_tensor(wav, dtype=torch.float32)
            wav = wav.mean(dim=0) if wav.ndim == 2 else wav
            if sr != SAMPLE_RATE:
                from deepaudio.io.audio import resample

                wav = resample(wav[None], sr, SAMPLE_RATE)[0]
        wav = wav.reshape(-1).float()
        if wav.numel() < SAMPLE_RATE // 10:
            raise InputError("reference audio is shorter than 0.1 s", hint="give 3-15 s of clean speech")
        if ref_text is None or not ref_text.strip():
            from deepaudio.eval.asr import transcribe

            ref_text = transcribe(wav[None], SAMPLE_RATE)
            print(f"deepaudio: no reference text given; transcribed it as: {ref_text!r}", file=sys.stderr)
            if not ref_text.strip():
                raise InputError("the reference audio could not be transcribed", hint="pass --ref-text")
        # Read out numbers/symbols before the byte counts that set the speaking rate (tokenizer.normalize).
        return prepare_reference(wav, self.tokenizer.normalize(ref_text))

    def _mel(self, wav: torch.Tensor) -> torch.Tensor:
        from deepaudio.dsp.mel import F5_24K, mel_spectrogram

        return mel_spectrogram(wav.to(self.device), F5_24K).transpose(0, 1).float()  # (T, M)

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

    def _sample(self, jobs, ref, ref_mel, ref_energy, gen, nfe, cfg_strength, sway, solver, schedule,
                batched_cfg, progress) -> list[torch.Tensor]:
        nc = ref_mel.shape[0]
        b = len(jobs)
        duration = torch.tensor([nc + n for _, _, n, _ in jobs], device=self.device)
        if self.durations is not None:
            text = self._frame_text(ref.text, nc, jobs)
        else:
            text = self.tokenizer.batch([ref.text + chunk for _, chunk, _, _ in jobs], self.device)
        cond = ref_mel[None].expand(b, -1, -1)
        energy = None
        if self.model.config.energy_input:
            total = int(duration.max())
            energy = torch.zeros(b, total, device=self.device)
            if ref_energy is not None:
                pe = ref_energy.reshape(-1)[:nc].to(self.device)
                energy[:, : pe.numel()] = pe
            for row, (_, _, _n, e) in enumerate(jobs):
                if e is not None:
                    energy[row, nc:nc + e.numel()] = e.to(self.device)
        res = sample(self.model, cond, text, duration, steps=nfe, cfg_strength=cfg_strength, sway=sway,
                     method=solver, schedule=schedule, generator=gen, energy=energy, batched_cfg=batched_cfg,
                     mask_padded_keys=True, progress=progress)
        return [res.mel[row, nc:int(res.duration[row])] for row in range(b)]

    def _predicted(self, text: str):
        return self._token_frames(self.tokenizer.encode(text))

    def _token_frames(self, ids) -> np.ndarray:
        """(N,) float frames per token at the training set's rate (the duration table's)."""
        return self.durations.predict(ids)

    def _frame_text(self, ref_text: str, nc: int, jobs) -> torch.Tensor:
        """(B, nc + max n) frame-level ids: the prompt's tokens spread over its frames, each chunk's tokens
        over its own frames (along its energy contour when there is one), -1 after each sample's end."""
        ref_ids = self.tokenizer.encode(ref_text)
        prompt = expand(ref_ids, integer_durations(self._token_frames(ref_ids), nc))
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
        """Whole-frame durations (N,) of the tokens ``ids`` over ``n`` frames, and the (n,) bool mask of the
        frames that become pause tokens (None without a contour). ``placement`` (default ``PLACEMENT``):

        - "align": ``contour_durations`` on the contour's quiet runs; the job's own quiet ends (a chunk that
          starts or ends in a pause) stay outside the speech, and a phoneme the programme chose to keep on
          quiet frames (a closed-lip consonant, a soft sound) is not turned into a pause. Falls back to
          "active" when the tokens do not fit;
        - "active": the phonemes at their own relative durations over the non-quiet frames;
        - "energy": spread along the contour's cumulative energy.
        Every quiet frame outside those kept phonemes is a pause: the contour says nobody talks there."""
        placement = placement or PLACEMENT
        if placement not in ("align", "active", "energy"):
            raise ConfigError(f"unknown placement {placement!r}", hint="use align, active or energy")
        frames = self._token_frames(ids)
        if contour is None:
            return integer_durations(frames, n), None
        c = contour.float().cpu().numpy()
        quiet = quiet_runs(c)
        active = np.flatnonzero(~quiet)
        if placement == "align" and active.size:
            a, b = int(active[0]), int(active[-1]) + 1
            kinds = self._token_kinds(ids)
            durs = contour_durations(frames, quiet[a:b], kinds)
            if durs is not None:
                spoken = torch.zeros(n, dtype=torch.bool)
                spoken[a:b] = expand([k in ("phoneme", "closed") for k in kinds], durs).bool()
                durs = durs.copy()
                durs[0] += a  # the quiet ends go to the first and last token, and become pause
                durs[-1] += n - b
                return durs, torch.from_numpy(quiet) & ~spoken
        density = c if placement == "energy" else (~quiet).astype("float64")
        return integer_durations(frames, n, density), torch.from_numpy(quiet)

    def _token_kinds(self, ids) -> list[str]:
        """Each token's kind for ``contour_durations``: a word gap, phrase or sentence punctuation, a
        bilabial ("closed": the lips shut) or another sound."""
        out = []
        for i in ids:
            tok = self.tokenizer.vocab.tokens[int(i)]
            if not tok.strip():
                out.append("word")
            elif tok in SENTENCE_ENDS:
                out.append("sentence")
            elif not any(ch.isalnum() for ch in tok):
                out.append("phrase")
            else:
                out.append("closed" if tok in BILABIALS else "phoneme")
        return out

    def _decode(self, mel: torch.Tensor) -> torch.Tensor:
        wav = self.vocoder.decode(mel.transpose(0, 1)[None].float())  # (1, L)
        return wav.reshape(-1).float()


def quiet_runs(contour, floor: float | None = None, min_frames: int | None = None):
    """(T,) bool: frames inside runs of at least ``min_frames`` where the contour stays below ``floor`` x its
    peak. Such stretches are given the pause token, so a contour's silences stay silent."""
    import numpy as np

    floor = QUIET_FLOOR if floor is None else floor
    min_frames = QUIET_MIN_FRAMES if min_frames is None else min_frames
    c = np.asarray(contour, dtype=np.float64).reshape(-1)
    low = c < floor * max(float(c.max(initial=0.0)), 1e-12)
    out = np.zeros(c.size, dtype=bool)
    start = None
    for i, q in enumerate(np.append(low, False)):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if i - start >= min_frames:
                out[start:i] = True
            start = None
    return out


def quiet_ends(contour) -> tuple[int, int]:
    """(leading, trailing) frames of the contour that belong to a quiet run (``quiet_runs``) at its start and
    end; (0, 0) when it is quiet throughout (nothing says where the speech goes, so all of it is kept)."""
    quiet = quiet_runs(contour.reshape(-1).float().cpu().numpy() if torch.is_tensor(contour) else contour)
    active = np.flatnonzero(~quiet)
    if active.size == 0:
        return 0, 0
    return int(active[0]), int(quiet.size - 1 - active[-1])


def _split_frames(total: int, sizes: list[int]) -> list[int]:
    """Share ``total`` frames among chunks in proportion to their text sizes, summing exactly to total."""
    weight = sum(sizes)
    bounds = [round(total * sum(sizes[: i + 1]) / weight) for i in range(len(sizes))]
    return [bounds[0]] + [bounds[i] - bounds[i - 1] for i in range(1, len(bounds))]
