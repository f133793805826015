"""A probed, decoded-once clip: several frame streams in one pass, and one V2A call = 1 probe, 1 pass."""

from __future__ import annotations

import av
import pytest
import torch

import deepaudio.io.clip as clip_module
import deepaudio.io.video as vio
from deepaudio.io import testmedia as tm
from deepaudio.io.clip import VideoClip
from deepaudio.io.video import FrameRequest, read_frames


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return tm.moving_square_video(tmp_path_factory.mktemp("clip") / "v.mp4", duration=5.0, fps=25.0).path


REQUESTS = [FrameRequest(8.0, 48, "resize", 0.0, 4.0), FrameRequest(25.0, 32, "center", 0.0, 4.0),
            FrameRequest(8.0, 48, "resize", 1.37, 3.5), FrameRequest(30.0, 32, "center", 2.0, 2.0),
            FrameRequest(None, 24, "center", 3.0, 1.0)]


def test_one_pass_gives_each_stream_exactly_its_own_frames(video):
    clip = VideoClip(video)
    together = clip.read(REQUESTS)
    for r, (frames, times) in zip(REQUESTS, together):
        alone, alone_t = read_frames(video, r.fps, r.size, r.crop, r.start, r.duration)
        assert torch.equal(frames, alone) and torch.equal(times, alone_t), r
    small = clip.read_grouped([REQUESTS[:2], REQUESTS[2:4], REQUESTS[4:]], budget=1)  # one pass per group
    assert all(torch.equal(a[0], b[0]) for a, b in zip([f for g in small for f in g], together))
    assert clip.duration == pytest.approx(5.0, abs=0.05) and str(video) == clip.__fspath__()


class _Count:
    def __init__(self, monkeypatch):
        self.opens = self.passes = self.probes = 0
        real_open, real_probe = av.open, vio.probe_video
        count = self

        class Proxy:
            def __init__(self, c):
                self.c = c

            def __getattr__(self, name):
                return getattr(self.c, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self.c.__exit__(*exc)

            def decode(self, *a, **k):
                count.passes += 1
                return self.c.decode(*a, **k)

        def opening(*a, **k):
            self.opens += 1
            return Proxy(real_open(*a, **k))

        def probing(*a, **k):
            self.probes += 1
            return real_probe(*a, **k)

        monkeypatch.setattr(av, "open", opening)
        monkeypatch.setattr(vio, "probe_video", probing)
        monkeypatch.setattr(clip_module, "probe_video", probing)


def test_a_v2a_call_over_three_windows_probes_once_and_decodes_once(video, monkeypatch):
    from deepaudio.models.encoders.tiny_bundle import TinyV2AEncoder
    from deepaudio.models.v2a.codecs import MelCodec
    from deepaudio.models.v2a.mmdit import MMAudioNet
    from deepaudio.pipelines.v2a import V2APipeline
    from deepaudio.train.v2a import V2A_SETUPS

    setup = V2A_SETUPS.get("micro")
    torch.manual_seed(0)
    pipe = V2APipeline(MMAudioNet(setup.net), TinyV2AEncoder(setup.encoder), MelCodec(setup.codec), window=2.5)
    count = _Count(monkeypatch)
    result = pipe(video, steps=1, seed=0)
    assert len(result.metadata["windows"]) == 3
    # the probe opens the file and decodes its first frame; then one pass samples every window's streams
    assert (count.probes, count.opens, count.passes) == (1, 2, 2)
    wav, sr = result  # still unpacks like the old (audio, rate) tuple
    assert sr == pipe.sample_rate and wav.shape[-1] == pytest.approx(5.0 * sr, abs=sr * 0.05)
