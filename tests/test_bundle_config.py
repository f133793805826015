"""Pipeline folders' config.json are read strictly: a missing, unknown or mistyped key names file and key."""

from __future__ import annotations

import pytest
import torch

from deepaudio.checkpoint import write_config
from deepaudio.config import DTYPES, resolve_dtype
from deepaudio.errors import ConfigError
from deepaudio.models.v2a.bundle import read_v2a_bundle

GOOD = {"net": "net", "encoder": {"type": "tiny", "dir": "encoder"}, "codec": {"type": "mel"}, "window": 4.0}


def _folder(tmp_path, config, kind="v2a_pipeline"):
    tmp_path.mkdir(exist_ok=True)
    write_config(tmp_path, kind, config)
    return tmp_path


def test_a_complete_config_reads_into_typed_parts(tmp_path):
    b = read_v2a_bundle(_folder(tmp_path, GOOD))
    assert (b.net, b.encoder.type, b.encoder.dir, b.codec.type, b.window, b.cfg_strength) == \
        ("net", "tiny", "encoder", "mel", 4.0, None)


@pytest.mark.parametrize("change,message", [
    ({"window": None}, "needs the key(s) window"),
    ({"windw": 4.0}, "unknown V2ABundle field(s): windw"),
    ({"window": "4 s"}, "'window' must be float"),
    ({"encoder": {"type": "tiny", "dri": "encoder"}}, "unknown EncoderSpec field(s): dri"),
    ({"codec": {}}, "CodecSpec needs the key(s) type"),
    ({"codec": {"type": "wav"}}, "unknown V2A codec type 'wav'"),
])
def test_bad_configs_name_the_file_and_the_key(tmp_path, change, message):
    config = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    folder = _folder(tmp_path / "p", config)
    with pytest.raises(ConfigError) as err:
        read_v2a_bundle(folder)
    assert message in str(err.value) and "config.json" in str(err.value)


def test_deepaudio_folder_refuses_unknown_parts(tmp_path):
    from deepaudio.pipelines.deepaudio import DeepAudio

    with pytest.raises(ConfigError, match="unknown DeepAudioBundle field"):
        DeepAudio.from_pretrained(_folder(tmp_path, {"v2a": "v2a", "speech": "tts"}, "deepaudio_pipeline"))


def test_one_dtype_table():
    assert resolve_dtype("bf16") is resolve_dtype("bfloat16") is torch.bfloat16 and resolve_dtype(torch.float16)
    assert set(DTYPES.values()) == {torch.float32, torch.bfloat16, torch.float16}
    with pytest.raises(ConfigError, match="unknown dtype 'half' in somewhere"):
        resolve_dtype("half", "somewhere")
