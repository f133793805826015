"""Stage 1: train the V2A flow (``deepaudio train v2a``).

Tiny configuration (the bundled default): the condition encoders are small CNNs/transformers that
train jointly with the MM-DiT, and the latent is the log-mel of :class:`~deepaudio.models.v2a.codecs.
MelCodec`. Extraction first caches, per clip, the 8 fps and 25 fps frames, the target latents and the
prompt's byte ids (``features/*.safetensors``, resumable); training then runs the shared loop:
rectified flow with ``min_sigma = 0``, condition dropout 0.1 for CFG (video and text dropped
independently, replaced by the network's empty features as MMAudio does), AdamW with warm-up,
grad-clip, EMA, optional bf16, exact resume. The export is a ``v2a_pipeline`` folder.

Manifest CSV: ``video`` (required), ``audio`` (optional: else the video's own audio track),
``prompt`` (optional). Relative paths are relative to the CSV.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from deepaudio.checkpoint import write_config
from deepaudio.config import Registry, to_dict
from deepaudio.errors import DeepAudioError, InputError
from deepaudio.flow import FlowPath
from deepaudio.io.atomic import atomic_path
from deepaudio.models.encoders.tiny import TinyEncoderConfig
from deepaudio.models.encoders.tiny_bundle import TinyV2AEncoder
from deepaudio.models.v2a.codecs import MelCodec, MelCodecConfig
from deepaudio.models.v2a.config import MMAudioConfig
from deepaudio.models.v2a.mmdit import MMAudioNet
from deepaudio.models.v2a.sequence import CLIP_FPS, SYNC_FPS, SequencePlan, fit_frames
from deepaudio.train.batching import FixedBatches, FrameBudgetBatcher
from deepaudio.train.loop import TrainConfig, train

HELP = "train the V2A flow (stage 1): tiny encoders + MM-DiT, or the MM-DiT on official features"

@dataclass(frozen=True)
class TinyV2ASetup:
    net: MMAudioConfig  # sequence lengths are re-derived from ``seconds`` and the codec
    encoder: TinyEncoderConfig = field(default_factory=TinyEncoderConfig)
    codec: MelCodecConfig = field(default_factory=MelCodecConfig)
    seconds: float = 4.0  # training clip length (and the pipeline's window)
    encoder_square_video: bool = True  # training videos are square: decode once at 25 fps (the toy world)


V2A_SETUPS: Registry[TinyV2ASetup] = Registry("V2A training setup")
V2A_SETUPS.add("tiny", TinyV2ASetup(  # the bundled default: sized for CPU training
    net=MMAudioConfig(latent_dim=64, clip_dim=64, sync_dim=64, text_dim=64, hidden_dim=128, depth=4, fused_depth=2,
                      num_heads=4, latent_seq_len=125, clip_seq_len=32, sync_seq_len=88, text_seq_len=16),
    encoder=TinyEncoderConfig(image_size=48, channels=(16, 32, 48, 64))))
V2A_SETUPS.add("tiny_m2", TinyV2ASetup(  # tiny, whose sync stream sees three frames and is evenly timed
    net=V2A_SETUPS.get("tiny").net,
    encoder=TinyEncoderConfig(image_size=48, channels=(16, 32, 48, 64), motion_order=2, sync_tokens="uniform")))
V2A_SETUPS.add("micro", TinyV2ASetup(  # for tests: seconds-fast
    net=MMAudioConfig(latent_dim=16, clip_dim=16, sync_dim=16, text_dim=16, hidden_dim=32, depth=2, fused_depth=1,
                      num_heads=2, latent_seq_len=32, clip_seq_len=8, sync_seq_len=24, text_seq_len=8),
    encoder=TinyEncoderConfig(image_size=32, channels=(8, 16), clip_dim=16, sync_dim=16, text_dim=16, text_seq_len=8,
                              text_layers=1, text_heads=2),
    codec=MelCodecConfig(n_mels=16, griffin_lim_iters=8), seconds=1.0))


# ------------------------------------------------------------------------------------------ data
def read_manifest(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise InputError(f"cannot read manifest ({exc.strerror})", path) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"manifest is not a UTF-8 CSV file ({type(exc).__name__})", path) from exc
    if not rows or "video" not in rows[0]:
        raise InputError("manifest needs a 'video' column (optional: audio, prompt)", path)
    base = path.parent
    out = []
    for line, r in enumerate(rows, start=2):
        if not isinstance(r.get("video"), str) or not r["video"].strip() or not isinstance(r.get("audio", ""), str):
            raise InputError(f"line {line}: no video named (or a malformed row)", path)
        item = {"video": str(base / r["video"]) if not Path(r["video"]).is_absolute() else r["video"],
                "prompt": r.get("prompt") if isinstance(r.get("prompt"), str) else ""}
        if r.get("audio"):
            item["audio"] = str(base / r["audio"]) if not Path(r["audio"]).is_absolute() else r["audio"]
        out.append(item)
    return out


MAX_CROP_SECONDS = 8.0  # with crops, clips are cached up to this long


def extract_features(items: list[dict[str, str]], setup: TinyV2ASetup, out_dir: Path,
                     crops: bool = False, part: tuple[int, int] = (0, 1)) -> list[Path]:
    """Cache frames, latents and prompt ids per clip; existing files are kept (resumable).

    Without ``crops`` a clip contributes its first ``setup.seconds``. With ``crops`` the cache keeps the
    frames of up to ``MAX_CROP_SECONDS`` and one latent per whole-second start (``latent``: (K, N, M)),
    so training can draw any of the K windows; whole seconds keep the 8 fps, 25 fps and audio grids
    aligned exactly (the latent of each window is encoded from its own audio).

    ``part=(rank, world)``: this process extracts only the clips whose file name hashes to it
    (:func:`deepaudio.distributed.owner`) and returns only those; after a barrier every rank lists the
    whole cache with :func:`cached_features`."""
    from tqdm import tqdm

    from deepaudio.distributed import owner
    from deepaudio.io.audio import load_audio
    from deepaudio.io.video import read_frames
    from deepaudio.models.encoders.tiny import TinyTextEncoder

    out_dir.mkdir(parents=True, exist_ok=True)
    codec = MelCodec(setup.codec)
    plan = SequencePlan.for_duration(setup.seconds, codec.latent_rate)
    text = TinyTextEncoder(setup.encoder)
    span = MAX_CROP_SECONDS if crops else setup.seconds
    files, skipped = [], 0
    for i, item in enumerate(tqdm(items, desc="extract", unit="clip", file=sys.stderr)):
        path = out_dir / f"{i:06d}.safetensors"
        if owner(path.name, part[1]) != part[0]:
            continue
        if path.exists():
            files.append(path)
            continue
        try:
            f25, _ = read_frames(item["video"], fps=SYNC_FPS, size=setup.encoder.image_size, crop="center",
                                 start=0.0, duration=span)
            n8 = int(round(f25.shape[0] * CLIP_FPS / SYNC_FPS)) if crops else plan.clip_frames
            if setup.encoder_square_video:
                # One decode: the 8 fps stream is the latest 25 fps frame at each k/8 s (what read_frames
                # returns), identical for square video where the centre crop equals the resize.
                f8 = f25[(torch.arange(n8) * SYNC_FPS / CLIP_FPS + 1e-6).long().clamp(max=len(f25) - 1)]
            else:
                f8, _ = read_frames(item["video"], fps=CLIP_FPS, size=setup.encoder.image_size, crop="resize",
                                    start=0.0, duration=span)
            wav, _ = load_audio(item.get("audio", item["video"]), sample_rate=codec.sample_rate, mono=True)
        except DeepAudioError as exc:
            skipped += 1
            tqdm.write(f"skipping {item['video']}: {exc}", file=sys.stderr)
            continue
        sr = codec.sample_rate
        n = int(round(setup.seconds * sr))
        if wav.shape[-1] < n * 0.95 or f25.shape[0] < plan.sync_frames * 0.95:
            skipped += 1
            continue
        if crops:  # windows starting at 0, 1, 2 ... s that lie wholly inside both the audio and the frames
            k_audio = (wav.shape[-1] - n) // sr + 1
            k_video = min((f25.shape[0] - plan.sync_frames) // int(SYNC_FPS), (f8.shape[0] - plan.clip_frames)
                          // int(CLIP_FPS)) + 1
            count = max(1, min(k_audio, k_video, int(MAX_CROP_SECONDS - setup.seconds) + 1))
        else:
            count = 1
        latents = []
        for k in range(count):
            w = wav[:, k * sr: k * sr + n]
            w = torch.nn.functional.pad(w, (0, max(0, n - w.shape[-1])))
            latents.append(codec.encode(w)[0, : plan.latent])  # (N, M)
        if crops:
            frames8 = fit_frames(f8, plan.clip_frames + int(CLIP_FPS) * (count - 1))
            frames25 = fit_frames(f25, plan.sync_frames + int(SYNC_FPS) * (count - 1))
            latent = torch.stack(latents)
        else:
            frames8, frames25 = fit_frames(f8, plan.clip_frames), fit_frames(f25, plan.sync_frames)
            latent = latents[0]
        tensors = {"frames8": frames8.contiguous(), "frames25": frames25.contiguous(), "latent": latent.contiguous(),
                   "text_ids": text.tokenize([item["prompt"]])[0],
                   "has_text": torch.tensor(bool(item["prompt"]))}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp))
        files.append(path)
    if skipped:
        print(f"extract: skipped {skipped} clip(s) (unreadable or shorter than {setup.seconds} s)", file=sys.stderr)
    return files


def cached_features(out_dir: Path, count: int) -> list[Path]:
    """The cache files of a manifest of ``count`` rows, in manifest order (clips that were skipped have none)."""
    return [p for p in (out_dir / f"{i:06d}.safetensors" for i in range(count)) if p.is_file()]


class ClipBatches:
    """Batches of cached clips. With ``plan`` (a crop cache from ``extract_features(crops=True)``) every
    epoch draws one whole-second window per clip, from (seed, epoch), so a resumed run sees the same ones."""

    def __init__(self, files: list[Path], batch: int, seed: int, shuffle: bool = True,
                 plan: SequencePlan | None = None):
        self.files = files
        self.batcher = FrameBudgetBatcher.build([1] * len(files), batch, batch, seed=seed, shuffle=shuffle)
        self.seed, self.plan = seed, plan
        self.windows = [1] * len(files)
        if plan is not None:
            for j, f in enumerate(files):
                with safe_open(str(f), framework="pt") as h:
                    shape = h.get_slice("latent").get_shape()
                if len(shape) != 3:
                    raise InputError("this feature cache holds no crop windows", f,
                                     "use a new --out folder (or leave out --crops)")
                self.windows[j] = shape[0]

    def epoch_batches(self, epoch: int) -> list[list]:
        batches = self.batcher.epoch_batches(epoch)
        if self.plan is None:
            return batches
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        draw = torch.randint(0, 1 << 30, (len(self.files),), generator=g).tolist()
        return [[(i, draw[i] % self.windows[i]) for i in b] for b in batches]

    def load(self, key: list) -> dict[str, torch.Tensor]:
        if self.plan is None:
            parts = [load_file(str(self.files[i])) for i in key]
        else:
            parts = [self._window(load_file(str(self.files[i])), k) for i, k in key]
        return {k: torch.stack([p[k] for p in parts]) for k in parts[0]}

    def _window(self, part: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
        p = self.plan
        a8, a25 = k * int(CLIP_FPS), k * int(SYNC_FPS)
        return {**part, "frames8": part["frames8"][a8: a8 + p.clip_frames],
                "frames25": part["frames25"][a25: a25 + p.sync_frames], "latent": part["latent"][k]}


# ----------------------------------------------------------------------------------------- model
def onset_strength(latent: torch.Tensor) -> torch.Tensor:
    """(B, N, M) log-mel latents -> (B, N): log1p of the mean positive rise over the bins from the previous
    frame (spectral flux; 0 on the first frame): near 0 in silence and steady sound, large at an impact."""
    rise = (latent[:, 1:] - latent[:, :-1]).clamp_min(0).mean(-1)
    return torch.log1p(torch.nn.functional.pad(rise, (1, 0)))


class TinyV2AModel(nn.Module):
    """Encoders + MM-DiT; ``forward(batch)`` is the flow-matching loss with condition dropout.

    ``onset_weight > 0`` adds, in training only, an auxiliary loss that plays the part of Synchformer's
    pre-training: a small head reads the onset strength of the target audio (:func:`onset_strength`)
    from the sync tokens, placed on the latent grid as the MM-DiT places them, so the jointly learned sync
    encoder must carry *when* sounds start. Validation (eval mode) reports the flow loss alone."""

    def __init__(self, setup: TinyV2ASetup, cond_drop: float = 0.1, onset_weight: float = 0.0):
        super().__init__()
        self.encoder = TinyV2AEncoder(setup.encoder)
        codec = MelCodec(setup.codec)
        plan = SequencePlan.for_duration(setup.seconds, codec.latent_rate)
        self.net = MMAudioNet(dataclasses.replace(setup.net, latent_seq_len=plan.latent,
                                                  clip_seq_len=plan.clip_frames, sync_seq_len=plan.sync_tokens))
        self.cond_drop = cond_drop
        self.path = FlowPath(0.0)
        self.onset_weight = onset_weight
        if onset_weight > 0:
            d = setup.encoder.sync_dim
            self.onset_head = nn.Sequential(nn.Conv1d(d, d, 3, padding=1), nn.SiLU(), nn.Conv1d(d, 1, 3, padding=1))

    def onset_loss(self, sync_f: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """MSE between the head's reading of (B, S, D) sync tokens and the onset strength of (B, N, M) latents."""
        grid = torch.nn.functional.interpolate(sync_f.transpose(1, 2), size=latent.shape[1], mode="nearest-exact")
        pred = self.onset_head(grid)[:, 0]  # (B, N)
        return torch.nn.functional.mse_loss(pred, onset_strength(latent))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        net = self.net
        b = batch["latent"].shape[0]
        clip_f, sync_f = self.encoder.encode_video(batch["frames8"], batch["frames25"])
        aux = self.onset_loss(sync_f, batch["latent"]) if self.onset_weight > 0 and self.training else None
        text_f = self.encoder.text.forward_ids(batch["text_ids"])
        dev = clip_f.device
        video_keep = torch.rand(b, device=dev) >= self.cond_drop
        text_keep = (torch.rand(b, device=dev) >= self.cond_drop) & batch["has_text"].bool()
        clip_f, sync_f, text_f = net.mask_conditions(clip_f, sync_f, text_f, video_keep, text_keep)
        x1 = net.normalize(batch["latent"])
        x0 = torch.randn_like(x1)
        t = torch.rand(b, device=dev)
        v = net(self.path.interpolate(x0, x1, t), clip_f, sync_f, text_f, t)
        loss = self.path.loss(v, x0, x1)
        return loss if aux is None else loss + self.onset_weight * aux


