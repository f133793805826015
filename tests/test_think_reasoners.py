"""Reasoner backends: answer parsing, an OpenAI-compatible endpoint on loopback, a local transformers model."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import soundfile as sf
import torch

from deepaudio.errors import BackendUnavailable, CheckpointError, ConfigError
from deepaudio.io.testmedia import moving_square_video
from deepaudio.pipelines.think import ThinkPipeline
from deepaudio.think.evidence import Evidence, Segment
from deepaudio.think.reasoner_openai import OpenAIReasoner, chat_url
from deepaudio.think.reasoners import Media, PerceptionReasoner, make_reasoner, parse_answer

EV = Evidence(4.0, (Segment(0.5, 1.5, 0.9, 1.0), Segment(2.0, 3.0, 0.2, 0.0)), "block_brightness", -20.0, 0.1, False)
MAX_BODY = 32 << 20


class _Endpoint:
    """A loopback chat-completions server: records requests, answers with ``reply`` (or ``status``)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.reply = "VOICE-OVER: NO"
        self.status = 200
        self.raw: bytes | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server naming
                n = int(self.headers.get("Content-Length", "0"))
                assert 0 < n <= MAX_BODY
                outer.requests.append({"path": self.path, "body": json.loads(self.rfile.read(n))})
                body = outer.raw if outer.raw is not None else json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": outer.reply}}]}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return moving_square_video(tmp_path_factory.mktemp("r") / "v.mp4", duration=1.6, width=64, height=48).path


def _speechy(sr: int = 16000, seconds: float = 1.6) -> torch.Tensor:
    """A 150 Hz buzz gated at 4 Hz: some sound for the request (whether a VAD calls it speech does not matter)."""
    t = torch.arange(int(sr * seconds)) / sr
    return (0.1 * torch.sin(2 * torch.pi * 150 * t) * (torch.sin(2 * torch.pi * 4 * t) > 0))[None]


def test_parse_answer_parts_decision_and_segments():
    text = ("**Summary:** decide voice-over.\n**Caption:** a face; speech.\nReasoning: segment 2 has no mouth.\n"
            "Conclusion: there is voice-over.\nVOICE-OVER: YES\nSEGMENTS: 2")
    ans = parse_answer(text, EV)
    assert ans.summary == "decide voice-over." and ans.caption == "a face; speech."
    assert ans.reasoning == "segment 2 has no mouth." and ans.conclusion == "there is voice-over."
    assert ans.voice_over is True and ans.spans == ((2.0, 3.0),)
    # YES without segments: the measured off-screen ones; NO: nothing; no decision: None.
    assert parse_answer("Conclusion: yes\nVOICE-OVER: yes", EV).spans == ((2.0, 3.0),)
    assert parse_answer("voice-over: no", EV).voice_over is False
    undecided = parse_answer("I am not sure what you mean.", EV)
    assert undecided.voice_over is None and undecided.conclusion == "I am not sure what you mean."


def test_perception_reasoner_marks_only_segments_without_a_moving_mouth():
    ans = PerceptionReasoner().judge(EV, Media(torch.zeros(1, 10), 16000))
    assert ans.voice_over is True and ans.spans == ((2.0, 3.0),)
    assert "segment 2" in ans.reasoning and "Speech segment 1" in ans.caption
    none = Evidence(4.0, (), "block_brightness", -30.0, 0.2, False)
    assert PerceptionReasoner().judge(none, Media(torch.zeros(1, 10), 16000)).voice_over is False


