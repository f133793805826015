"""Offline means offline: environment settings applied before any third-party library is imported.

* onnxruntime (DNSMOS, Silero VAD) ships Microsoft's 1DS telemetry: it writes a device id under
  ``~/.cache/Microsoft``, a ``.ses`` session file in the temp folder and resolves a telemetry host.
  ``ORT_DISABLE_TELEMETRY=1`` switches all of that off (read by the native library at import).
* Hugging Face libraries are told never to reach a hub (weights come from local folders only).
* Importing ``torch._dynamo`` (some libraries do) creates ``$TMPDIR/torchinductor_<user>``; its cache
  goes to a private temporary folder that is removed when the process ends.

A user's explicit setting of any of these variables wins.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_private_tmp: str | None = None

OFFLINE_ENV = {"ORT_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}


def go_offline() -> None:
    """Apply the settings above (idempotent)."""
    global _private_tmp
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ and _private_tmp is None:
        _private_tmp = tempfile.mkdtemp(prefix="deepaudio-cache-")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = _private_tmp
        atexit.register(shutil.rmtree, _private_tmp, True)
