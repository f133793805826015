"""A multimodal chat model behind an OpenAI-compatible ``/chat/completions`` endpoint.

The request carries the keyframes as ``image_url`` parts (``data:image/jpeg;base64,...``), the sound
track as an ``input_audio`` part (base64 16 kHz mono WAV) and the measurements as text, so a
video-audio model (the paper uses VideoLLaMA2.1-AV) can look and listen; text-only servers can still
answer from the measurements. Requests and replies are bounded (size and time); only the URL the user
gives is contacted. The API key, if the server needs one, is read from ``DEEPAUDIO_LLM_API_KEY``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import urllib.error
import urllib.request

import numpy as np
import torch

from deepaudio.errors import BackendUnavailable, ConfigError
from deepaudio.think.evidence import Evidence, describe
from deepaudio.think.prompts import SYSTEM, detect_prompt, plan_prompt
from deepaudio.think.reasoners import Answer, Media, Reasoner, parse_answer

MAX_REPLY_BYTES = 1 << 20
MAX_AUDIO_SECONDS = 30.0
AUDIO_RATE = 16000


def chat_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"reasoner endpoint {url!r} is not an http(s) URL", hint="e.g. openai:http://127.0.0.1:8000/v1")
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def wav_base64(wav: torch.Tensor, sr: int, max_seconds: float = MAX_AUDIO_SECONDS) -> str:
    """16-bit 16 kHz mono WAV, base64 (the first ``max_seconds``)."""
    import soundfile as sf

    from deepaudio.io.audio import resample

    x = wav.float().mean(0) if wav.dim() == 2 else wav.float()
    x = resample(x, sr, AUDIO_RATE) if sr != AUDIO_RATE else x
    buf = io.BytesIO()
    sf.write(buf, x[: int(max_seconds * AUDIO_RATE)].clamp(-1, 1).cpu().numpy(), AUDIO_RATE, format="WAV",
             subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def jpeg_base64(frame: torch.Tensor | np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(buf, format="JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAIReasoner(Reasoner):
    name = "openai"

    def __init__(self, url: str, model: str = "default", timeout: float = 120.0, max_tokens: int = 512,
                 send_audio: bool = True):
        self.url = chat_url(url)
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.send_audio = send_audio

    def _content(self, text: str, media: Media | None) -> list[dict]:
        parts: list[dict] = [{"type": "text", "text": text}]
        if media is not None and media.frames is not None:
            for k, frame in enumerate(media.frames):
                t = media.frame_times[k] if k < len(media.frame_times) else None
                if t is not None:
                    parts.append({"type": "text", "text": f"Frame at {t:.2f} s:"})
                url = "data:image/jpeg;base64," + jpeg_base64(frame)
                parts.append({"type": "image_url", "image_url": {"url": url}})
        if media is not None and self.send_audio and media.wav.numel():
            audio = {"data": wav_base64(media.wav, media.sr), "format": "wav"}
            parts.append({"type": "input_audio", "input_audio": audio})
        return parts

    def ask(self, text: str, media: Media | None) -> str:
        body = {"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                "messages": [{"role": "system", "content": SYSTEM},
                             {"role": "user", "content": self._content(text, media)}]}
        headers = {"Content-Type": "application/json"}
        key = os.environ.get("DEEPAUDIO_LLM_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise BackendUnavailable(f"reasoner endpoint answered HTTP {exc.code}", self.url,
                                     "check the URL and the model name") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BackendUnavailable(f"cannot reach the reasoner endpoint ({reason})", self.url,
                                     "start the server or use --reasoner perception") from exc
        if len(raw) > MAX_REPLY_BYTES:
            raise BackendUnavailable("reasoner reply is larger than 1 MiB", self.url)
        try:
            return str(json.loads(raw)["choices"][0]["message"]["content"] or "")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendUnavailable("reasoner reply is not an OpenAI chat completion", self.url,
                                     "the endpoint must implement /chat/completions") from exc

    def plan(self, media: Media) -> Answer:
        text = self.ask(plan_prompt(), media)
        return Answer(summary="Plan asked of the chat model.", conclusion=text.strip(), raw=text)

    def judge(self, evidence: Evidence, media: Media) -> Answer:
        return parse_answer(self.ask(detect_prompt(describe(evidence)), media), evidence)
