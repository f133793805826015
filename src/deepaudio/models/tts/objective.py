"""The F5-TTS training objective around a DiT: ``loss = TTSFlowMatching(dit)(batch)``.

Shape key: B batch, N mel frames (padded), M mel bins, Nt text tokens.

Following the reference ``CFM.forward`` (F5-TTS sec. 3.1, Voicebox-style infilling):
- each sample gets a random span covering ``frac_lengths`` (70-100 %) of its valid frames; the prompt
  (``cond``) is the mel with that span zeroed, and the loss is the flow-matching MSE over the span only;
- x0 ~ N(0, I), t ~ U[0, 1), x_t on the rectified path (``deepaudio.flow.FlowPath``, sigma_min 0);
- classifier-free guidance training, one decision per batch: with probability ``audio_drop`` (0.3) the
  prompt audio is dropped; with probability ``cond_drop`` (0.2) prompt audio and text are both dropped
  (two independent draws, the second overriding);
- the V2S energy contour is passed whenever present and never dropped (the DeepAudio-V1
  reference code); ``text_drop`` and ``energy_drop`` (default 0) add independent drops of the text and
  of the contour (zeros) for the DeepAudio paper's scheme, 25 % for each condition.
In eval mode nothing is dropped, so a validation loss measures the conditional model (and speaker adaptation at
inference, ``pipelines.tts_adapt``, trains the conditional model alone). It lives beside the model, not in
``train``, because that inference step uses it too. Random draws use the global generators (torch, python
``random``), which the loop seeds and checkpoints.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from deepaudio.flow import FlowPath


def lengths_to_mask(lengths: torch.Tensor, n: int) -> torch.Tensor:
    return torch.arange(n, device=lengths.device)[None] < lengths[:, None]  # (B, N)


def random_span_mask(lengths: torch.Tensor, frac: torch.Tensor, n: int, rand: torch.Tensor) -> torch.Tensor:
    """(B, N) bool span of ``floor(frac * len)`` frames starting at ``floor((len - span) * rand)``."""
    span = (frac * lengths).long()
    start = ((lengths - span).clamp(min=0) * rand).long().clamp(min=0)
    idx = torch.arange(n, device=lengths.device)[None]
    return (idx >= start[:, None]) & (idx < (start + span)[:, None])


class TTSFlowMatching(nn.Module):
    def __init__(self, net: nn.Module, audio_drop: float = 0.3, cond_drop: float = 0.2,
                 frac_lengths: tuple[float, float] = (0.7, 1.0), path: FlowPath | None = None,
                 text_drop: float = 0.0, energy_drop: float = 0.0):
        super().__init__()
        self.net = net
        self.audio_drop = audio_drop
        self.cond_drop = cond_drop
        self.text_drop = text_drop
        self.energy_drop = energy_drop
        self.frac_lengths = frac_lengths
        self.path = path or FlowPath()

    def forward(self, batch: dict) -> torch.Tensor:
        x1 = batch["mel"]  # (B, N, M)
        lens = batch["lens"]  # (B,)
        b, n = x1.shape[:2]
        device = x1.device
        mask = lengths_to_mask(lens, n)
        # Draws happen on the CPU generator so a seed means the same masks/noise/times on any device.
        frac = torch.empty(b).uniform_(*self.frac_lengths).to(device)
        span = random_span_mask(lens, frac, n, torch.rand(b).to(device)) & mask
        x0 = torch.randn(x1.shape, dtype=torch.float32).to(device=device, dtype=x1.dtype)
        t = torch.rand(b).to(device=device, dtype=x1.dtype)
        xt = self.path.interpolate(x0, x1, t)
        cond = torch.where(span[..., None], torch.zeros_like(x1), x1)
        drop_audio = drop_text = False
        energy = batch.get("energy")
        if self.training:
            drop_audio = random.random() < self.audio_drop
            if random.random() < self.cond_drop:
                drop_audio = drop_text = True
            # Drawn only when enabled, so runs without them keep the reference's random stream.
            if self.text_drop > 0 and random.random() < self.text_drop:
                drop_text = True
            if energy is not None and self.energy_drop > 0 and random.random() < self.energy_drop:
                energy = torch.zeros_like(energy)
        pred = self.net(xt, cond, batch["text"], t, mask=mask, drop_audio_cond=drop_audio, drop_text=drop_text,
                        energy=energy)
        return self.path.loss(pred, x0, x1, span)


def collate_tts(items: Sequence[dict], ids: Sequence[Sequence[int]]) -> dict:
    """Pad dataset items: mel (B, N, M) zeros, lens (B,), text ids (B, Nt) padded with -1 (the reference's
    ``list_str_to_idx`` layout), energy (B, N) zeros (only when every item has one)."""
    mels = [it["mel"] for it in items]
    out = {"mel": pad_sequence(mels, batch_first=True), "lens": torch.tensor([m.shape[0] for m in mels])}
    seqs = [torch.tensor(list(s) or [-1], dtype=torch.long) for s in ids]
    out["text"] = pad_sequence(seqs, batch_first=True, padding_value=-1)
    if all(it.get("energy") is not None for it in items):
        out["energy"] = pad_sequence([it["energy"] for it in items], batch_first=True)
    return out
