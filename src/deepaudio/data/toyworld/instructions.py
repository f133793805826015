"""Instructions for toy-world clips, in every task class, with the clip's own transcript.

Phrasing templates and their held-out subset come from the shared instruction corpus
(``deepaudio.data.instructions``) so the router sees one inventory everywhere: train and validation
clips use the training templates, test clips only the held-out ones. What this module adds is the
scene: the video is named after what is in it ("the bouncing balls", "the talking cartoon"), and the
transcript is always the clip's real sentence. Noise (case, typos, spacing, punctuation) touches the
instruction words only; the quoted transcript stays exact because it is what must be spoken.
"""

from __future__ import annotations

import random

from deepaudio.data import instructions as corpus

SCENE_WORDS = {
    "bounce": ["the bouncing balls", "this clip of falling blocks", "the bouncing shapes", "this animation",
               "the clip with the balls", "these colliding objects", "this video"],
    "hum": ["the moving cars", "this clip of the engines", "the driving vehicles", "this animation", "the video",
            "the little cars"],
    "silent": ["the floating shapes", "this calm clip", "the gliding blocks", "this animation", "the video"],
    "voiceover": ["this clip", "the video", "this animation", "the scene"],
    "talk": ["the talking face", "this cartoon head", "the speaker", "this talking-head clip", "the video"],
    "dialogue": ["the two faces", "this conversation", "the cartoon pair", "the video", "this scene"],
    "dub": ["the talking face", "this cartoon", "the scene with the speaker", "the video", "this clip"],
}
SOUND_WORDS = ["ambient sound", "sound effects", "foley", "the impact sounds", "background audio", "ambience",
               "the noises", "realistic sound"]
SPEECH_WORDS = ["speech", "a voice", "the line", "the words", "dialogue", "a voice line"]
POLITE = ["", "please ", "can you ", "could you ", "kindly ", "I'd like you to ", "pls "]
QUOTES = ('"{}"', "\u201c{}\u201d", "'{}'", '"{}"', "\u00ab{}\u00bb")
CONNECT = (' saying "{}"', ': "{}"', ' with the line "{}"', ' - the words are \u201c{}\u201d', " (text: '{}')")


def _case(text: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.12:
        return text.upper()
    if r < 0.3:
        return text.lower()
    if r < 0.38:
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
    return text[:1].upper() + text[1:]


def _typos(text: str, rng: random.Random, rate: float) -> str:
    out: list[str] = []
    for c in text:
        if c.isalpha() and rng.random() < rate:
            op = rng.randrange(4)
            if op == 0:
                continue  # dropped letter
            if op == 1:
                out.append(c + c)  # doubled
                continue
            if op == 2 and out and out[-1].isalpha():
                out[-1], c = c, out[-1]  # swapped with the previous letter
            else:
                c = rng.choice("qwertyuiopasdfghjklzxcvbnm")  # a neighbouring key, roughly
        out.append(c)
    return "".join(out)


def make_instruction(task: str, kind: str, transcript: str | None, split: str, rng: random.Random,
                     typo_rate: float = 0.03) -> dict:
    """One instruction for a clip: ``{"instruction", "task", "transcript", "template"}``.

    ``transcript`` is None for ``v2a`` and required for the speech tasks.
    """
    if (task == "v2a") != (transcript is None):
        raise ValueError(f"task {task} {'takes no' if task == 'v2a' else 'needs a'} transcript")
    pool = corpus.split_templates()[task]["test" if split == "test" else "train"]
    ti = rng.choice(pool)
    tpl = corpus.templates(task)[ti]
    text = tpl.format(v=rng.choice(SCENE_WORDS[kind]), s=rng.choice(SOUND_WORDS), p=rng.choice(SPEECH_WORDS),
                      q=rng.choice(POLITE), t="\x00")
    if transcript is not None and "\x00" not in text:
        text += rng.choice(CONNECT).replace('"{}"', "\x00").replace("\u201c{}\u201d", "\x00").replace("'{}'", "\x00")
    text = " ".join(text.split())
    text = _case(text, rng)
    if rng.random() < 0.5:
        text = _typos(text, rng, typo_rate)
    if rng.random() < 0.3:
        text = text.rstrip(".!?") + rng.choice([".", "!", "", " ", "..", "?"])
    if transcript is not None:
        text = text.replace("\x00", rng.choice(QUOTES).format(transcript))
    else:
        text = text.replace("\x00", "")
    return {"instruction": text.strip(), "task": task, "transcript": transcript or "", "template": f"{task}:{ti}"}
