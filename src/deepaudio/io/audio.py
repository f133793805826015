"""Audio files in and out, resampling, channel handling and level normalisation.

Audio in memory is always ``(waveform, sample_rate)`` with ``waveform`` a float32 tensor
``[channels, samples]`` in [-1, 1]. Reading tries libsndfile (soundfile) first because it is exact and
fast for wav/flac/ogg and then PyAV (FFmpeg) for everything else (m4a/aac, mp3 on old libsndfile, the
audio track of a video). Resampling uses soxr (a band-limited polyphase resampler), never linear
interpolation, so a tone keeps its frequency and nothing aliases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import MediaError, OutputPathError
from deepaudio.io.atomic import atomic_path

# Containers that soundfile writes itself; anything else goes through PyAV.
_SF_WRITE = {".wav": "WAV", ".flac": "FLAC"}
# suffix -> (PyAV container format, audio codec)
_AV_WRITE = {
    ".m4a": ("ipod", "aac"),
    ".aac": ("adts", "aac"),
    ".mp3": ("mp3", "libmp3lame"),
    ".ogg": ("ogg", "libopus"),
    ".opus": ("ogg", "libopus"),
    ".mka": ("matroska", "flac"),
}
_OPUS_RATES = (48000, 24000, 16000, 12000, 8000)


def check_media_file(path: str | Path) -> Path:
    """Raise ``MediaError`` unless ``path`` is an existing, non-empty regular file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise MediaError("file not found", p, "check the path")
    if p.is_dir():
        raise MediaError("is a folder, expected a media file", p)
    if p.stat().st_size == 0:
        raise MediaError("file is empty (0 bytes)", p, "re-export or re-download it")
    return p


