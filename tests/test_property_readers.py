"""Property tests: the readers of user files turn arbitrary bytes into a result or the project's error.

SRT subtitles, TTS / V2S / V2A manifests, batch CSVs, parity sidecars and checkpoint ``config.json`` files
are fed random bytes and mutations of valid files; any exception other than ``DeepAudioError`` (a
``KeyError``, ``TypeError``, ``RecursionError`` ...) fails the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepaudio.errors import DeepAudioError

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

VALID_SRT = b"1\n00:00:00,100 --> 00:00:01,000\nhello there\n\n2\n00:00:01,200 --> 00:00:02,000\nbye\n"
VALID_MANIFEST = b"audio_path,text,speaker\na.wav,hello there,s1\nb.wav,good bye,s2\n"
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=12)


def _mutations(valid: bytes):
    """Random bytes, and valid files with a slice replaced by random bytes."""
    return st.binary(max_size=300) | st.tuples(st.integers(0, len(valid)), st.integers(0, 40), st.binary(max_size=30)
                                               ).map(lambda t: valid[:t[0]] + t[2] + valid[t[0] + t[1]:])


def _write(folder: Path, name: str, data: bytes) -> Path:
    p = folder / name
    p.write_bytes(data)
    return p


def _only_our_errors(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DeepAudioError as exc:
        assert "\n" not in str(exc)
        return None


@FAST
@given(data=_mutations(VALID_SRT))
def test_srt_parser_on_arbitrary_bytes(tmp_path, data):
    from deepaudio.io.srt import parse_srt

    cues = _only_our_errors(parse_srt, _write(tmp_path, "x.srt", data))
    for cue in cues or []:
        assert 0 <= cue.start < cue.end and isinstance(cue.text, str)


@FAST
@given(data=_mutations(VALID_MANIFEST))
def test_tts_manifest_reader_on_arbitrary_bytes(tmp_path, data):
    from deepaudio.data.manifest import read_manifest

    _only_our_errors(read_manifest, _write(tmp_path, "m.csv", data), check_files=False)


@FAST
@given(data=_mutations(b"video,speech,text\nclip.mp4,clip.wav,hello there\n"))
def test_v2s_manifest_reader_on_arbitrary_bytes(tmp_path, data):
    from deepaudio.data.v2s import read_v2s_manifest

    _only_our_errors(read_v2s_manifest, _write(tmp_path, "v.csv", data), check_files=False)


@FAST
@given(data=_mutations(b"video,audio,prompt\nclip.mp4,clip.wav,rain\n"))
def test_v2a_manifest_reader_on_arbitrary_bytes(tmp_path, data):
    from deepaudio.train.v2a import read_manifest

    _only_our_errors(read_manifest, _write(tmp_path, "a.csv", data))


@FAST
@given(data=_mutations(b"video,duration,prompt\nclip.mp4,2.5,rain\n"))
def test_batch_csv_reader_on_arbitrary_bytes(tmp_path, data):
    from deepaudio.cli.common import option_float
    from deepaudio.io.batch_inputs import iter_items

    items = _only_our_errors(lambda p: list(iter_items(p, "video", {".mp4"})), _write(tmp_path, "b.csv", data))
    for item in items or []:
        if item.error is None:
            _only_our_errors(option_float, item.options, "duration", None, item.path)


@FAST
@given(data=_mutations(b'{"format_version": 1, "kind": "tts_dit", "config": {"dim": 8}, "meta": {}}'))
def test_checkpoint_config_reader_on_arbitrary_bytes(tmp_path, data):
    from deepaudio.checkpoint import read_config

    _write(tmp_path, "config.json", data)
    _only_our_errors(read_config, tmp_path)


@FAST
@given(config=st.dictionaries(st.sampled_from(["dim", "depth", "heads", "dim_head", "ff_mult", "mel_dim",
                                               "text_num_embeds", "text_dim", "conv_layers", "bogus"]),
                              JSON_VALUES, max_size=4))
def test_checkpoint_model_config_on_arbitrary_values(tmp_path, config):
    """A damaged model config over the bundled TTS weights: refused in one line, never a crash or an allocation."""
    from deepaudio.assets import bundled_dir
    from deepaudio.checkpoint import load_model

    src = bundled_dir("tts")
    doc = json.loads((src / "config.json").read_text())
    doc["config"].update(config)
    folder = tmp_path / "ck"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(doc))
    if not (folder / "model.safetensors").exists():
        os.symlink(src / "model.safetensors", folder / "model.safetensors")
    _only_our_errors(load_model, folder)


@FAST
@given(doc=JSON_VALUES)
def test_parity_sidecar_on_arbitrary_json(tmp_path, doc):
    from deepaudio.convert.parity import run_case

    (tmp_path / "c.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    (tmp_path / "c.json").write_text(json.dumps(doc))
    _only_our_errors(run_case, tmp_path / "c.safetensors")