def grow_motion_input(state: dict[str, torch.Tensor], encoder: nn.Module) -> dict[str, torch.Tensor]:
    """A tiny encoder's state (float) fitted to ``encoder``: when the sync stream's first convolution takes more
    input channels than the saved one (motion_order 1 -> 2), the missing channels get zero weights, so the
    grown encoder computes exactly what the saved one did until training gives them weight."""
    out = {k: v.float() for k, v in state.items()}
    key = "sync.frame_net.0.weight"
    target = encoder.state_dict().get(key)
    if key in out and target is not None and out[key].shape[1] < target.shape[1]:
        w = out[key]
        out[key] = torch.cat([w, w.new_zeros(w.shape[0], target.shape[1] - w.shape[1], *w.shape[2:])], dim=1)
    return out


def export_pipeline(model: TinyV2AModel, setup: TinyV2ASetup, folder: Path, meta: dict) -> None:
    """Write a ``v2a_pipeline`` folder (net/, encoder/, config.json) atomically."""
    from deepaudio.io.atomic import atomic_dir

    with atomic_dir(folder) as tmp:
        model.net.save_pretrained(tmp / "net", meta=meta)
        model.encoder.save_pretrained(tmp / "encoder", meta=meta)
        write_config(tmp, "v2a_pipeline", {"net": "net", "encoder": {"type": "tiny", "dir": "encoder"},
                                           "codec": {"type": "mel", "settings": to_dict(setup.codec)},
                                           "window": setup.seconds,
                                           # Without one prompted clip the text encoder never trained: the
                                           # pipeline must not feed it prompts (V2APipeline.text_conditioning).
                                           "text_conditioning": bool(meta.get("prompted_clips", 1))}, meta)


