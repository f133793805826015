"""``deepaudio serve`` in a real browser: Debian's chromium driven by Playwright (its own browser
download is not reachable here, so the test points it at /usr/bin/chromium and skips without it).

Starts the server as a user would (``deepaudio serve``), clicks the Speech tab's first example and waits
for the audio player, uploads a malformed SRT in the Dub tab and reads the CLI's one-line message in
the page, then checks the server still answers. Set ``DEEPAUDIO_SERVE_SCREENSHOT=path.png`` to keep the
screenshot of the Speech result (docs/serve.png was made that way).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SRC = Path(__file__).resolve().parents[1] / "src"

pytestmark = pytest.mark.skipif(shutil.which("flite") is None, reason="the examples need flite (bash scripts/setup.sh)")
needs_chromium = pytest.mark.skipif(not CHROMIUM.is_file(),
                                    reason="Debian chromium is not installed (bash scripts/setup.sh test)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("gradio")
    root = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    log = (root / "server.log").open("w")
    cmd = [sys.executable, "-m", "deepaudio.cli.main", "serve", "--port", str(port), "--device", "cpu", "--workdir",
           str(root / "wd"), "--threads", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            assert proc.poll() is None, (root / "server.log").read_text()
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("the server did not start in 120 s:\n" + (root / "server.log").read_text())
    yield url, root
    proc.terminate()
    proc.wait(timeout=30)
    assert not (root / "wd" / "work").exists() or not any((root / "wd" / "work").iterdir())


@needs_chromium
def test_speech_example_and_a_bad_upload_in_chromium(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, root = server
    bad = tmp_path / "subs.srt"
    bad.write_text("1\nnot a time line\nhello\n")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=ARGS,
                                                   headless=True, viewport={"width": 1280, "height": 900})
        try:
            page = ctx.new_page()
            page.goto(url, wait_until="networkidle")
            page.get_by_role("tab", name="Speech").click()
            page.get_by_text("Good morning! The kettle is on.").first.click()  # runs the example
            page.wait_for_selector("#speech-out audio", state="attached", timeout=90_000)
            assert "flite-awb" in page.locator("#speech-status textarea").input_value()
            shot = page.screenshot(path=str(tmp_path / "speech.png"), full_page=True)
            assert len(shot) > 20_000
            if os.environ.get("DEEPAUDIO_SERVE_SCREENSHOT"):
                shutil.copy(tmp_path / "speech.png", os.environ["DEEPAUDIO_SERVE_SCREENSHOT"])

            page.get_by_role("tab", name="Dub").click()
            page.locator("#dub-video input[type=file]").set_input_files(str(root / "wd" / "examples" / "talk.mp4"))
            page.locator("#dub-srt input[type=file]").set_input_files(str(bad))
            page.locator("#dub-video video").wait_for(state="attached", timeout=30_000)
            page.locator("#dub-go").click()
            message = page.get_by_text("subs.srt: line 2: expected a timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm', "
                                       "got 'not a time line' (fix the subtitle file)", exact=True)
            message.first.wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "bad_upload.png"))
        finally:
            ctx.close()
    assert urllib.request.urlopen(url, timeout=5).status == 200  # still serving


def test_the_http_api_with_gradio_client(server):
    """The README's example: the Speech endpoint from Python, in the bundled default voice."""
    client_mod = pytest.importorskip("gradio_client")
    url, root = server
    client = client_mod.Client(url, verbose=False, download_files=False)
    wav, png, status = client.predict("Hello there.", None, "", 1.0, 4, 0, api_name="/speech")
    assert Path(wav["path"]).is_relative_to(root / "wd" / "files") and "flite-awb" in status
    with pytest.raises(Exception, match="needs a transcript"):
        client.predict("", None, "", 1.0, 4, 0, api_name="/speech")


def _get(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_no_file_outside_the_upload_and_output_folders_is_read_or_served(server):
    url, root = server
    wd = root / "wd"
    assert _get(f"{url}gradio_api/file={wd}/examples/talk.srt") == 200  # the examples are public
    for path in ("/etc/passwd", f"{wd}/files/../../server.log", f"{wd}/examples/../../server.log",
                 f"{wd}/examples/%2e%2e/%2e%2e/server.log", f"{root}/server.log"):
        assert _get(f"{url}gradio_api/file={path}") in (403, 404), path
    before = sorted((wd / "files").glob("out-*"))
    for path in ("/etc/passwd", f"{wd}/files/../../server.log"):
        body = json.dumps({"data": ["Hello.", {"path": path, "meta": {"_type": "gradio.FileData"}}, "", 1.0, 4, 0]})
        req = urllib.request.Request(f"{url}gradio_api/call/speech", body.encode(),
                                     {"Content-Type": "application/json"})
        event = json.load(urllib.request.urlopen(req, timeout=10))["event_id"]
        reply = urllib.request.urlopen(f"{url}gradio_api/call/speech/{event}", timeout=60).read().decode()
        assert "event: error" in reply and "root:" not in reply, path
    assert sorted((wd / "files").glob("out-*")) == before
