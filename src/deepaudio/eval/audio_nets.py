"""AudioSet embedding networks for V2A FD / KL / IS: PANNs Cnn14 (16 kHz) and VGGish, our own ports.

Shape key: B clips, N samples, T frames, F frequency bins, M mel bands, P 0.96 s VGGish patches.

Both load the official weights from local files (nothing is downloaded):
* PANNs Cnn14_16k (Kong et al. 2020, ``Cnn14_16k_mAP=0.438.pth``; its ``model`` dict): log-mel of
  16 kHz audio (512-point periodic-Hann STFT, hop 160, centred with reflect padding, power spectrum,
  64 Slaney mel bands 50-8000 Hz, 10 log10 with floor 1e-10), batch-norm over mel bands, six
  conv blocks (two 3x3 conv + BN + ReLU, 2x2 average pooling except the last), mean over frequency,
  max + mean over time, fc1 + ReLU = the 2048-d embedding, ``fc_audioset`` = the 527 class logits.
  av-benchmark takes FD on the embedding and KL / IS on the logits (softmax).
* VGGish (Hershey et al. 2017, torchvggish state dict): 0.96 s patches of 96 x 64 log-mel frames
  (25 ms periodic Hann, hop 10 ms, 512-point FFT magnitude, 64 HTK-mel bands 125-7500 Hz with
  triangles in the mel domain, log(mel + 0.01)), VGG (64, M, 128, M, 256, 256, M, 512, 512, M), three
  fully connected layers 4096-4096-128 without the final ReLU and without PCA, as av-benchmark uses it.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from deepaudio.checkpoint import load_weights_file
from deepaudio.errors import CheckpointError

PANNS_SR, VGGISH_SR = 16000, 16000


class _ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class Cnn14(nn.Module):
    """PANNs Cnn14 at 16 kHz; ``forward(wav (B, N)) -> (embedding (B, 2048), logits (B, classes))``."""

    def __init__(self, n_fft: int = 512, hop: int = 160, n_mels: int = 64, f_min: float = 50.0,
                 f_max: float = 8000.0, classes: int = 527, widths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)):
        super().__init__()
        from deepaudio.dsp.mel import mel_filterbank

        self.n_fft, self.hop = n_fft, hop
        fb = mel_filterbank(PANNS_SR, n_fft, n_mels, f_min, f_max, mel_scale="slaney", norm="slaney")
        self.register_buffer("melW", fb.T.contiguous(), persistent=False)  # (F, M), torchlibrosa layout
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)
        self.bn0 = nn.BatchNorm2d(n_mels)
        chans = (1, *widths)
        for i in range(len(widths)):
            self.add_module(f"conv_block{i + 1}", _ConvBlock(chans[i], chans[i + 1]))
        self.n_blocks = len(widths)
        self.fc1 = nn.Linear(widths[-1], widths[-1])
        self.fc_audioset = nn.Linear(widths[-1], classes)

    def logmel(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, N) -> (B, 1, T, M) power log-mel in dB."""
        spec = torch.stft(wav, self.n_fft, self.hop, window=self.window, center=True, pad_mode="reflect",
                          return_complex=True).abs().pow(2)  # (B, F, T)
        mel = torch.matmul(spec.transpose(1, 2), self.melW)  # (B, T, M)
        return (10.0 * torch.log10(mel.clamp(min=1e-10))).unsqueeze(1)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.logmel(wav)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # normalise each mel band
        for i in range(1, self.n_blocks + 1):
            x = getattr(self, f"conv_block{i}")(x, 2 if i < self.n_blocks else 1)
        x = x.mean(dim=3)  # (B, C, T')
        x = x.max(dim=2).values + x.mean(dim=2)
        emb = F.relu(self.fc1(x))
        return emb, self.fc_audioset(emb)


def _hz_to_htk_mel(f: torch.Tensor) -> torch.Tensor:
    return 1127.0 * torch.log1p(f / 700.0)