# ------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="tiny", help=f"setup preset ({', '.join(V2A_SETUPS.names())})")
    parser.add_argument("--data", type=Path, help="manifest CSV: video[,audio][,prompt]")
    parser.add_argument("--val", type=Path, help="validation manifest CSV")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--cond-drop", type=float, default=0.1)
    parser.add_argument("--onset-loss", type=float, default=0.0,
                        help="weight of the auxiliary loss that teaches the sync encoder when sounds start (0: off)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--val-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", type=Path, help="v2a_pipeline folder to start from (continue training a model); "
                                                  "a motion_order 1 encoder grows into a motion_order 2 one "
                                                  "(the new input channels start at zero)")
    parser.add_argument("--crops", action="store_true",
                        help="train on every whole-second window of each clip (up to 8 s), one drawn per epoch, "
                             "instead of the first window only")
    parser.add_argument("--resume", action="store_true")
    # Official frozen encoders (train/v2a_features.py): --config is then an MMAudio preset (small_16k ...).
    parser.add_argument("--features", type=Path, help="official-feature shards to train on (extracted into it when "
                                                      "--data and --pipeline are given)")
    parser.add_argument("--pipeline", type=Path, help="converted MMAudio v2a_pipeline folder (frozen encoders + VAE)")
    parser.add_argument("--duration", type=float, default=8.0, help="clip seconds for feature extraction")
    parser.add_argument("--shard-size", type=int, default=256, help="manifest rows per feature shard")
    parser.add_argument("--device", default="auto", help="device for feature extraction (auto: the training one)")
    parser.add_argument("--extract-only", action="store_true", help="stop after feature extraction")


