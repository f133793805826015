"""Speaker adaptation at inference: a few flow-matching steps of the TTS network on the reference clip itself.

A small TTS copies a prompt's words better than its voice. Before sampling, a copy of the network is trained
for ``steps`` steps on the one clip it is asked to imitate, with the objective it was trained with
(``TTSFlowMatching``: a random 70-100 % span of the clip infilled from the rest and its text); the copy then
speaks the new text. The original network is never modified. Shape key: N reference frames, M mel bins.
"""

from __future__ import annotations

import random
from collections import OrderedDict

import torch

from deepaudio.train.tts_objective import TTSFlowMatching

BATCH = 4  # spans (and noise, times) drawn per step from the same clip
MAX_FRAMES = 563  # 6 s of 24 kHz / hop 256 frames: the longest window one step trains on


def adapt_network(model: torch.nn.Module, ref_mel: torch.Tensor, ref_text: torch.Tensor, steps: int, lr: float,
                  seed: int = 0, conditional_only: bool = True, dropout: bool = False, params: str = "bias",
                  batch: int = BATCH, bf16: bool = True, max_frames: int = MAX_FRAMES, text_free: bool = False,
                  voiced_db: float | None = None, progress=None) -> torch.nn.Module:
    """A copy of ``model`` trained ``steps`` Adam steps at ``lr`` on one reference: ``ref_mel`` (N, M) log-mel,
    ``ref_text`` (N,) its frame-level token ids (phoneme models) or (Nt,) its character ids.

    ``conditional_only`` trains without the classifier-free-guidance drops, so the unconditional branch keeps
    the training voices and guidance pushes towards the reference. Draws use a generator of their own
    (``seed``), so the caller's random streams do not move and the same call gives the same copy.
    """
    param = next(model.parameters())
    with torch.random.fork_rng(devices=[]):  # its random initialisation must not move the caller's stream
        # a fresh instance with the weights copied: a compiled or int8 network keeps its forward in __dict__
        net = type(model)(model.config, device=param.device)
    net.load_state_dict({k: v.detach().float() for k, v in model.state_dict().items()})
    net.train(dropout)
    trained = [p for name, p in net.named_parameters() if _selected(name, params, net)]
    for p in net.parameters():
        p.requires_grad_(False)
    for p in trained:
        p.requires_grad_(True)
    drops = (0.0, 0.0) if conditional_only else (0.3, 0.2)
    objective = TTSFlowMatching(net, audio_drop=drops[0], cond_drop=drops[1])
    objective.training = dropout or not conditional_only
    mel = ref_mel.detach().clone().float().to(param.device)
    text = ref_text.detach().clone().long().to(param.device)
    energy = getattr(getattr(model, "config", None), "energy_input", False)
    opt = torch.optim.Adam(trained, lr=lr)
    state = random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            random.seed(seed)
            for step in range(steps):
                inputs = _windows(mel, text, batch, max_frames, energy)
                if text_free:
                    inputs["text"] = torch.full_like(inputs["text"], -1)
                if voiced_db is not None:  # frames within voiced_db of the clip's loudest (log-mel mean, natural log)
                    level = inputs["mel"].mean(-1)
                    inputs["loss_frames"] = level > mel.mean(-1).max() - voiced_db / 20 * 2.302585
                with torch.autocast(param.device.type, dtype=torch.bfloat16, enabled=bf16):
                    loss = objective(inputs)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if progress is not None:
                    progress(step + 1, steps)
    finally:
        random.setstate(state)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net.to(dtype=param.dtype)


def _windows(mel: torch.Tensor, text: torch.Tensor, batch: int, max_frames: int, energy: bool) -> dict:
    """A training batch of ``batch`` copies of the clip; with frame-level text (one id per mel frame) a clip
    longer than ``max_frames`` gives each row its own random window of that length (drawn from the global
    generator, which the caller has seeded), so a 15 s reference costs no more per step than a 6 s one."""
    n = mel.shape[0]
    if text.shape[0] == n and n > max_frames:
        starts = torch.randint(0, n - max_frames + 1, (batch,)).tolist()
        mels = torch.stack([mel[s:s + max_frames] for s in starts])
        texts = torch.stack([text[s:s + max_frames] for s in starts])
    else:
        mels, texts = mel[None].expand(batch, -1, -1), text[None].expand(batch, -1)
    out = {"mel": mels, "lens": torch.full((batch,), mels.shape[1], device=mel.device), "text": texts}
    if energy:
        out["energy"] = torch.zeros(batch, mels.shape[1], device=mel.device)  # the TTS path: no contour
    return out


def _selected(name: str, params: str, net) -> bool:
    """Whether parameter ``name`` is trained: ``all``, ``out`` (the output norm and projection) or ``last:K``
    (the last K transformer blocks and the output)."""
    if params == "all":
        return True
    if params == "bias":  # BitFit: every bias, nothing that can store frame-specific content
        return name.endswith(".bias")
    if params == "bias-audio":  # the biases outside the text encoder
        return name.endswith(".bias") and not name.startswith("text_embed.")
    if params == "time":  # a global code: the timestep MLP's biases feed every block's modulation
        return name.startswith(("time_embed.",)) and name.endswith(".bias") or name == "norm_out.linear.bias"
    if name.startswith(("norm_out.", "proj_out.")):
        return True
    if params.startswith("last:"):
        k = int(params.split(":")[1])
        depth = len(net.transformer_blocks)
        return name.startswith(tuple(f"transformer_blocks.{i}." for i in range(depth - k, depth)))
    return False


class AdaptedCache:
    """The last few adapted networks, keyed by what made them (reference, text, steps, rate, seed): a dub
    that speaks many lines in one voice adapts once."""

    def __init__(self, size: int = 2):
        self.size = size
        self._items: OrderedDict = OrderedDict()

    @staticmethod
    def key(ref_mel: torch.Tensor, ref_text: torch.Tensor, *settings) -> tuple:
        import hashlib

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
