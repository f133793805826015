"""``deepaudio serve``: a Gradio web app and HTTP API over one loaded DeepAudio pipeline.

``handlers`` holds what each tab does (plain functions, no Gradio), ``app`` the page and its queue,
``examples`` the example media made at start-up from the toy world.
"""