def main(args: argparse.Namespace) -> int:
    if getattr(args, "features", None) is not None:
        from deepaudio.train.v2a_features import main_features

        return main_features(args)
    if args.data is None:
        raise InputError("no training data given", hint="pass --data CSV (or --features DIR)")
    from deepaudio.train.loop import make_accelerator

    setup = V2A_SETUPS.get(args.config)
    plan = SequencePlan.for_duration(setup.seconds, MelCodec(setup.codec).latent_rate)
    cfg = TrainConfig(steps=args.steps, lr=args.lr, warmup=args.warmup, final_lr_ratio=0.05, seed=args.seed,
                      precision=args.precision, save_every=args.save_every,
                      val_every=args.val_every if args.val is not None else 0,
                      log_every=max(1, min(50, args.steps // 10)))
    acc = make_accelerator(cfg)  # before extraction: under torchrun every rank extracts its share of the clips
    items = read_manifest(args.data)
    files = _extract(items, setup, args.out / "features" / ("train_crops" if args.crops
                                                                              else "train"), args.crops, acc)
    if not files:
        raise InputError("no usable clips in the manifest", args.data)
    val = None
    if args.val is not None:
        val_files = _extract(read_manifest(args.val), setup, args.out / "features" / "val", False, acc)
        val = ClipBatches(val_files, args.batch, seed=0, shuffle=False)
        val.batcher = FixedBatches(tuple(tuple(b) for b in val.batcher.epoch_batches(0)))
    torch.manual_seed(args.seed)
    model = TinyV2AModel(setup, args.cond_drop, args.onset_loss)
    if args.init is not None:
        from deepaudio.checkpoint import load_model, load_state_strict

        net = load_model(args.init / "net", expect_kind="mmaudio_net")
        enc = load_model(args.init / "encoder", expect_kind="v2a_tiny_encoder")
        load_state_strict(model.net, {k: v.float() for k, v in net.state_dict().items()}, args.init / "net")
        load_state_strict(model.encoder, grow_motion_input(enc.state_dict(), model.encoder), args.init / "encoder")
    # Latent statistics of the training set put the flow in a unit-scale space (MMAudio latent_mean/std).
    if args.init is None:  # (a continued model keeps the statistics it was trained with)
        lat = torch.cat([load_file(str(f))["latent"].reshape(-1, setup.net.latent_dim) for f in files[:2000]])
        with torch.no_grad():
            model.net.latent_mean.copy_(lat.mean(0).view(1, 1, -1))
            model.net.latent_std.copy_(lat.std(0).clamp_min(1e-3).view(1, 1, -1))
    meta = {"stage": "v2a", "command": " ".join(sys.argv), "setup": args.config, "clips": len(files),
            "crops": args.crops, "onset_loss": args.onset_loss, "net": dataclasses.asdict(setup.net),
            "prompted_clips": sum(bool(it["prompt"]) for it in items)}

    def export(module: nn.Module, folder: Path) -> None:
        export_pipeline(module, setup, folder, {**meta, "steps": args.steps})

    batches = ClipBatches(files, args.batch, args.seed, plan=plan if args.crops else None)
    train(model, batches, cfg, args.out, val=val, export=export, resume=args.resume, run_info=meta, accelerator=acc)
    if acc.is_main_process:
        print(f"wrote {args.out / 'model'}")
    return 0


def _extract(items: list[dict[str, str]], setup: TinyV2ASetup, folder: Path, crops: bool, acc) -> list[Path]:
    """Every rank caches its share of the clips; after the barrier all ranks list the same files."""
    extract_features(items, setup, folder, crops=crops, part=(acc.process_index, acc.num_processes))
    acc.wait_for_everyone()
    return cached_features(folder, len(items))
