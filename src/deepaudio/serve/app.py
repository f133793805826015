"""The Gradio page and HTTP API of ``deepaudio serve``: five tabs over one loaded pipeline.

Every tab is one queued endpoint (``api_name`` = the handler's name), so the page and
``gradio_client.Client(url).predict(..., api_name="/speech")`` run the same code. The queue shows
each visitor's position and the handler's progress; ``--concurrency`` requests run at once, the rest
wait in order. A :class:`DeepAudioError` becomes the CLI's one-line message in the page; any other
error is logged with its traceback and shown as one line, and the server goes on serving.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import os

from deepaudio.errors import DeepAudioError
from deepaudio.serve import handlers
from deepaudio.serve.examples import Examples

log = logging.getLogger("deepaudio.serve")

INTRO = ("**deepaudio**: sound for silent video (V2A), speech in a reference voice (TTS), dubbing timed to the "
         "picture (V2S), an instruction gate that picks the task, and voice-over removal (DeepSound-V1). "
         "Click an example to hear a result; requests wait in one queue (your place and progress show on the "
         "outputs). The bundled default models are small and trained on a toy world: expect toy quality.")
TIMINGS = ["v2a", "lips", "mix"]
MODEL_QUEUE = "deepaudio-model"


def endpoint(session: handlers.Session, handler):
    """``handler(session, *inputs, progress=...)`` as a Gradio function: same parameter names (Gradio
    reads them for the API page), a ``gr.Progress`` that also follows tqdm bars, errors as one line."""
    import gradio as gr

    def run(*args):
        *values, progress = args
        try:  # on the session's model threads; the context carries Gradio's progress tracking along
            return session.executor.submit(contextvars.copy_context().run, handler, session, *values,
                                           progress=progress).result()
        except Exception as exc:  # noqa: BLE001 - every failure must reach the page as one line
            if not isinstance(exc, DeepAudioError):
                log.exception("request failed in %s", handler.__name__)
            raise gr.Error(session.message(exc), print_exception=False) from None

    params = [p for name, p in inspect.signature(handler).parameters.items() if name not in ("s", "progress")]
    progress = inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                 default=gr.Progress(track_tqdm=True))
    run.__signature__ = inspect.Signature([*params, progress])
    run.__name__, run.__doc__ = handler.__name__, handler.__doc__
    run.uses_model = True
    return run


def _examples(rows: list[list], inputs: list, outputs: list, fn, label: str) -> None:
    import gradio as gr

    if rows:
        gr.Examples(rows, inputs, outputs, fn=fn, run_on_click=True, cache_examples=False, label=label)


def _sound_tab(session, rows) -> None:
    import gradio as gr

    with gr.Row():
        with gr.Column():
            video = gr.Video(label="video", sources=["upload"], format=None)
            prompt = gr.Textbox(label="prompt (what the sound should be; optional)")
            negative = gr.Textbox(label="negative prompt (what it should not contain; optional)")
            with gr.Accordion("settings", open=False):
                steps = gr.Slider(1, 100, value=25, step=1, label="steps (Euler)")
                cfg = gr.Number(value=None, label="guidance (empty: the model's own)")
                seed = gr.Number(value=42, precision=0, label="seed")
            go = gr.Button("Generate sound", variant="primary")
        with gr.Column():
            out_video = gr.Video(label="video with the generated sound")
            out_audio = gr.Audio(label="generated sound", type="filepath")
            picture = gr.Image(label="frames and spectrogram", type="filepath", show_label=False)
            status = gr.Textbox(label="status", interactive=False)
    fn = endpoint(session, handlers.sound_for_video)
    inputs, outputs = [video, prompt, negative, steps, cfg, seed], [out_video, out_audio, picture, status]
    go.click(fn, inputs, outputs, api_name="sound_for_video")
    _examples(rows, inputs, outputs, fn, "examples (a toy-world clip)")


def _speech_tab(session, rows) -> None:
    import gradio as gr

    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label="text to speak", lines=3, elem_id="speech-text")
            ref = gr.Audio(label="reference voice (upload or record 3-15 s; empty: the bundled default voice)",
                           sources=["upload", "microphone"], type="filepath", format=None, elem_id="speech-ref")
            ref_text = gr.Textbox(label="what the reference says (optional)")
            with gr.Accordion("settings", open=False):
                speed = gr.Slider(0.5, 2.0, value=1.0, step=0.05, label="speed")
                nfe = gr.Slider(4, 64, value=7, step=1, label="NFE (ODE steps; EPSS at 5-7, 10, 12, 16)")
                seed = gr.Number(value=0, precision=0, label="seed")
            go = gr.Button("Speak", variant="primary")
        with gr.Column():
            out_audio = gr.Audio(label="speech", type="filepath", elem_id="speech-out")
            picture = gr.Image(label="spectrograms", type="filepath", show_label=False)
            status = gr.Textbox(label="status", interactive=False, elem_id="speech-status")
    fn = endpoint(session, handlers.speech)
    inputs, outputs = [text, ref, ref_text, speed, nfe, seed], [out_audio, picture, status]
    go.click(fn, inputs, outputs, api_name="speech")
    _examples(rows, inputs, outputs, fn, "examples (the bundled default voice)")


def _dub_tab(session, rows) -> None:
    import gradio as gr

    with gr.Row():
        with gr.Column():
            video = gr.Video(label="video", sources=["upload"], format=None, elem_id="dub-video")
            text = gr.Textbox(label="transcript spoken over the whole clip")
            srt = gr.File(label="... or subtitles (.srt): every line in its own window", file_types=[".srt"],
                          type="filepath", elem_id="dub-srt")
            ref = gr.Audio(label="reference voice (empty: the bundled default voice)", sources=["upload", "microphone"],
                           type="filepath", format=None)
            ref_text = gr.Textbox(label="what the reference says (optional)")
            timing = gr.Radio(TIMINGS, value="v2a", label="timing: V2A energy, lips, or their mean")
            with gr.Accordion("settings", open=False):
                seed = gr.Number(value=0, precision=0, label="seed")
                steps = gr.Slider(1, 100, value=25, step=1, label="V2A steps")
                nfe = gr.Slider(4, 64, value=32, step=1, label="TTS NFE")
            go = gr.Button("Dub", variant="primary", elem_id="dub-go")
        with gr.Column():
            out_video = gr.Video(label="dubbed video (tracks: mix, speech, ambience)")
            tracks = gr.File(label="tracks and sidecar", file_count="multiple")
            picture = gr.Image(label="timing picture", type="filepath", show_label=False)
            status = gr.Textbox(label="status", interactive=False, lines=3)
    fn = endpoint(session, handlers.dub)
    inputs = [video, text, srt, ref, ref_text, timing, seed, steps, nfe]
    outputs = [out_video, tracks, picture, status]
    go.click(fn, inputs, outputs, api_name="dub")
    _examples(rows, inputs[:6], outputs, fn, "examples (a toy-world talking face)")


def _instruction_tab(session, rows) -> None:
    import gradio as gr

    with gr.Row():
        with gr.Column():
            video = gr.Video(label="video (not needed for plain speech)", sources=["upload"], format=None)
            text = gr.Textbox(label="instruction", placeholder='Dub this clip saying "hello there"')
            ref = gr.Audio(label="reference voice (empty: the bundled default voice)", sources=["upload", "microphone"],
                           type="filepath", format=None)
            seed = gr.Number(value=0, precision=0, label="seed")
            go = gr.Button("Run", variant="primary")
        with gr.Column():
            choice = gr.Label(label="the gate's choice", num_top_classes=4)
            out_video = gr.Video(label="result video")
            out_audio = gr.Audio(label="result sound", type="filepath")
            status = gr.Textbox(label="status", interactive=False, lines=3)
    fn = endpoint(session, handlers.instruction)
    inputs, outputs = [video, text, ref, seed], [choice, out_video, out_audio, status]
    go.click(fn, inputs, outputs, api_name="instruction")
    _examples(rows, inputs[:3], outputs, fn, "examples")


def _remove_tab(session, rows) -> None:
    import gradio as gr

    with gr.Row():
        with gr.Column():
            video = gr.Video(label="video", sources=["upload"], format=None)
            track = gr.Audio(label="sound track to clean (optional: else generated from the video)",
                             sources=["upload"], type="filepath", format=None)
            seed = gr.Number(value=42, precision=0, label="seed")
            go = gr.Button("Remove voice-over", variant="primary")
        with gr.Column():
            out_audio = gr.Audio(label="cleaned sound", type="filepath")
            out_video = gr.Video(label="video with the cleaned sound")
            trace = gr.Markdown(label="step by step")
            trace_file = gr.File(label="trace (JSON)")
    fn = endpoint(session, handlers.remove_voice_over)
    inputs, outputs = [video, track, seed], [out_audio, out_video, trace, trace_file]
    go.click(fn, inputs, outputs, api_name="remove_voice_over")
    _examples(rows, inputs[:2], outputs, fn, "examples (a toy-world voice-over scene with its true track)")


def build_app(session: handlers.Session, examples: Examples | None = None, title: str = "deepaudio"):
    """The Blocks app; uploads and results live in ``session.files`` (set as Gradio's cache folder)."""
    os.environ["GRADIO_TEMP_DIR"] = str(session.files)  # read by every component at creation
    import gradio as gr

    ex = examples or Examples()
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(600, 3600)) as app:
        gr.Markdown(INTRO)
        with gr.Tabs():
            for name, tab, rows in (("Sound for a video", _sound_tab, ex.sound), ("Speech", _speech_tab, ex.speech),
                                    ("Dub", _dub_tab, ex.dub), ("Instruction", _instruction_tab, ex.instruction),
                                    ("Remove voice-over", _remove_tab, ex.remove)):
                with gr.Tab(name):
                    tab(session, rows)
    # Gradio gives every event its own concurrency group, so two tabs would run at once; all events that use
    # the model (buttons and example clicks) share one group, so --concurrency bounds them together, in order.
    for block_fn in app.fns.values():
        if getattr(block_fn.fn, "uses_model", False):
            block_fn.concurrency_id = MODEL_QUEUE
    return app


def launch(app, session: handlers.Session, host: str = "127.0.0.1", port: int = 7860, concurrency: int = 1,
           max_queue: int = 64, block: bool = True):
    """Queue, then serve on ``host:port``; only the upload/output and examples folders are readable."""
    app.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    return app.launch(server_name=host, server_port=port, max_file_size=f"{session.limits.max_upload_mb:g}mb",
                      allowed_paths=[str(session.examples)], show_error=False, quiet=False,
                      prevent_thread_lock=not block, footer_links=["api"], run_history=False)
