"""Static int8 inference of the F5 DiT on x86 CPUs (opt-in: ``tts --int8``, ``TTSPipeline.quantize_int8()``).

The network's Linears run as int8 x int8 products (AMX or VNNI through oneDNN) with bf16 around them
(attention, norms, the rest): PyTorch's export-based post-training quantisation with torchao's
``X86InductorQuantizer`` (weights int8 per output channel, activations int8 per tensor with ranges
observed on real inputs), then TorchInductor with frozen weights. Measured on F5 v1 Base, 15 s of frames, in
two runs: one CFG step 1.37 / 1.46 s against 1.60 / 1.78 s bf16 compiled and 2.05 / 2.35 s for the official
bf16 step (1.50x / 1.61x; ``benchmarks/probe_int8_static_f5.py``); max difference to the fp32 output 0.088
(bf16 compiled 0.027) at an output scale of about 3. Approximate: docs/speed.md has what it costs in WER and
speaker similarity (nothing measurable on the bundled TTS).

How it runs. The model keeps its fp32 weights. Each new call signature (input shapes and flags) is exported
once. The first solve calibrates: its steps run the exported fp32 graph with observers, so its output is
the fp32 one; :meth:`Int8Forward.finish_calibration` (the pipeline calls it after each solve) converts
what was observed to int8 and compiles it. Later signatures (another length) reuse those activation ranges:
they are exported, given the observed ranges, converted and compiled on their first call, which is slow
(about 1.5 minutes for F5 Base on 2 cores), like ``--compile``: for long runs of equal-length calls. The
``max_graphs`` most recently used lengths are kept (each holds its own int8 weights).

torchao is an optional dependency (``pip install 'deepaudio[int8]'``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import torch
from torch import nn

from deepaudio.errors import BackendUnavailable, ConfigError
from deepaudio.perf import compile_for_inference


def require_torchao():
    """torchao's PT2E quantisation API (quantizer module, prepare_pt2e, convert_pt2e), or a clear error."""
    # at import, torchao's CPU wheel reports that its CUDA kernels cannot load and torch's pytree that one of
    # its enums needs no registration: neither is the user's business
    logs = [logging.getLogger(n) for n in ("torchao", "torch.utils._pytree")]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.ERROR)
    try:
        import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    except ImportError as exc:
        raise BackendUnavailable("int8 inference needs torchao, which is not installed",
                                 hint="pip install 'deepaudio[int8]', or leave out --int8") from exc
    finally:
        for log, level in zip(logs, levels):
            log.setLevel(level)
    return xiq, prepare_pt2e, convert_pt2e


class _Step(nn.Module):
    """One ``DiT.forward`` call with the text embeddings passed in as tensors (``torch.export`` takes no
    dict); the call's flags are fixed per instance."""

    def __init__(self, dit: nn.Module, cfg_infer: bool, drop_audio_cond: bool, drop_text: bool,
                 key_mask: bool | None):
        super().__init__()
        self.dit = dit
        self.flags = dict(cfg_infer=cfg_infer, drop_audio_cond=drop_audio_cond, drop_text=drop_text,
                          key_mask=key_mask)

    def forward(self, x, cond, time, te_keep, te_drop, mask=None, energy=None):
        cache = {("text", False): te_keep, ("text", True): te_drop}
        # the class's forward: the instance's is the Int8Forward that called us
        return type(self.dit).forward(self.dit, x, cond, None, time, mask=mask, energy=energy, cache=cache,
                                      **self.flags)


def _observers(module: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in module.named_children() if name.startswith("activation_post_process")}