class VGGish(nn.Module):
    """VGGish; ``forward(wav (N,) at 16 kHz) -> (P, 128)`` embeddings, one per 0.96 s patch."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                                        nn.Linear(4096, 128))
        self.register_buffer("mel", self._mel_matrix(), persistent=False)
        self.register_buffer("window", torch.hann_window(400, periodic=True, dtype=torch.float64), persistent=False)

    @staticmethod
    def _mel_matrix(n_bins: int = 257, n_mels: int = 64, lo: float = 125.0, hi: float = 7500.0) -> torch.Tensor:
        """(F, M) triangles laid out in the mel domain; the DC bin gets no weight."""
        bins_mel = _hz_to_htk_mel(torch.linspace(0.0, VGGISH_SR / 2, n_bins, dtype=torch.float64))
        lo_hi = _hz_to_htk_mel(torch.tensor([lo, hi], dtype=torch.float64)).tolist()
        edges = torch.linspace(lo_hi[0], lo_hi[1], n_mels + 2, dtype=torch.float64)
        lower = (bins_mel[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])[None, :]
        upper = (edges[None, 2:] - bins_mel[:, None]) / (edges[2:] - edges[1:-1])[None, :]
        w = torch.clamp(torch.minimum(lower, upper), min=0.0)
        w[0, :] = 0.0
        return w

    def patches(self, wav: torch.Tensor) -> torch.Tensor:
        """(N,) -> (P, 1, 96, 64) log-mel patches (no padding: a clip under 0.96 s gives none)."""
        x = wav.to(torch.float64)
        if x.numel() < 400:
            return x.new_zeros(0, 1, 96, 64, dtype=torch.float32)
        frames = x.unfold(0, 400, 160) * self.window  # (T, 400)
        mag = torch.fft.rfft(frames, n=512).abs()  # (T, 257)
        logmel = torch.log(mag @ self.mel + 0.01)  # (T, 64)
        n = logmel.shape[0] // 96
        return logmel[: n * 96].reshape(n, 1, 96, 64).float()

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.features(self.patches(wav).to(self.embeddings[0].weight.device))  # (P, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TF (NHWC) flattening order
        return self.embeddings(x)


def _state(path: str | Path, key: str | None) -> dict:
    state = load_weights_file(path)
    if key and key in state and isinstance(state[key], dict):
        state = state[key]
    return state


def _load_into(model: nn.Module, path: str | Path, state: dict) -> nn.Module:
    wanted = model.state_dict()
    state = {k: v for k, v in state.items() if k in wanted}  # front-end buffers and PCA params are rebuilt here
    missing = sorted(set(wanted) - set(state))
    if missing:
        raise CheckpointError(f"weights do not match ({len(missing)} missing, e.g. {missing[0]})", path,
                              "give the official checkpoint for this network")
    for k, v in state.items():
        if v.shape != wanted[k].shape:
            raise CheckpointError(f"shape mismatch for {k}: {tuple(v.shape)} vs {tuple(wanted[k].shape)}", path)
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_panns(path: str | Path, device: str | torch.device = "cpu") -> Cnn14:
    """Cnn14 (16 kHz) with official weights (the checkpoint's ``model`` dict or a plain state dict).

    Block widths and the class count are read from the weight shapes, so the official file and smaller
    test networks load through the same path.
    """
    state = _state(path, "model")
    widths, i = [], 1
    while f"conv_block{i}.conv1.weight" in state:
        widths.append(int(state[f"conv_block{i}.conv1.weight"].shape[0]))
        i += 1
    if not widths or "fc_audioset.weight" not in state:
        raise CheckpointError("not a PANNs Cnn14 checkpoint (no conv_block1 / fc_audioset weights)", path,
                              "give Cnn14_16k_mAP=0.438.pth")
    net = Cnn14(classes=int(state["fc_audioset.weight"].shape[0]), widths=tuple(widths))
    return _load_into(net, path, state).to(device)


def load_vggish(path: str | Path, device: str | torch.device = "cpu") -> VGGish:
    return _load_into(VGGish(), path, _state(path, None)).to(device)


@torch.no_grad()
def embed_items(items, opts, wanted: list[str]) -> dict[str, tuple[float, str]]:
    """FD / KL / IS over the items' generated vs reference clips with the local PANNs / VGGish weights."""
    from deepaudio.eval import v2a
    from deepaudio.io.audio import load_audio

    pairs = [(i.gen, i.ref) for i in items if i.gen and i.gen.is_file() and i.ref and i.ref.is_file()]
    gens = [i.gen for i in items if i.gen and i.gen.is_file()]
    out: dict[str, tuple[float, str]] = {}
    dev = torch.device(opts.device)

    def clip(path):
        return v2a.prepare_clip(*load_audio(path), PANNS_SR).to(dev)

    if opts.panns and any(m in wanted for m in ("fd_panns", "kl_panns", "is")):
        net, name = load_panns(opts.panns, dev), f"PANNs Cnn14_16k ({Path(opts.panns).name}), 8 s"
        g_emb, g_log = zip(*(net(clip(p)[None]) for p in gens)) if gens else ((), ())
        r_pairs = [net(clip(r)[None]) for _, r in pairs]
        if "is" in wanted and gens:
            out["is"] = (v2a.inception_score(torch.cat(g_log).cpu())[0], name)
        if "fd_panns" in wanted and len(gens) > 1 and len(r_pairs) > 1:
            out["fd_panns"] = (v2a.fd(torch.cat(g_emb).cpu(), torch.cat([e for e, _ in r_pairs]).cpu()), name)
        if "kl_panns" in wanted and pairs:
            pg = torch.cat([net(clip(g)[None])[1] for g, _ in pairs]).cpu()
            out["kl_panns"] = (v2a.kl_softmax(pg, torch.cat([lg for _, lg in r_pairs]).cpu()), name)
    if opts.vggish and "fd_vgg" in wanted:
        net = load_vggish(opts.vggish, dev)
        g = [net(clip(p)) for p in gens]
        r = [net(clip(rp)) for _, rp in pairs]
        g, r = torch.cat(g).cpu() if g else None, torch.cat(r).cpu() if r else None
        if g is not None and r is not None and min(len(g), len(r)) > 1:
            out["fd_vgg"] = (v2a.fd(g, r), f"VGGish ({Path(opts.vggish).name}), 0.96 s patches of 8 s")
    return out