def as_waveform(wav: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Return ``wav`` as a float32 CPU-or-same-device tensor ``[channels, samples]`` (1-D means mono)."""
    t = torch.as_tensor(wav)
    if t.ndim == 1:
        t = t.unsqueeze(0)
    if t.ndim != 2:
        raise ValueError(f"expected a waveform [channels, samples], got shape {tuple(t.shape)}")
    if not torch.is_floating_point(t):
        if t.dtype == torch.int16:
            t = t.float() / 32768.0
        elif t.dtype == torch.int32:
            t = t.float() / 2147483648.0
        else:
            t = t.float()
    return t.float()


# ----------------------------------------------------------------------------------------- reading


def load_audio(path: str | Path, sample_rate: int | None = None, mono: bool = False,
               stream: int = 0, max_seconds: float | None = None) -> tuple[torch.Tensor, int]:
    """Read an audio file (or the audio track of a video) as ``(float32 [C, N], sr)``.

    ``sample_rate`` resamples with soxr when given; ``mono`` averages the channels. ``stream`` picks
    the n-th audio stream of a multi-track file (PyAV path only). ``max_seconds`` decodes only the
    start (a reference voice); otherwise a file whose header declares more than the duration limit
    (``io/limits.py``) is refused before decoding.
    """
    p = check_media_file(path)
    _check_ogg_complete(p)
    wav, sr = None, None
    if stream == 0:
        wav, sr = _read_soundfile(p, max_seconds)
    if wav is None:
        wav, sr = _read_pyav(p, stream, max_seconds)
    if wav.shape[-1] == 0:
        raise MediaError("contains no audio samples (zero duration)", p, "use a file with sound in it")
    if not torch.isfinite(wav).all():
        raise MediaError("contains NaN or infinite samples", p, "re-export the file")
    if mono:
        wav = to_mono(wav)
    if sample_rate is not None and sample_rate != sr:
        wav, sr = resample(wav, sr, sample_rate), int(sample_rate)
    return wav, sr


def _check_ogg_complete(p: Path) -> None:
    """Ogg files end with a page flagged end-of-stream; decoders silently stop early without it."""
    with open(p, "rb") as fh:
        if fh.read(4) != b"OggS":
            return
        size = p.stat().st_size
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    last = tail.rfind(b"OggS")
    if last < 0 or len(tail) < last + 6 or not tail[last + 5] & 0x04:
        raise MediaError("file is truncated: the Ogg stream has no end-of-stream page", p,
                         "re-export or re-download it")


def _read_soundfile(p: Path, max_seconds: float | None = None) -> tuple[torch.Tensor | None, int | None]:
    import soundfile as sf

    from deepaudio.io.limits import check_declared_duration

    try:
        info = sf.info(str(p))
    except Exception:  # libsndfile cannot read it: let FFmpeg try
        return None, None
    frames = -1
    if max_seconds is not None and info.samplerate > 0:
        frames = min(info.frames, int(math.ceil(max_seconds * info.samplerate))) if info.frames > 0 else -1
    elif info.samplerate > 0:
        check_declared_duration(info.frames / info.samplerate, p, "audio")
    try:
        data, sr = sf.read(str(p), frames=frames, dtype="float32", always_2d=True)
    except MemoryError:
        raise
    except Exception:
        return None, None
    if frames >= 0:  # a partial read: the rest of the file is neither decoded nor checked
        return torch.from_numpy(np.ascontiguousarray(data.T)), int(sr)
    if info.frames > 0 and data.shape[0] < info.frames:
        raise MediaError(f"file is truncated: header announces {info.frames} samples, only {data.shape[0]} read",
                         p, "re-export the file")
    if info.format in ("WAV", "WAVEX"):
        declared = _wav_data_bytes(p)
        got = data.shape[0] * info.channels * _pcm_bytes(info.subtype)
        if declared is not None and got and declared > got + info.channels * 4:
            raise MediaError(f"file is truncated: header announces {declared} data bytes, only {got} present", p,
                             "re-export or re-download it")
    return torch.from_numpy(np.ascontiguousarray(data.T)), int(sr)


def _wav_data_bytes(p: Path) -> int | None:
    """Size of the RIFF ``data`` chunk as written in the header (libsndfile silently clamps it)."""
    with open(p, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                return None if size in (0, 0xFFFFFFFF) else size  # streaming writers leave these
            fh.seek(size + (size & 1), 1)


def _pcm_bytes(subtype: str) -> int:
    return {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}.get(subtype, 0)


def _read_pyav(p: Path, index: int, max_seconds: float | None = None) -> tuple[torch.Tensor, int]:
    import av

    from deepaudio.io.limits import check_declared_duration
    from deepaudio.io.media import open_media, short_error

    with open_media(p) as container:
        streams = container.streams.audio
        if len(streams) <= index:
            what = "has no audio stream" if not streams else f"has only {len(streams)} audio stream(s)"
            raise MediaError(what, p, "give a file with sound")
        st = streams[index]
        sr = st.codec_context.sample_rate or st.rate
        if not sr:
            raise MediaError("audio stream has no sample rate", p)
        # Convert whatever sample format/layout FFmpeg decodes into planar float at the native rate.
        expected = float(st.duration * st.time_base) if st.duration and st.time_base else None
        if max_seconds is None and (expected or container.duration):
            check_declared_duration(expected or container.duration / 1e6, p, "audio")
        limit = math.inf if max_seconds is None else max_seconds * sr
        resampler = av.AudioResampler(format="fltp", rate=sr)
        chunks: list[np.ndarray] = []
        got = 0
        try:
            for frame in container.decode(st):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                    got += chunks[-1].shape[-1]
                if got >= limit:
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.FFmpegError as exc:
            if not chunks:
                raise MediaError(f"audio cannot be decoded ({short_error(exc)})", p, "the file is corrupt") from exc
            raise MediaError(f"audio stops with a decoding error ({short_error(exc)})", p,
                             "the file is truncated or corrupt; re-export it") from exc
    if not chunks:
        raise MediaError("contains no audio samples (zero duration)", p, "use a file with sound in it")
    data = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    if max_seconds is not None:
        return torch.from_numpy(np.ascontiguousarray(data[:, :int(math.ceil(limit))])), int(sr)
    if expected is not None and 0 < data.shape[1] - expected * sr <= 2048:
        # AAC/MP3 decoders return the zero padding of the last codec frame: cut to the stated duration.
        data = data[:, :int(round(expected * sr))]
    if expected is not None and expected > 0.5 and data.shape[1] < 0.9 * expected * sr:
        raise MediaError(f"file is truncated: {data.shape[1] / sr:.2f} s decoded of {expected:.2f} s announced",
                         p, "re-export the file")
    return torch.from_numpy(np.ascontiguousarray(data)), int(sr)


# ----------------------------------------------------------------------------------------- writing


def check_audio_output(path: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    """An output path with a suffix we can write audio to (checked before any work is done)."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in _SF_WRITE and suffix not in _AV_WRITE:
        known = ", ".join(sorted([*_SF_WRITE, *_AV_WRITE]))
        raise OutputPathError(f"unknown audio format '{suffix or '(none)'}'", out, f"use one of {known}")
    if inputs:
        from deepaudio.io.atomic import check_output_path

        check_output_path(out, inputs)
    return out


def save_audio(path: str | Path, wav: torch.Tensor | np.ndarray, sr: int, inputs: Sequence[str | Path] = (),
               subtype: str | None = None, bitrate: int | None = None) -> Path:
    """Write ``wav`` ``[C, N]`` (or ``[N]``) atomically; the suffix picks the format.

    wav/flac go through soundfile (16-bit PCM unless ``subtype`` says e.g. ``"FLOAT"``), m4a/aac/mp3/
    ogg/opus/mka through PyAV. Samples outside [-1, 1] are clipped for integer formats. ``inputs`` are
    paths the output must not overwrite.
    """
    out = check_audio_output(path)
    suffix = out.suffix.lower()
    x = as_waveform(wav).detach().cpu()
    if x.shape[-1] == 0:
        raise ValueError("refusing to write an empty waveform")
    if int(sr) <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    from deepaudio.io.mux import check_finite_audio

    check_finite_audio(x, out)
    data = np.ascontiguousarray(x.numpy().T)  # [N, C]
    with atomic_path(out, inputs) as tmp:
        if suffix in _SF_WRITE:
            import soundfile as sf

            sub = subtype or "PCM_16"
            if sub != "FLOAT" and sub != "DOUBLE":
                data = np.clip(data, -1.0, 1.0)
            sf.write(str(tmp), data, int(sr), subtype=sub, format=_SF_WRITE[suffix])
        else:
            fmt, codec = _AV_WRITE[suffix]
            _write_pyav(tmp, np.clip(data.T, -1.0, 1.0), int(sr), fmt, codec, bitrate)
    return out


def _write_pyav(tmp: Path, data: np.ndarray, sr: int, fmt: str, codec: str, bitrate: int | None) -> None:
    import av

    if codec == "libopus" and sr not in _OPUS_RATES:
        data = resample(torch.from_numpy(np.ascontiguousarray(data)), sr, 48000).numpy()
        sr = 48000
    with av.open(str(tmp), "w", format=fmt) as container:
        encode_audio_stream(container, data, sr, codec=codec, bitrate=bitrate)


def encode_audio_stream(container, data: np.ndarray, sr: int, codec: str = "aac", bitrate: int | None = None,
                        title: str | None = None, language: str | None = None, start_pts: int = 0):
    """Add an audio stream to an open PyAV output ``container``, encode ``data`` ``[C, N]`` and mux it.

    Returns the stream. ``save_audio`` uses it directly; ``write_video`` and ``mux_audio`` use the two
    halves (``add_audio_stream`` / ``encode_audio_packets``) to interleave audio with video packets.
    """
    stream = add_audio_stream(container, data.shape[0], sr, codec, bitrate, title, language)
    for packet in encode_audio_packets(stream, data, sr, start_pts):
        container.mux(packet)
    return stream


def add_audio_stream(container, channels: int, sr: int, codec: str = "aac", bitrate: int | None = None,
                     title: str | None = None, language: str | None = None):
    """Create an audio output stream (planar float input, mono/stereo layout) on ``container``."""
    if channels not in (1, 2):
        raise ValueError(f"only mono or stereo audio can be encoded, got {channels} channels")
    stream = container.add_stream(codec, rate=sr, layout="mono" if channels == 1 else "stereo")
    if bitrate is not None:
        stream.bit_rate = int(bitrate)
    elif codec in ("aac", "libmp3lame", "libopus"):
        stream.bit_rate = 96000 * channels
    if title:
        stream.metadata["title"] = str(title)
    if language:
        stream.metadata["language"] = str(language)
    return stream


def encode_audio_packets(stream, data: np.ndarray, sr: int, start_pts: int = 0):
    """Yield the encoded packets of ``data`` ``[C, N]`` on ``stream`` (a generator; flushes at the end).

    Frames are cut to the encoder's frame size (1024 for AAC) because fixed-frame-size encoders
    reject other lengths; the last one may be shorter.
    """
    import av

    data = np.ascontiguousarray(data, dtype=np.float32)
    layout = "mono" if data.shape[0] == 1 else "stereo"
    fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
    frame_size = stream.codec_context.frame_size or 1024
    resampler = None if fmt == "fltp" else av.AudioResampler(format=fmt, layout=layout, rate=sr)
    for off in range(0, data.shape[1], frame_size):
        chunk = np.ascontiguousarray(data[:, off:off + frame_size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = sr
        frame.pts = start_pts + off
        frames = [frame] if resampler is None else resampler.resample(frame)
        for fr in frames:
            yield from stream.encode(fr)
    yield from stream.encode(None)


# ------------------------------------------------------------------------------ channels, resampling


def to_mono(wav: torch.Tensor) -> torch.Tensor:
    """Average the channels: ``[C, N] -> [1, N]`` (a 1-D input is already mono and becomes ``[1, N]``)."""
    x = as_waveform(wav)
    return x.mean(dim=0, keepdim=True) if x.shape[0] > 1 else x


def to_channels(wav: torch.Tensor, channels: int) -> torch.Tensor:
    """Return ``wav`` with ``channels`` channels: mono is repeated, more channels are averaged down."""
    x = as_waveform(wav)
    if x.shape[0] == channels:
        return x
    if channels == 1:
        return to_mono(x)
    if x.shape[0] == 1:
        return x.expand(channels, -1).clone()
    raise ValueError(f"cannot map {x.shape[0]} channels to {channels}")


def resample(wav: torch.Tensor | np.ndarray, sr_in: int, sr_out: int, quality: str = "VHQ") -> torch.Tensor:
    """Band-limited resampling with soxr along the last axis; any leading shape, float32 out.

    The result has ``round(N * sr_out / sr_in)`` samples and stays on the input's device.
    """
    import soxr

    x = torch.as_tensor(wav)
    if int(sr_in) <= 0 or int(sr_out) <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    if int(sr_in) == int(sr_out):
        return x.float()
    device = x.device
    lead = x.shape[:-1]
    flat = x.detach().reshape(-1, x.shape[-1]).float().cpu().numpy()
    if flat.shape[1] == 0:
        return torch.zeros(*lead, 0, device=device)
    out = soxr.resample(np.ascontiguousarray(flat.T), int(sr_in), int(sr_out), quality=quality)
    out = np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, flat.shape[0]).T)
    return torch.from_numpy(out).reshape(*lead, out.shape[-1]).to(device)
