"""End-to-end project figures for ``bench_vs_official.py`` (full-size networks, random weights, bf16).

- TTS: F5TTS_v1_Base + Vocos (mel_24khz sizes), the official vocab; 10 s of new speech after a 5.6 s
  reference (the bundled voice three times), EPSS 7 steps and the F5 default NFE 32; the checkpoint is
  saved and loaded as a user's would be (load time reported apart). Quality cost of each mode: relative
  L2 distance of its waveform from the fp32 NFE-32 result of the same model, seed and noise.
- V2A: an 8 s 640x360 video through the whole pipeline (frame decode, CLIP DFN5B ViT-H/14-384 on 64
  frames, Synchformer on 23 segments, 25 Euler steps with batched CFG, VAE + BigVGAN), then again with
  another prompt (features from the content-hash cache). small_16k and large_44k share the encoders.

Run through bench_vs_official.py (``--figures tts,v2a_small,v2a_large``); see its docstring.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

TTS_TEXT = ("The quiet harbour woke slowly as the fishing boats came in, their engines humming low over the "
            "water while gulls circled the masts and the morning light spread across the old stone pier.")


def _random(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.is_floating_point():
                p.copy_(torch.randn(p.shape, generator=g) * 0.02 + (1.0 if p.ndim == 1 and "weight" in name else 0.0))
    return module.eval()


def _build(cls, config, seed: int, **kw):
    from deepaudio.perf import skip_init

    with skip_init():
        model = cls(config, **kw)
    return _random(model, seed)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    n = min(a.shape[-1], b.shape[-1])
    return float((a[..., :n] - b[..., :n]).norm() / b[..., :n].norm().clamp(min=1e-12))


def _reference():
    import deepaudio.assets
    from deepaudio.io.audio import load_audio

    voice = Path(deepaudio.assets.__file__).parent / "default" / "voice"
    wav, sr = load_audio(voice / "voice.flac", mono=True)
    gap = torch.zeros(int(0.1 * sr))
    wav = torch.cat([wav.reshape(-1), gap] * 3)
    text = "We watched the boats come into the harbour. " * 3
    return (wav, sr), text.strip()


def bench_tts(rows, peaks, emit, floor, flops, vocab_path: Path) -> None:
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT
    from deepaudio.models.vocoders.vocos import VOCOS_PRESETS, Vocos
    from deepaudio.pipelines.tts import TTSPipeline

    ref, ref_text = _reference()
    vocoder = _build(Vocos, VOCOS_PRESETS.get("mel_24khz"), 5)
    with tempfile.TemporaryDirectory() as tmp:
        DiT.save_pretrained(_build(DiT, TTS_PRESETS.get("F5TTS_v1_Base"), 4), tmp,
                            extra_files={"vocab.txt": Path(vocab_path).read_text(encoding="utf-8")})
        t0 = time.perf_counter()
        pipe = TTSPipeline.from_pretrained(tmp, vocoder=vocoder, dtype="bf16")
        load_s = time.perf_counter() - t0
        pipe32 = TTSPipeline.from_pretrained(tmp, vocoder=vocoder, dtype="fp32")
    kw = dict(ref_text=ref_text, seed=0, duration=10.0)
    with torch.inference_mode():
        exact = pipe32(TTS_TEXT, ref, nfe=32, **kw).audio
        n = round(10.0 * 93.75) + round(ref[0].numel() / ref[1] * 93.75)
        step_flops = flops(lambda: pipe.model(torch.zeros(1, n, 100, dtype=torch.bfloat16),
                                              torch.zeros(1, n, 100, dtype=torch.bfloat16),
                                              torch.zeros(1, 200, dtype=torch.long), torch.tensor([0.5]),
                                              cfg_infer=True))
        voc_flops = flops(lambda: vocoder.decode(torch.zeros(1, 100, n - round(ref[0].numel() / ref[1] * 93.75))))
        for name, opts in (("epss7", dict(nfe=7, schedule="epss")), ("nfe32", dict(nfe=32))):
            pipe(TTS_TEXT, ref, **{**opts, "nfe": 1}, **{k: v for k, v in kw.items()})  # warm-up
            t0 = time.perf_counter()
            out = pipe(TTS_TEXT, ref, **opts, **kw).audio
            sec = time.perf_counter() - t0
            fl = (step_flops[0] * opts["nfe"] + voc_flops[0], step_flops[1] * opts["nfe"] + voc_flops[1])
            emit(rows, figure=f"tts_10s_ref5s_bf16_{name}", project_s=sec, rtf=sec / 10.0, load_s=load_s,
                 floor_s=floor(fl, peaks), time_over_floor=sec / floor(fl, peaks),
                 rel_l2_vs_fp32_nfe32=_rel(out, exact), target_s=15.0)


def _encoders(dtype: torch.dtype):
    from deepaudio.models.encoders.clip import CLIP_PRESETS, OpenCLIP
    from deepaudio.models.encoders.clip_tokenizer import CLIPTokenizer, byte_symbols
    from deepaudio.models.encoders.synchformer import SYNCHFORMER_PRESETS, Synchformer
    from deepaudio.models.v2a.official import OfficialEncoders

    clip = _build(OpenCLIP, CLIP_PRESETS.get("dfn5b_vit_h_14_384"), 6).to(dtype)
    sync = _build(Synchformer, SYNCHFORMER_PRESETS.get("base"), 7).to(dtype)
    _, chars = byte_symbols()
    need = clip.config.vocab_size - 2 * 256 - 2  # synthetic merges: the ids' count matters, not their text
    merges = [(a, b) for a in chars for b in chars][:need]
    return OfficialEncoders(clip, sync, CLIPTokenizer(merges, vocab_size=clip.config.vocab_size))


def _codec(preset: str):
    from deepaudio.models.v2a.codecs import MMAudioCodec
    from deepaudio.models.v2a.config import VAE_PRESETS
    from deepaudio.models.v2a.vae import MelVAE
    from deepaudio.models.vocoders.bigvgan import BIGVGAN_PRESETS, BigVGAN

    is16 = preset.endswith("16k")
    vae = _build(MelVAE, VAE_PRESETS.get("16k" if is16 else "44k"), 8)
    voc = _build(BigVGAN, BIGVGAN_PRESETS.get("mmaudio_16k" if is16 else "bigvgan_v2_44khz_128band_512x"), 9)
    return MMAudioCodec(vae, voc)


class _Timer:
    """Wraps a bound method and sums its wall time."""

    def __init__(self, obj, name: str):
        self.total, self.fn = 0.0, getattr(obj, name)
        setattr(obj, name, self)

    def __call__(self, *a, **kw):
        t0 = time.perf_counter()
        try:
            return self.fn(*a, **kw)
        finally:
            self.total += time.perf_counter() - t0


def _step_and_decode_flops(pipe, flops):
    from deepaudio.models.v2a.sampling import guided_flow

    net, dt = pipe.net, pipe.dtype
    n, c = net.config.latent_seq_len, net.config.latent_dim
    with torch.inference_mode():
        cond = net.preprocess_conditions(net.empty_clip_sequence(1), net.empty_sync_sequence(1),
                                         net.empty_string_sequence(1))
        f = guided_flow(net, cond, net.get_empty_conditions(1), 4.5, batched=True)
        step = flops(lambda: f(torch.tensor(0.5, dtype=dt), torch.zeros(1, n, c, dtype=dt)))
        return step, flops(lambda: pipe.codec.decode(torch.zeros(1, n, c)))


def bench_v2a(rows, peaks, emit, floor, flops, presets: list[str]) -> None:
    from deepaudio.io.testmedia import moving_square_video
    from deepaudio.models.v2a.config import MMAUDIO_PRESETS
    from deepaudio.models.v2a.mmdit import MMAudioNet
    from deepaudio.pipelines.v2a import V2APipeline
    from deepaudio.pipelines.v2a_cache import FeatureCache

    dt = torch.bfloat16
    enc = _encoders(dt)
    with torch.inference_mode():
        clip_fl = flops(lambda: enc.clip.encode_image(torch.zeros(1, 3, 384, 384, dtype=dt)))
        sync_fl = flops(lambda: enc.synchformer.encode_video(torch.zeros(1, 16, 3, 224, 224, dtype=dt)))
    feat_time = None
    with tempfile.TemporaryDirectory() as tmp:
        video = moving_square_video(Path(tmp) / "v.mp4", duration=8.0, width=640, height=360).path
        for preset in presets:
            net = _build(MMAudioNet, MMAUDIO_PRESETS.get(preset), 10)
            with torch.no_grad():
                net.latent_mean.zero_()
                net.latent_std.fill_(1.0)
            pipe = V2APipeline(net, enc, _codec(preset), window=8.0, dtype=dt)
            pipe.feature_cache = FeatureCache(Path(tmp) / "cache")
            t_enc, t_dec = _Timer(pipe.encoder, "encode_video"), _Timer(pipe.codec, "decode")
            t0 = time.perf_counter()
            pipe(video, prompt="rain on a tin roof", seed=0)
            first = time.perf_counter() - t0
            t1 = time.perf_counter()
            pipe(video, prompt="a dog barks in the distance", seed=0)
            second = time.perf_counter() - t1
            step_fl, dec_fl = _step_and_decode_flops(pipe, flops)
            segs = (int(8.0 * 25) - 16) // 8 + 1
            fl = tuple(64 * a + segs * b + 25 * s + d for a, b, s, d in zip(clip_fl, sync_fl, step_fl, dec_fl))
            if feat_time is None:
                feat_time = t_enc.total
            cached = t_enc.total < 0.5 * feat_time  # a later preset finds the first one's features
            total = first + (feat_time if cached else 0.0)  # end to end with the features computed
            emit(rows, figure=f"v2a_{preset}_8s_bf16_end_to_end", project_s=total, features_s=feat_time,
                 decode_s=t_dec.total / 2, floor_s=floor(fl, peaks), time_over_floor=total / floor(fl, peaks),
                 target_s=90.0 if preset == "small_16k" else None, features_from_earlier_run=cached)
            emit(rows, figure=f"v2a_{preset}_8s_bf16_new_prompt_cached", project_s=second,
                 floor_s=floor(tuple(25 * s + d for s, d in zip(step_fl, dec_fl)), peaks))