class Int8Forward:
    """Replaces a DiT's ``forward`` (same arguments): static int8 per call signature, as the module docstring
    describes. ``compiled=False`` keeps the converted graphs eager: int8 quantise/dequantise emulated in fp32
    (the same int8 numbers, slower), for measuring quality where compiling every length would cost too much."""

    def __init__(self, dit: nn.Module, compiled: bool = True, max_graphs: int = 8):
        if any(p.dtype != torch.float32 for p in dit.parameters()):
            raise ConfigError("int8 quantisation starts from fp32 weights; this model is in "
                              f"{next(dit.parameters()).dtype}", hint="load it with dtype fp32 (the default)")
        if any(p.device.type != "cpu" for p in dit.parameters()):
            raise ConfigError("int8 inference runs on x86 CPUs only", hint="use --dtype bf16 on a GPU instead")
        if max_graphs < 1:
            raise ConfigError(f"max_graphs must be at least 1, got {max_graphs}")
        self.dit = dit
        self.compiled = compiled
        self.max_graphs = max_graphs  # int8 graphs kept (each holds its own int8 weights: ~0.4 GB for F5 Base)
        self.steps: OrderedDict[tuple, object] = OrderedDict()  # least recently used first
        self.calibrating: dict[tuple, nn.Module] = {}
        self.ranges: dict[str, dict] | None = None  # observer states of the first calibration, by name
        self.converted = 0

    def __call__(self, x, cond, text, time, mask=None, drop_audio_cond=False, drop_text=False, cfg_infer=False,
                 energy=None, cache=None, key_mask=None):
        cache = {} if cache is None else cache
        te = []
        for drop in (False, True):  # the text embeddings, once per solve in the caller's cache (as DiT._input)
            key = ("text", drop)
            if key not in cache:
                cache[key] = self.dit.embed_text(text, x.shape[1], mask, drop).to(x.dtype)
            te.append(cache[key])
        x, cond = x.float(), cond.float()
        time = time.float()
        kwargs = {k: v for k, v in (("mask", mask), ("energy", energy)) if v is not None}
        if "energy" in kwargs:
            kwargs["energy"] = kwargs["energy"].float()
        flags = (bool(cfg_infer), bool(drop_audio_cond), bool(drop_text), key_mask)
        sig = (tuple(x.shape), tuple(cond.shape), tuple(time.shape), tuple(te[0].shape),
               *((k, tuple(v.shape)) for k, v in sorted(kwargs.items())), flags)
        args = (x, cond, time, te[0].float(), te[1].float())
        step = self.steps.get(sig)
        if step is None:
            step = self.steps[sig] = self._build(sig, flags, args, kwargs)
            self._evict()
        self.steps.move_to_end(sig)
        if sig in self.calibrating or not self.compiled:
            return step(*args, **kwargs)
        with torch.autocast("cpu", torch.bfloat16):
            return step(*args, **kwargs).float()

    def _build(self, sig, flags, args, kwargs):
        xiq, prepare_pt2e, _ = require_torchao()
        with torch.no_grad():
            exported = torch.export.export(_Step(self.dit, *flags), args, kwargs, strict=False).module()
            quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
            prepared = prepare_pt2e(exported, quantizer)
        obs = _observers(prepared)
        if self.ranges is not None and set(obs) == set(self.ranges):
            for name, m in obs.items():  # the same graph at another length: the first calibration's ranges
                m.load_state_dict(self.ranges[name])
            return self._convert(prepared)
        self.calibrating[sig] = prepared
        return prepared

    def _evict(self) -> None:
        """Drop the least recently used converted graphs beyond ``max_graphs`` (calibrating ones stay)."""
        done = [sig for sig in self.steps if sig not in self.calibrating]
        for sig in done[: max(0, len(done) - self.max_graphs)]:
            del self.steps[sig]

    def finish_calibration(self) -> None:
        """Convert every signature observed since the last call to int8 (and compile it)."""
        for sig, prepared in list(self.calibrating.items()):
            if self.ranges is None:
                self.ranges = {name: {k: v.clone() for k, v in m.state_dict().items()}
                               for name, m in _observers(prepared).items()}
            self.steps[sig] = self._convert(prepared)
            del self.calibrating[sig]

    def _convert(self, prepared: nn.Module):
        _, _, convert_pt2e = require_torchao()
        with torch.no_grad():
            q = convert_pt2e(prepared)
        if self.compiled:
            for node in list(q.graph.nodes):  # export's dtype asserts would fail under bf16 autocast
                if node.target is torch.ops.aten._assert_tensor_metadata.default:
                    q.graph.erase_node(node)
            q.recompile()
            compile_for_inference(q)
        self.converted += 1
        return q


def quantize_int8(dit: nn.Module, compiled: bool = True, max_graphs: int = 8) -> Int8Forward:
    """Make ``dit`` run static int8 (see the module docstring); returns the installed :class:`Int8Forward`."""
    require_torchao()
    fwd = Int8Forward(dit, compiled=compiled, max_graphs=max_graphs)
    dit.forward = fwd
    return fwd


def finish_calibration(model: nn.Module) -> None:
    """After a solve: convert what ``model``'s int8 forward observed (nothing for other models)."""
    fwd = model.__dict__.get("forward")
    if isinstance(fwd, Int8Forward):
        fwd.finish_calibration()