def test_openai_endpoint_sees_frames_audio_and_decides(video):
    with _Endpoint() as ep:
        ep.reply = "Summary: s\nCaption: c\nReasoning: r\nConclusion: voice-over present\nVOICE-OVER: YES\nSEGMENTS: 1"
        pipe = ThinkPipeline(reasoner=OpenAIReasoner(ep.url, model="tiny-av"))
        wav = _speechy()
        # Judge hand-made evidence (two measured segments) so that the segment the model names can be checked.
        media = pipe._media(video, wav, 16000, keyframes=4)
        ans = pipe.reasoner.judge(EV, media)
        assert ans.voice_over is True and ans.spans == ((0.5, 1.5),) and ans.caption == "c"
        req = ep.requests[-1]
        assert req["path"] == "/v1/chat/completions" and req["body"]["model"] == "tiny-av"
        parts = req["body"]["messages"][1]["content"]
        kinds = [p["type"] for p in parts]
        assert kinds.count("image_url") == 4 and kinds.count("input_audio") == 1
        assert "Speech segment 2: 2.00-3.00 s" in parts[0]["text"] and "VOICE-OVER: YES" in parts[0]["text"]
        audio = next(p for p in parts if p["type"] == "input_audio")["input_audio"]
        x, sr = sf.read(io.BytesIO(base64.b64decode(audio["data"])))
        assert sr == 16000 and len(x) == wav.shape[-1] and audio["format"] == "wav"
        img = next(p for p in parts if p["type"] == "image_url")["image_url"]["url"]
        assert img.startswith("data:image/jpeg;base64,/9j/")  # JPEG magic
        # Whole pipeline through the endpoint: plan + detect are asked, the trace keeps the raw answers.
        ep.reply = "Summary: s\nConclusion: none\nVOICE-OVER: NO"
        out, _, trace = pipe(video, audio=(wav, 16000))
        assert trace.find("detect")[0].backend == "openai" and trace.find("detect")[0].measurements["raw_answer"]
        assert trace.find("plan")[0].backend == "openai" and torch.equal(out, wav)
        # No decision in the reply: the measurements decide and the trace says so.
        ep.reply = "I cannot tell."
        _, _, trace = pipe(video, audio=(wav, 16000))
        det = trace.find("detect")[0]
        assert det.backend == "openai -> perception fallback" and "no VOICE-OVER decision" in det.reasoning


def test_openai_endpoint_errors_are_one_line(video):
    with _Endpoint() as ep:
        r = OpenAIReasoner(ep.url, timeout=10)
        ep.status = 500
        with pytest.raises(BackendUnavailable, match="HTTP 500"):
            r.ask("hi", None)
        ep.status, ep.raw = 200, b"not json"
        with pytest.raises(BackendUnavailable, match="not an OpenAI chat completion"):
            r.ask("hi", None)
        url = ep.url
    with pytest.raises(BackendUnavailable, match="cannot reach") as err:
        OpenAIReasoner(url, timeout=5).ask("hi", None)  # the server is gone
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError):
        chat_url("ftp://example/v1")
    assert chat_url("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"
    with pytest.raises(ConfigError, match="unknown reasoner"):
        make_reasoner("oracle")


def _tiny_lm(folder):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["voice-over yes no summary caption reasoning conclusion segment speech mouth"] * 20,
                            vocab_size=300, special_tokens=["<eos>"])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<eos>")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=4096, n_embd=16, n_layer=1, n_head=2,
                               eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)).save_pretrained(folder)


def test_local_transformers_reasoner(tmp_path, video):
    pytest.importorskip("transformers")
    with pytest.raises(CheckpointError, match="config.json"):
        make_reasoner(f"local:{tmp_path / 'nothing'}")
    _tiny_lm(tmp_path / "lm")
    r = make_reasoner(f"local:{tmp_path / 'lm'}")
    r.max_new_tokens = 12
    assert r.name == "local" and isinstance(r.plan(Media(torch.zeros(1, 0), 16000)).raw, str)
    # A random model gives no decision: the pipeline falls back to the measurements and keeps its text.
    _, _, trace = ThinkPipeline(reasoner=r)(video, audio=(_speechy(), 16000))
    det = trace.find("detect")[0]
    assert det.backend == "local -> perception fallback" and "raw_answer" in det.measurements
