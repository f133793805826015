"""Process-level speed settings for inference: the C allocator and skipped random init on load.

``tune_allocator()``: glibc's malloc serves large blocks (above a threshold that adapts up to 32 MB) with
fresh ``mmap`` pages and gives them back on free, so every big activation of a network forward is
page-faulted and zeroed again by the kernel. On a 2-core VM this cost more than the maths: CLIP
ViT-H/14 spent 52 % of a bf16 forward in two elementwise ops (QuickGELU's mul and sigmoid, 10x their
cost in isolation) and the profile shrank from 3.7 s to 1.6 s with mmap off (benchmarks/bench_vs_official.py
times it). Keeping freed memory in the heap trades a higher resident size after a peak for that speed,
the usual choice for inference (jemalloc/tcmalloc do the same). ``DEEPAUDIO_MALLOC=system`` keeps glibc's
defaults; other C libraries (musl, macOS, Windows) are left alone.

``skip_init()``: weights about to be overwritten by a checkpoint need no random init; for a 1 B
parameter CLIP that init took longer than loading the file.

``compile_for_inference()``: TorchInductor with frozen weights, opt-in (``--compile``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import sys
import threading

import torch
from torch import nn

# mallopt parameters (glibc <malloc.h>)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_TUNED = False


def tune_allocator() -> bool:
    """Keep freed memory in glibc's heap (no per-block mmap, no trimming); True when applied. Idempotent."""
    global _TUNED
    if _TUNED:
        return True
    if os.environ.get("DEEPAUDIO_MALLOC", "").lower() == "system" or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or an unusual libc: nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; glibc caps the trim threshold at INT_MAX on this call.
    _TUNED = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _TUNED


_INIT_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                   "kaiming_normal_", "zeros_", "ones_", "constant_", "orthogonal_")


_SKIP = threading.local()  # how deep this thread is in skip_init()
_GUARD_LOCK = threading.Lock()
_GUARDED = False


def _guard_init_functions() -> None:
    """Once per process: each ``torch.nn.init`` function of ``_INIT_FUNCTIONS`` becomes a wrapper that does
    nothing inside this thread's ``skip_init()`` and calls the original everywhere else (so a model built in
    another thread meanwhile, e.g. by the web app, still gets its random init)."""
    global _GUARDED
    with _GUARD_LOCK:
        if _GUARDED:
            return
        for name in _INIT_FUNCTIONS:
            original = getattr(nn.init, name)

            @functools.wraps(original)
            def guarded(tensor, *args, _original=original, **kwargs):
                if getattr(_SKIP, "depth", 0):
                    return tensor
                return _original(tensor, *args, **kwargs)

            setattr(nn.init, name, guarded)
        _GUARDED = True


@contextlib.contextmanager
def skip_init():
    """Build modules without random init (``torch.nn.init`` functions become no-ops in this thread): only for
    models whose every persistent tensor is loaded right after; non-persistent buffers are computed as usual.
    Re-entrant and thread-safe (other threads keep their random init)."""
    _guard_init_functions()
    _SKIP.depth = getattr(_SKIP, "depth", 0) + 1
    try:
        yield
    finally:
        _SKIP.depth -= 1


def empty_like_module(cls, config, dtype: torch.dtype | None = None):
    """``cls(config)`` with uninitialised parameters, cast to ``dtype`` before any weight is loaded (so
    loading writes each tensor once, in its final dtype)."""
    with skip_init():
        model = cls(config)
    return model.to(dtype) if dtype is not None else model


def compile_for_inference(module: nn.Module, methods: tuple[str, ...] = ("forward",)) -> nn.Module:
    """``module`` with its ``methods`` compiled by TorchInductor for inference with frozen weights (opt-in:
    ``--compile``); the module itself is returned, so its attributes (``config`` ...) stay as they were.

    Freezing folds the weights in as constants, so on CPU the bf16 linears are prepacked for oneDNN (AMX
    where present) and the norms, modulations and activations between them fuse: the F5 v1 Base bf16 CFG
    step on 15 s of frames went from 1.81 to 1.53 s, the MMAudio small_16k step from 0.19 to 0.14 s
    (benchmarks/bench_vs_official.py --compile). Shapes are
    static: the first call of each new input shape compiles (about 40 s for F5 Base on 2 cores), so it
    pays for batches and fixed-size windows (V2A), not for one short call. Dynamic shapes measured worse
    (1.18x, 83 s to compile). The weights must not change afterwards. Sets two process-wide options:
    inductor freezing and a larger recompile cache (one entry per block instance and shape).
    """
    import torch._dynamo
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 256)
    for name in methods:
        setattr(module, name, torch.compile(getattr(module, name), dynamic=False))
    return module
