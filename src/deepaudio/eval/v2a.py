"""V2A distribution metrics (FD, KL, IS, IB-score, DeSync) computed the way av-benchmark does.

The papers report FD on PaSST (32 kHz, 10 s), PANNs (16 kHz) and VGGish embeddings; KL between PANNs /
PaSST softmaxes of paired generated and real clips; IS on PANNs; IB-score (ImageBind video-audio
cosine); DeSync (Synchformer offset over a 21-class grid from -2 to +2 s). Facts taken from the
reference toolkit (av-benchmark), implemented here independently:

* clips are mono, mean-removed, resampled, and cut to the first 8 s (PANNs, VGGish at 16 kHz); PaSST
  takes 32 kHz audio zero-padded or cut to exactly 10 s;
* FD: Frechet distance between Gaussians fitted (mean, unbiased covariance) to generated and real
  embeddings; VGGish embeddings are per 0.96 s frame, all frames of all clips pooled;
* KL: KL(real || generated) of the class softmaxes, summed over classes and averaged over pairs;
* IS: exp(E_x KL(p(y|x) || p(y))) on PANNs logits, clips shuffled with seed 2020, mean over 10 splits;
* IB-score: mean cosine between ImageBind video embeddings of the real video and ImageBind audio
  embeddings of the generated audio;
* DeSync: mean |predicted offset| over the first and last 14 Synchformer segments (4.8 s windows),
  the real video paired with the generated audio (``eval.desync``).

The networks are not bundled (no AudioSet model installs offline): features come either from our
ports with official weights from local files (PANNs / VGGish ``eval.audio_nets``, PaSST ``eval.passt``,
Synchformer ``eval.synchformer_av`` + ``eval.desync``, ImageBind ``eval.imagebind``) or from an
av-benchmark feature cache folder that the user computed elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import BackendUnavailable, InputError

AVB_AUDIO_SECONDS = 8.0
PASST_SR, PASST_SAMPLES = 32000, 320000
DESYNC_GRID = np.linspace(-2.0, 2.0, 21)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) for Gaussians N(mu1, S1), N(mu2, S2).

    Tr((S1 S2)^(1/2)) equals the sum of square roots of the eigenvalues of S1^(1/2) S2 S1^(1/2), a
    symmetric PSD matrix, so two symmetric eigendecompositions give it without a complex sqrtm.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"embedding sizes differ: {mu1.shape} vs {mu2.shape}")
    w, v = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root1 @ s2 @ root1
    tr_cross = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_cross)


def gaussian_stats(emb: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(emb.detach().cpu() if isinstance(emb, torch.Tensor) else emb, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise InputError(f"FD needs at least 2 embeddings [N, D], got shape {x.shape}")
    return x.mean(0), np.cov(x, rowvar=False)


def fd(gen: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor) -> float:
    """Frechet distance between generated and reference embedding sets [N, D], [M, D]."""
    return frechet_distance(*gaussian_stats(gen), *gaussian_stats(ref))


def kl_softmax(gen_logits: torch.Tensor, ref_logits: torch.Tensor) -> float:
    """Mean over pairs of KL(softmax(ref) || softmax(gen)); rows are paired clips."""
    if gen_logits.shape != ref_logits.shape:
        raise InputError(f"paired logits differ in shape: {tuple(gen_logits.shape)} vs {tuple(ref_logits.shape)}")
    lp, lq = ref_logits.double().log_softmax(-1), gen_logits.double().log_softmax(-1)
    return float((lp.exp() * (lp - lq)).sum() / len(gen_logits))


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 2020) -> tuple[float, float]:
    """(mean, std) of exp(E KL(p(y|x) || p(y))) over ``splits`` shuffled chunks of the clips."""
    n = len(logits)
    x = logits.double()[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    p, logp = x.softmax(-1), x.log_softmax(-1)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        if hi <= lo:
            continue
        q = p[lo:hi].mean(0, keepdim=True)
        scores.append(float((p[lo:hi] * (logp[lo:hi] - q.log())).sum(1).mean().exp()))
    return float(np.mean(scores)), float(np.std(scores))


def ib_score(video_emb: torch.Tensor, audio_emb: torch.Tensor) -> float:
    """Mean cosine between paired ImageBind video and audio embeddings."""
    return float(torch.nn.functional.cosine_similarity(video_emb.double(), audio_emb.double(), dim=-1).mean())


def desync(offset_class_ids: torch.Tensor) -> float:
    """Mean |offset| in seconds of Synchformer class predictions on the 21-step -2..2 s grid."""
    return float(np.abs(DESYNC_GRID[offset_class_ids.flatten().cpu().numpy()]).mean())


def prepare_clip(wav: torch.Tensor, sr: int, target_sr: int, seconds: float | None = AVB_AUDIO_SECONDS,
                 exact_samples: int | None = None) -> torch.Tensor:
    """Mono, mean-removed, resampled, cut to ``seconds`` (or padded/cut to ``exact_samples``) -> [T]."""
    x = (wav if wav.dim() == 1 else wav.mean(0)).detach().float().cpu()
    x = x - x.mean()
    if sr != target_sr:
        import soxr

        x = torch.from_numpy(soxr.resample(x.numpy(), sr, target_sr, quality="HQ").astype(np.float32))
    if exact_samples is not None:
        x = x[:exact_samples]
        return torch.nn.functional.pad(x, (0, exact_samples - len(x)))
    return x[: int(target_sr * seconds)] if seconds else x


# --- av-benchmark feature caches: dicts {clip name: tensor or {key: tensor}} saved with torch.save ----------

AVB_FILES = {
    "panns": "pann_features.pth",  # {name: {"2048": [2048], "logits": [527]}}
    "vggish": "vggish_features.pth",  # {name: [frames, 128]}
    "passt_embed": "passt_features_embed.pth",  # {name: [768]}
    "passt_logits": "passt_logits.pth",  # {name: [527]}
    "ib_audio": "imagebind_audio.pth",
    "ib_video": "imagebind_video.pth",
}


def load_cache_file(path: Path) -> dict:
    """One av-benchmark cache file (weights_only: no pickled code)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt or pickled-code file
        raise InputError(f"cannot read feature cache ({exc.__class__.__name__})", path) from exc


