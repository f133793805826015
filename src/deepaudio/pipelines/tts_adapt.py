"""Speaker adaptation at inference (``TTSSettings.adapt``, ``tts --adapt N``; off by default).

A small TTS copies a prompt's words better than its voice. Before sampling, a copy of the network has its
biases (BitFit: about 23 k of the bundled model's 6.3 M parameters) trained for ``steps`` Adam steps on the one
clip it is asked to imitate, with the objective it was trained with (``TTSFlowMatching``: a random 70-100 % span
of the clip infilled from the rest and its frame-level text, no guidance drops, so the unconditional branch
keeps the training voices); the copy then speaks the new text. With the biases alone it keeps reading the new
text (training every weight copied the voice better and the words far worse). The
original network is never modified. Shape key: N reference frames, M mel bins.

Measured on the bundled v7 (docs/tts.md): unheard synthetic voices come closer (held-out prompt cosine 0.748 ->
0.770 at 60 steps) but real human voices do not (0.683 -> 0.668, WER +16 points), hence off by default.
"""

from __future__ import annotations

import hashlib
import random
from collections import OrderedDict
from collections.abc import Callable

import torch

from deepaudio.models.tts.objective import TTSFlowMatching

BATCH = 4  # spans (and noise, times) drawn per step from the same clip
MAX_FRAMES = 563  # 6 s of 24 kHz / hop 256 frames: the longest window one step trains on


def adapt_network(model: torch.nn.Module, ref_mel: torch.Tensor, ref_text: torch.Tensor, steps: int, lr: float,
                  seed: int = 0, batch: int = BATCH, max_frames: int = MAX_FRAMES, frame_text: bool | None = None,
                  progress: Callable[[int, int], None] | None = None) -> torch.nn.Module:
    """A copy of ``model`` whose biases were trained ``steps`` Adam steps at ``lr`` on one reference: ``ref_mel``
    (N, M) log-mel, ``ref_text`` (N,) its frame-level token ids (phoneme models, ``frame_text``) or (Nt,) its
    character ids (``frame_text`` None: frame-level when its length is N).

    Draws use generators of their own (``seed``): the caller's random streams do not move and the same call
    gives the same copy. Runs under bf16 autocast where the device has fast bf16 (1.6x on a Zen 4 CPU).
    """
    param = next(model.parameters())
    with torch.random.fork_rng(devices=[]):  # its random initialisation must not move the caller's stream
        # a fresh instance with the weights copied: a compiled or int8 network keeps its forward in __dict__
        net = type(model)(model.config, device=param.device)
    net.load_state_dict({k: v.detach().float() for k, v in model.state_dict().items()})
    net.eval()  # no dropout
    for p in net.parameters():
        p.requires_grad_(False)
    biases = [p for name, p in net.named_parameters() if name.endswith(".bias")]
    for p in biases:
        p.requires_grad_(True)
    objective = TTSFlowMatching(net).eval()  # eval: no guidance drops (the net's own mode is set above)
    mel = ref_mel.detach().clone().float().to(param.device)
    text = ref_text.detach().clone().long().to(param.device)
    energy = bool(getattr(model.config, "energy_input", False))
    frame_text = text.shape[0] == mel.shape[0] if frame_text is None else frame_text
    opt = torch.optim.Adam(biases, lr=lr)
    bf16 = _fast_bf16(param.device)
    state = random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            random.seed(seed)
            for step in range(steps):
                inputs = _windows(mel, text, batch, max_frames, energy, frame_text)
                with torch.autocast(param.device.type, dtype=torch.bfloat16, enabled=bf16):
                    loss = objective(inputs)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if progress is not None:
                    progress(step + 1, steps)
    finally:
        random.setstate(state)
    for p in biases:
        p.requires_grad_(False)
    return net.to(dtype=param.dtype)


def _fast_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def _windows(mel: torch.Tensor, text: torch.Tensor, batch: int, max_frames: int, energy: bool,
             frame_text: bool = True) -> dict:
    """A training batch of ``batch`` copies of the clip; with frame-level text (one id per mel frame) a clip
    longer than ``max_frames`` gives each row its own random window of that length (drawn from the global
    generator, which the caller has seeded), so a 15 s reference costs no more per step than a 6 s one."""
    n = mel.shape[0]
    if frame_text and n > max_frames:
        starts = torch.randint(0, n - max_frames + 1, (batch,)).tolist()
        mels = torch.stack([mel[s:s + max_frames] for s in starts])
        texts = torch.stack([text[s:s + max_frames] for s in starts])
    else:
        mels, texts = mel[None].expand(batch, -1, -1), text[None].expand(batch, -1)
    out = {"mel": mels, "lens": torch.full((batch,), mels.shape[1], device=mel.device), "text": texts}
    if energy:
        out["energy"] = torch.zeros(batch, mels.shape[1], device=mel.device)  # the TTS path: no contour
    return out


class AdaptedCache:
    """The last few adapted networks, keyed by what made them (reference mel and text, steps, rate): a
    pipeline that speaks many texts in one voice adapts once."""

    def __init__(self, size: int = 2):
        self.size = size
        self._items: OrderedDict = OrderedDict()

    @staticmethod
    def key(ref_mel: torch.Tensor, ref_text: torch.Tensor, *settings) -> tuple:
        digest = hashlib.sha1(ref_mel.detach().float().cpu().numpy().tobytes())
        digest.update(ref_text.detach().cpu().numpy().tobytes())
        return (digest.hexdigest(), *settings)

    def get(self, key):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key, net) -> None:
        self._items[key] = net
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
