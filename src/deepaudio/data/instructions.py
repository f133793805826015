"""A generated instruction corpus for training and testing the MoF gate (stage 3).

Each task class has many phrasing templates built from interchangeable parts (how the video is
called, how sound or speech is named, politeness, word order). Templates are split once: every
``held_out_every``-th template of a class is reserved for testing, so test accuracy measures
generalisation to phrasings the gate never saw. Noise makes the corpus look typed by people: random
case, typos (swapped, dropped, doubled letters) and quoted transcripts. Everything is deterministic
given the seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from deepaudio.errors import InputError
from deepaudio.models.gate import TASKS

_VIDEO = ["this clip", "the video", "this video", "the footage", "this scene", "my clip", "the movie", "this shot",
          "the animation", "this recording", "the cartoon", "this short"]
_SOUND = ["ambient sound", "sound effects", "foley", "background audio", "the soundscape", "ambience",
          "environmental sound", "natural sounds", "the sounds of the scene", "audio effects", "background noise",
          "realistic sound"]
_SPEECH = ["speech", "a voice", "dialogue", "spoken lines", "the line", "the words", "a voice line"]
_PLEASE = ["", "please ", "can you ", "could you ", "I want you to ", "kindly ", "I'd like you to "]

# {v} video, {s} sound words, {p} speech words, {t} a quoted transcript (may be empty for some classes)
_TEMPLATES: dict[str, list[str]] = {
    "v2a": [
        "{q}add {s} to {v}", "{q}generate {s} for {v}", "make {v} sound real with {s} only",
        "{s} for {v}, no talking", "{q}create {s} that match {v}", "give {v} {s} but no speech",
        "sonify {v}", "what would {v} sound like? generate it", "{q}produce {s} synchronised with {v}",
        "no voices, just {s} for {v}", "fill {v} with {s}", "{q}do the foley for {v}",
        "{v} is silent, add {s}", "{q}make audio for {v} without any speech", "generate the sound track of {v}, "
        "no dialogue", "{q}synthesize {s} matching the motion in {v}", "{s} only please", "{q}score {v} with {s}",
        "I need {s} for {v}", "{q}add realistic noises to {v}", "{q}sound design {v}, nobody speaks",
        "{q}make {v} audible, environment only", "{q}generate audio from {v}", "video to audio for {v}",
        "{q}give me the sounds of {v}", "{q}let me hear what happens in {v}",
        "{q}add the noises the objects make in {v}",
        "{q}create an ambient track for {v}", "background sounds for {v} please, no voice",
        "{q}make {v} less silent with {s}", "{q}generate {s}; no words, no narration",
        "{q}synthesize the audio for {v}, nothing spoken", "{q}bring {v} to life with {s}",
        "{q}put {s} under {v}", "{q}I only want {s} for {v}", "{q}foley pass on {v}",
        "{q}make sound effects that follow the action in {v}", "{q}audio for {v}: {s} and no speech",
        "{q}generate matching ambience for {v}", "{q}produce the sound of {v} without people talking",
    ],
    "tts": [
        "{q}read this aloud: {t}", "{q}say {t}", "{q}turn this text into speech: {t}", "speak the text {t}",
        "{q}synthesize {p} saying {t}", "text to speech: {t}", "{q}read out {t} in my voice",
        "{q}generate {p} of {t}, no video needed", "{q}narrate {t}", "{q}voice this sentence: {t}",
        "{q}say {t} using the reference voice", "{q}make an audio clip of someone saying {t}",
        "just the {p}: {t}", "{q}convert {t} to audio", "{q}pronounce {t}", "{q}clone my voice and say {t}",
        "{q}record {t} as speech, ignore the picture", "{q}produce a spoken version of {t}",
        "{q}read the transcript {t}", "{q}speak {t} slowly and clearly", "tts {t}", "{q}voice over text: {t}",
        "{q}speak this: {t}", "{q}I need an audio file of {t} read aloud", "{q}utter {t}",
        "{q}make my voice say {t}", "{q}generate {p} that says {t}", "{q}read {t} in the voice of the sample",
        "{q}speech synthesis for {t}", "{q}let the reference speaker read {t}", "{q}say it out loud: {t}",
        "{q}create a recording of {t}", "{q}text-to-speech this sentence: {t}", "{q}speak {t}, audio only",
        "{q}read the following line aloud {t}", "{q}give me {p} for the sentence {t}",
        "{q}vocalize {t}", "{q}have the voice from my recording say {t}", "{q}just speak {t}, no video",
        "{q}turn {t} into a voice message",
    ],
    "v2s": [
        "{q}make the speaker in {v} say {t}", "{q}generate {p} timed to the lips in {v}: {t}",
        "{q}lip-sync {t} to {v}, speech only", "{q}give the character in {v} {p}, no background sound",
        "{q}time {p} to the mouth movements in {v}", "speech for {v} synced to the picture, no ambience: {t}",
        "{q}make {v} talk, only the voice: {t}", "{q}synchronise {p} with {v} without {s}",
        "{q}voice the person in {v} with {t}, keep it dry", "{q}add {p} aligned to {v} but nothing else",
        "{q}speech only, matching the timing of {v}: {t}", "{q}let the face in {v} speak {t}",
        "{q}generate {p} that follows the mouth in {v}", "video to speech for {v}: {t}",
        "{q}put {t} in the character's mouth in {v}, no sound effects", "{q}match {p} to the lips, no foley",
        "{q}make the talking head in {v} say {t}", "{q}create isolated {p} for {v} in sync",
        "{q}give the face in {v} a voice saying {t}, nothing else", "{q}sync {t} to the lips in {v}",
        "{q}voice-only track for {v}: {t}", "{q}make the mouth in {v} speak {t} without background",
        "{q}speech timed to {v}, no sound effects: {t}", "{q}have the actor in {v} say {t}, voice only",
        "{q}add a clean voice track to {v} saying {t}", "{q}generate the character's lines for {v}, dry",
        "{q}lipsync speech for {v} with no ambience", "{q}just the dialogue for {v}, timed to the picture: {t}",
        "{q}make the person on screen in {v} speak {t}", "{q}produce speech that matches the lips of {v}",
        "{q}only the voice, in time with {v}: {t}", "{q}speaking track for {v} without {s}: {t}",
        "{q}animate the mouth in {v} with {p}: {t}, no background", "{q}create dialogue for {v}, speech only",
    ],
    "dub": [
        "{q}dub {v} saying {t}", "{q}dub {v}: {t}", "{q}add {p} and {s} to {v}: {t}",
        "{q}give {v} a full sound track with dialogue: {t}", "{q}make {v} complete: {p} plus {s}",
        "{q}dub {v} with {t} and keep the background", "{q}add a voice saying {t} and {s} to {v}",
        "{q}create the whole audio of {v}, speech and {s}", "{q}dub the character in {v} and add foley",
        "{q}mix {p} over {s} for {v}: {t}", "full dub of {v} with ambience: {t}",
        "{q}let the person in {v} say {t} with the scene's sounds", "{q}dubbing with background for {v}: {t}",
        "{q}do both: {s} and {p} for {v}", "{q}replace the audio of {v} with {t} over {s}",
        "{q}produce a dubbed version of {v} saying {t}", "{q}voice and {s} for {v}, lip synced: {t}",
        "{q}generate dialogue and {s} together for {v}", "{q}dub this: {t}", "{q}dub {v} in my voice: {t}",
        "{q}make the speaker in {v} say {t} and add {s}", "{q}speech plus {s} for {v}: {t}",
        "{q}full audio for {v}: the line {t} with {s}", "{q}dub {v} and keep the ambience",
        "{q}voice the character in {v} with {t}, with background noise", "{q}a dub of {v} with {s}",
        "{q}complete sound track for {v} including speech: {t}", "{q}put {p} and {s} on {v}",
        "{q}lip-synced {p} mixed with {s} for {v}", "{q}dub {v}, speech over the sounds of the scene",
        "{q}give {v} both a voice saying {t} and {s}", "{q}add narration-free dialogue and foley to {v}: {t}",
        "{q}everything for {v}: dialogue, ambience, effects: {t}", "{q}dub the clip with {t} over {s}",
    ],
}

_DEFAULT_SENTENCES = [
    "The train leaves at nine tomorrow morning.", "I never said she stole my money.",
    "Could you pass me the salt, please?", "We should be home before it gets dark.",
    "That was the best soup I have ever tasted.", "Turn left at the second traffic light.",
    "My brother plays the guitar every evening.", "It is raining again in the mountains.",
    "Please close the window when you leave.", "The meeting has been moved to Friday.",
    "Hello there, how are you today?", "Watch out, the floor is wet!",
]


@dataclass(frozen=True)
class Instruction:
    text: str
    task: str
    transcript: str | None
    template_id: str


def templates(task: str) -> list[str]:
    return list(_TEMPLATES[task])


def split_templates(held_out_every: int = 5) -> dict[str, dict[str, list[int]]]:
    """Per task: template indices for 'train' and 'test' (every n-th template is held out)."""
    out = {}
    for task, tpl in _TEMPLATES.items():
        test = [i for i in range(len(tpl)) if i % held_out_every == held_out_every - 1]
        out[task] = {"train": [i for i in range(len(tpl)) if i not in test], "test": test}
    return out


def _typo(text: str, rng: random.Random, rate: float) -> str:
    chars = list(text)
    i = 0
    while i < len(chars):
        if chars[i].isalpha() and rng.random() < rate:
            op = rng.choice(("swap", "drop", "double"))
            if op == "swap" and i + 1 < len(chars) and chars[i + 1].isalpha():
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
                i += 1
            elif op == "drop":
                del chars[i]
                continue
            else:
                chars.insert(i, chars[i])
                i += 1
        i += 1
    return "".join(chars)


def _case(text: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        return text.upper()
    if r < 0.3:
        return text.lower()
    if r < 0.4:
        return text.title()
    return text[:1].upper() + text[1:]


def _quote(sentence: str, rng: random.Random) -> str:
    return rng.choice(['"{}"', "\u201c{}\u201d", "'{}'", '"{}"']).format(sentence)


def generate(n: int, split: str = "train", seed: int = 0, sentences: list[str] | None = None,
             typo_rate: float = 0.02, held_out_every: int = 5) -> list[Instruction]:
    """``n`` instructions balanced over the task classes, from the templates of ``split``."""
    if split not in ("train", "test"):
        raise ValueError("split must be 'train' or 'test'")
    rng = random.Random(f"{seed}-{split}")
    sentences = sentences or _DEFAULT_SENTENCES
    idx = split_templates(held_out_every)
    out = []
    for k in range(n):
        task = TASKS[k % len(TASKS)]
        ti = rng.choice(idx[task][split])
        tpl = _TEMPLATES[task][ti]
        sentence = rng.choice(sentences)
        has_t = "{t}" in tpl
        # Case changes and typos touch the instruction words only; the quoted transcript stays exact
        # (it is what will be spoken), so it goes in after them through a placeholder.
        text = tpl.format(v=rng.choice(_VIDEO), s=rng.choice(_SOUND), p=rng.choice(_SPEECH), q=rng.choice(_PLEASE),
                          t="\x00" if has_t else "")
        text = _case(" ".join(text.split()), rng)
        if typo_rate > 0 and rng.random() < 0.5:
            text = _typo(text, rng, typo_rate * 3)
        if has_t:
            text = text.replace("\x00", _quote(sentence, rng))
        out.append(Instruction(text, task, sentence if has_t else None, f"{task}:{ti}"))
    return out


def read_instructions(path: str | Path) -> list[Instruction]:
    """User instructions from JSONL (see :func:`read_jsonl`) or CSV with columns instruction, task[, transcript]
    (the toy world's ``router_*.csv``)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return read_jsonl(path)
    import csv

    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise InputError(f"cannot read instruction file ({exc.strerror})", path) from exc
    items = []
    for no, row in enumerate(rows, 2):
        text, task = (row.get("instruction") or "").strip(), (row.get("task") or "").strip()
        if not text or task not in TASKS:
            raise InputError(f"line {no}: need a non-empty 'instruction' and a 'task' in {', '.join(TASKS)}", path)
        items.append(Instruction(text, task, row.get("transcript") or None, "user"))
    return items


def read_jsonl(path: str | Path) -> list[Instruction]:
    """User instructions, one JSON object a line: {"instruction": ..., "task": ..., "transcript": ...?}."""
    path = Path(path)
    items = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read instruction file ({exc.strerror})", path) from exc
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            text, task = str(obj["instruction"]), str(obj["task"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"line {no}: expected {{\"instruction\": ..., \"task\": ...}} ({exc})", path) from exc
        if task not in TASKS:
            raise InputError(f"line {no}: unknown task {task!r}", path, f"use one of {', '.join(TASKS)}")
        items.append(Instruction(text, task, obj.get("transcript"), "user"))
    return items