def load_feature_cache(folder: str | Path) -> dict[str, dict]:
    """Read the av-benchmark cache files present in ``folder`` (weights_only: no pickled code)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError("feature cache folder not found", folder, "give the folder written by av-benchmark extract")
    out = {}
    for key, name in AVB_FILES.items():
        path = folder / name
        if path.is_file():
            out[key] = load_cache_file(path)
    if not out:
        raise InputError("no av-benchmark feature files in folder", folder,
                         f"expected one of {sorted(AVB_FILES.values())}")
    return out


def _paired(gen: dict, ref: dict, field: str | None = None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    names = sorted(set(gen) & set(ref))
    if not names:
        raise InputError("generated and reference feature caches share no clip names")

    def pick(d, n):
        return d[n][field] if field else d[n]

    return (torch.stack([pick(gen, n).float() for n in names]), torch.stack([pick(ref, n).float() for n in names]),
            names)


def metrics_from_caches(gen: dict[str, dict], ref: dict[str, dict]) -> dict[str, float]:
    """FD / KL / IS / IB-score from av-benchmark caches of generated (``gen``) and real (``ref``) clips."""
    out: dict[str, float] = {}
    if "panns" in gen and "panns" in ref:
        g = torch.stack([v["2048"].float() for v in gen["panns"].values()])
        r = torch.stack([v["2048"].float() for v in ref["panns"].values()])
        out["fd_panns"] = fd(g, r)
        gl, rl, _ = _paired(gen["panns"], ref["panns"], "logits")
        out["kl_panns"] = kl_softmax(gl, rl)
        out["is"] = inception_score(torch.stack([v["logits"].float() for v in gen["panns"].values()]))[0]
    if "vggish" in gen and "vggish" in ref:
        out["fd_vgg"] = fd(torch.cat(list(gen["vggish"].values())), torch.cat(list(ref["vggish"].values())))
    if "passt_embed" in gen and "passt_embed" in ref:
        g, r, _ = _paired(gen["passt_embed"], ref["passt_embed"])
        out["fd_passt"] = fd(g, r)
    if "passt_logits" in gen and "passt_logits" in ref:
        gl, rl, _ = _paired(gen["passt_logits"], ref["passt_logits"])
        out["kl_passt"] = kl_softmax(gl, rl)
    if "ib_audio" in gen and "ib_video" in ref:
        a, v, _ = _paired(gen["ib_audio"], ref["ib_video"])
        out["ib_score"] = ib_score(v, a)
    return out


def unavailable(metric: str) -> BackendUnavailable:
    """What to pass for a V2A metric whose backend is not available."""
    hints = {
        "fd_panns": "--panns CNN14_16K.pth (official PANNs Cnn14_16k checkpoint) or --gen-features/--ref-features",
        "kl_panns": "--panns CNN14_16K.pth or --gen-features/--ref-features",
        "is": "--panns CNN14_16K.pth or --gen-features",
        "fd_vgg": "--vggish VGGISH.pth (torchvggish weights) or --gen-features/--ref-features",
        "fd_passt": "--passt passt-s-f128-p16-s10-ap.476-swa.pt with --ref (needs 2+ pairs), or "
                    "--gen-features/--ref-features (av-benchmark caches with passt_features_embed.pth)",
        "kl_passt": "--passt passt-s-f128-p16-s10-ap.476-swa.pt with --ref, or "
                    "--gen-features/--ref-features (av-benchmark caches with passt_logits.pth)",
        "ib_score": "--imagebind imagebind_huge.pth with --video (the real videos), or --gen-features "
                    "(imagebind_audio.pth) and --ref-features (imagebind_video.pth)",
        "desync": "--synchformer synchformer_state_dict.pth (official, with audio branch and offset head) and "
                  "--video (the real videos), or with --gen-features/--ref-features holding synchformer_*.pth",
    }
    return BackendUnavailable(f"{metric} backend not available", hint=hints.get(metric, "see deepaudio eval --help"))
