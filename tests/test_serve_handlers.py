"""``deepaudio serve`` handlers on the bundled default: results, the CLI's messages, folders kept clean.

The handlers are what the page and the HTTP API run (``serve.app`` only wraps them), so these tests
run them directly, fast, without a browser or a server.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import pytest
import soundfile as sf

from deepaudio.errors import ConfigError, DeepAudioError, InputError
from deepaudio.io.testmedia import garbage_file, moving_square_video
from deepaudio.serve import handlers
from deepaudio.serve.handlers import Limits, Session


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from deepaudio.assets import bundled_dir
    from deepaudio.pipelines.deepaudio import DeepAudio

    pipe = DeepAudio.from_pretrained(bundled_dir("pipeline"))
    return Session(pipe, tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def video(session):
    upload = session.files / "upload1"
    upload.mkdir(exist_ok=True)
    return moving_square_video(upload / "clip.mp4", duration=2.0, sample_rate=None).path


def _outputs(session) -> set[str]:
    return {p.name for p in session.files.glob("out-*")}


def _clean(session) -> None:
    assert not any(session.work.iterdir()), "a request left temporary files behind"


def test_speech_in_the_default_voice(session):
    seen = []
    wav, png, status = handlers.speech(session, "Good morning.", None, "", 1.0, 4, 0,
                                       progress=lambda x, desc="": seen.append((x, desc)))
    fractions = [x for x, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] >= 0.85  # the page's progress bar moves forward
    assert [d for _, d in seen if d.startswith("speech: ODE step")] == [f"speech: ODE step {k}/4" for k in range(1, 5)]
    assert wav.is_relative_to(session.files) and png.is_relative_to(session.files)
    assert sf.info(wav).duration > 0.3 and png.stat().st_size > 1000
    assert "flite-awb" in status
    _clean(session)


def test_sound_for_a_video(session, video):
    mp4, wav, png, status = handlers.sound_for_video(session, str(video), "", "", 2, None, 1)
    assert abs(sf.info(wav).duration - 2.0) < 0.1 and mp4.suffix == ".mp4" and png.is_file()
    assert "clip.mp4, 2 steps, seed 1" in status
    _clean(session)


def test_instruction_routes_and_reports_probabilities(session):
    probs, mp4, wav, status = handlers.instruction(session, None, 'Read this aloud: "good morning"')
    assert max(probs, key=probs.get) == "tts" and abs(sum(probs.values()) - 1) < 1e-3
    assert mp4 is None and sf.info(wav).duration > 0.2 and "flite-awb" in status
    _clean(session)


def test_instruction_can_ask_for_voice_over_removal(session, video):
    """The gate's task 'think' through the Instruction tab: the cleaned sound and its sidecar, no crash on the
    trace that task writes beside the audio."""
    probs, mp4, wav, status = handlers.instruction(session, str(video), "remove the narrator")
    assert max(probs, key=probs.get) == "think" and mp4.suffix == ".mp4" and sf.info(wav).duration > 1.5
    _clean(session)


def test_remove_voice_over_on_a_given_track(session, video):
    from deepaudio.io.audio import save_audio
    from deepaudio.io.testmedia import tone

    track = save_audio(video.parent / "track.wav", tone(2.0, 16000)[0], 16000)
    wav, mp4, trace_md, trace_json = handlers.remove_voice_over(session, str(video), str(track))
    assert sf.info(wav).duration > 1.5 and mp4.is_file()
    assert "**plan**" in trace_md and "**detect**" in trace_md
    assert json.loads(trace_json.read_text())["mode"] == "audio"
    _clean(session)


@pytest.mark.parametrize("outside", ["/etc/passwd", "{files}/../../../etc/passwd", "{root}/work/x.wav"])
def test_no_path_outside_the_upload_folder_is_read(session, outside):
    before = _outputs(session)
    path = outside.format(files=session.files, root=session.root)
    with pytest.raises(InputError, match="outside the server's upload folder"):
        handlers.speech(session, "Hello.", path)
    with pytest.raises(InputError, match="outside the server's upload folder"):
        handlers.sound_for_video(session, path)
    assert _outputs(session) == before
    _clean(session)


def test_a_symlink_out_of_the_upload_folder_is_refused(session):
    link = session.files / "upload2" / "voice.wav"
    link.parent.mkdir(exist_ok=True)
    if not link.exists():
        os.symlink("/etc/hostname", link)
    with pytest.raises(InputError, match="outside"):
        handlers.speech(session, "Hello.", str(link))


def test_bad_srt_gives_the_cli_message(session, video, tmp_path, capsys, monkeypatch):
    from deepaudio.cli.main import main

    bad = session.files / "upload3" / "subs.srt"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text("1\nnot a time line\nhello\n")
    before = _outputs(session)
    with pytest.raises(DeepAudioError) as err:
        handlers.dub(session, str(video), "", str(bad))
    page = session.message(err.value)
    assert page.startswith("subs.srt: line 2:") and str(session.root) not in page
    monkeypatch.chdir(tmp_path)  # the CLI is given the same file by its name
    shutil.copy(video, "clip.mp4")
    shutil.copy(bad, "subs.srt")
    assert main(["dub", "--video", "clip.mp4", "--srt", "subs.srt", "-o", "out.mp4", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"deepaudio: error: {page}"
    assert _outputs(session) == before and not (tmp_path / "out.mp4").exists()
    _clean(session)


def test_empty_text_gives_the_cli_message(session):
    with pytest.raises(InputError) as err:
        handlers.speech(session, "   ", None)
    assert session.message(err.value) == "the task 'tts' needs a transcript (pass --text, or quote it in the " \
                                         "instruction: saying \"...\")"


def test_wrong_file_type_and_a_video_without_frames(session):
    upload = session.files / "upload4"
    upload.mkdir(exist_ok=True)
    junk = garbage_file(upload / "notes.mp4")
    with pytest.raises(DeepAudioError) as err:
        handlers.sound_for_video(session, str(junk))
    assert session.message(err.value).startswith("notes.mp4:")
    from deepaudio.io.audio import save_audio
    from deepaudio.io.testmedia import tone

    sound_only = save_audio(upload / "sound.m4a", tone(1.0, 16000)[0], 16000)
    with pytest.raises(DeepAudioError) as err:
        handlers.sound_for_video(session, str(sound_only))
    assert session.message(err.value).startswith("sound.m4a:")
    _clean(session)


def test_limits_on_upload_size_video_length_and_steps(session, video):
    small = dataclasses.replace(session.limits, max_upload_mb=0.001, max_video_s=1.0)
    strict = Session(session.pipe, session.root, small, think=session._think)
    with pytest.raises(InputError, match="over this server's limit of 0.001 MB"):
        strict.video(str(video))
    strict = Session(session.pipe, session.root, Limits(max_video_s=1.0))
    with pytest.raises(InputError, match=r"2\.0 s long, over this server's limit of 1 s"):
        strict.video(str(video))
    for bad in (0, 2.5, "x", 10_000):
        with pytest.raises(ConfigError, match="whole number from 1 to 200"):
            session.steps(bad, "steps")
    with pytest.raises(InputError, match="not both"):
        handlers.dub(session, str(video), "hello", str(video))


def test_internal_errors_become_one_line_without_server_paths(session):
    msg = session.message(RuntimeError(f"boom in {session.root}/work/req-1/x.wav"))
    assert msg == "internal error (RuntimeError); the server log has the details"
    msg = session.message(InputError("cannot read", session.files / "abc" / "voice.wav"))
    assert msg == "voice.wav: cannot read"


def test_the_app_has_five_endpoints_in_one_model_queue(session):
    pytest.importorskip("gradio")
    from deepaudio.serve.app import MODEL_QUEUE, build_app
    from deepaudio.serve.examples import Examples

    app = build_app(session, Examples(speech=[["Hello there.", None, "", 1.0, 8, 0]]))
    names = {f.api_name for f in app.fns.values() if getattr(f.fn, "uses_model", False)}
    assert {"sound_for_video", "speech", "dub", "instruction", "remove_voice_over"} <= names
    groups = {f.concurrency_id for f in app.fns.values() if getattr(f.fn, "uses_model", False)}
    assert groups == {MODEL_QUEUE}  # the example click and every tab share the one --concurrency bound


def test_dub_with_a_transcript_and_with_subtitles(session, video):
    srt = session.files / "upload5" / "subs.srt"
    srt.parent.mkdir(exist_ok=True)
    srt.write_text("1\n00:00:00,200 --> 00:00:01,400\nHello there.\n")
    for text, subs in (("Good morning.", None), ("", str(srt))):
        mp4, files, png, status = handlers.dub(session, str(video), text, subs, None, "", "v2a", 0, 2, 4)
        names = sorted(p.name for p in files)
        assert names == ["clip_ambience.wav", "clip_dub.json", "clip_mix.wav", "clip_speech.wav"]
        side = json.loads(next(p for p in files if p.suffix == ".json").read_text())
        assert "flite-awb" in side["voice"] and side["segments"][0]["text"] == (text or "Hello there.")
        assert abs(sf.info(files[0]).duration - 2.0) < 0.1 and png.is_file() and mp4.is_file()
        assert "voice: the bundled default voice" in status
    _clean(session)


def test_serve_refuses_a_busy_port_before_loading_anything(capsys):
    import socket

    from deepaudio.cli.main import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"deepaudio: error: cannot listen on 127.0.0.1:{port}") and err.count("\n") == 1
    assert main(["serve", "--concurrency", "0"]) == 2
    assert "--concurrency must be positive" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("flite") is None or shutil.which("espeak-ng") is None,
                    reason="the toy-world examples need flite and espeak-ng (bash scripts/setup.sh)")
def test_every_tab_gets_examples_whose_files_exist(session):
    from pathlib import Path

    from deepaudio.serve.examples import make_examples

    ex = make_examples(session.examples)
    widths = {"sound": 6, "speech": 6, "dub": 6, "instruction": 3, "remove": 2}  # the tabs' example inputs
    for tab, width in widths.items():
        rows = getattr(ex, tab)
        assert rows and all(len(r) == width for r in rows), tab
        for value in (v for r in rows for v in r if isinstance(v, str) and v.startswith("/")):
            assert Path(value).is_file() and Path(value).is_relative_to(session.examples), value
    assert ex.dub[1][2].endswith("talk.srt") and "-->" in Path(ex.dub[1][2]).read_text()
