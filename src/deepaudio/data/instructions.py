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

# {v} video, {s} sound words, {p} speech words, {o} a voice-over, {t} a quoted transcript (may be empty)
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
    # DeepSound-V1: speech no one on screen produces (narration, commentary) is taken out of the sound.
    # {o} names that voice (_VOICE_OVER). The gate's held-out test phrasings (benchmarks/data/
    # router_heldout.csv) were written apart from these and never occur in the training corpus.
    "think": [
        "{q}take {o} out of {v}", "{q}strip {o} from {v}", "{q}cut {o} out of the audio of {v}",
        "{q}erase {o} but keep {s}", "{q}delete {o} from the sound of {v}", "{q}filter {o} out of {v}",
        "{q}make the audio of {v} free of {o}", "{q}separate out {o} and keep the rest of the sound",
        "{q}I want {v} without {o}, keep {s}", "{q}drop {o}, leave {s} alone", "{q}silence {o} in {v}",
        "{q}get {o} out of {v}", "{q}eliminate {o} from {v}", "{q}scrub {o} out of the sound track",
        "the audio of {v} has {o} on it, {q}clean that up", "{q}detect and remove {o} in {v}",
        "{q}remove {o} from {v} and keep {s}", "{q}find any off-screen speech in {v} and take it out",
        "{q}generate {s} for {v} step by step and check it for voice-over",
        "{q}think step by step: make audio for {v}, then remove any narration",
        "there is {o} over {v}, {q}make it go away", "{q}suppress {o} in {v}", "{q}{o} over {v} has to go",
        "{q}keep {s} but lose {o}", "{q}de-voice the sound of {v}", "{q}make {v} voice-over free",
        "{q}I need {v} without the person speaking off screen", "{q}the sound of {v} should have no narration",
        "{q}extract {s} from {v} without {o}", "{q}wipe {o} off {v}", "{q}no more {o} on {v}, just {s}",
        "{q}scrap {o}, keep everything else", "{q}clean up {v}: {o} must not be heard",
        "{q}is there a voice-over in {v}? if so, take it out", "{q}keep only the sounds of the scene, cut {o}",
    ],
}

_VOICE_OVER = ["the narration", "the commentary", "the off-screen voice", "the announcer", "the voiceover track",
               "any voice-over", "the narrating voice", "the speech on top", "the voice on top", "the chatter",
               "the reporter's voice", "the host's narration", "the spoken commentary", "the voices",
               "the presenter's off-camera voice", "the off-camera speaker", "the people chatting", "the VO",
               "that voice over the picture", "the sportscaster", "the guide's explanations", "the speech",
               "the documentary narration", "whoever is talking over it", "the play-by-play"]

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

# Compositional phrasings (training only). A request is built from what it asks for: a sound request,
# a speech request with or without a video to time it to, and modifiers that add or exclude the
# ambience, the speech or the picture. The templates above are whole sentences; these teach the gate
# the factors that decide the class (video? speech? ambience?) in many word orders.
_CHAR = ["the speaker", "the character", "the person", "the face", "the actor", "the woman", "the man",
         "the presenter", "the guy on screen", "the talking head", "the host", "the kid", "the narrator on camera"]
_SOUND_REQ = [
    "add {s} to {v}", "generate {s} for {v}", "make {v} sound right", "create {s} for {v}", "{s} for {v}",
    "give {v} some {s}", "foley {v}", "I need {s} on {v}", "produce the sound effects for {v}",
    "make the noises in {v}", "what does {v} sound like", "audio for {v}", "sound for {v}",
    "fill the silence in {v}", "let me hear {v}", "generate the sounds the objects make in {v}",
    "make {v} audible", "put some {s} on {v}", "design the sound of {v}", "match {s} to the action in {v}",
    "give {v} a sound track", "synthesise {s} that fit {v}", "add the missing sounds to {v}",
]
_NO_SPEECH = [
    "no speech", "no talking", "no voices", "without dialogue", "nobody speaks", "no narration", "no words",
    "nothing spoken", "without any voice", "environment only", "just the sounds", "no one talks",
    "leave out any speech", "don't add a voice", "no vocals", "keep it wordless", "sounds only",
]
_TTS_REQ = [
    "say {t}", "read {t}", "read {t} aloud", "speak {t}", "turn {t} into speech", "generate {p}: {t}",
    "synthesize {t}", "voice the sentence {t}", "I need {t} spoken", "text to speech {t}", "record {t}",
    "make an audio of {t}", "pronounce {t}", "narrate {t}", "speak the words {t}", "can the voice say {t}",
    "let me hear {t} spoken", "read this text: {t}", "produce {p} saying {t}", "speak out {t}",
    "create a spoken clip of {t}", "an mp3 of someone saying {t}", "convert this sentence to a voice: {t}",
]
_VOICE_REF = ["", "", "in my voice", "with the reference speaker", "like the sample", "using the prompt voice",
              "in the voice of the recording", "with the cloned voice", "in the same voice as my audio"]
_NO_VIDEO = ["no video", "audio only", "without the video", "ignore the clip", "no picture needed", "just audio",
             "as a plain audio file", "no sync needed", "not for a video", "no lip sync", "there is no video",
             "standalone speech"]
_SPEECH_ON_VIDEO = [
    "make {c} in {v} say {t}", "have {c} in {v} say {t}", "lip-sync {t} to {v}", "lip sync {v} with {t}",
    "sync {p} to the mouth in {v}: {t}", "voice {c} in {v}: {t}", "give {c} in {v} the line {t}",
    "add {p} to {v} saying {t}", "make {v} speak {t}", "put {t} into the mouth of {c} in {v}",
    "generate {p} for {c} in {v}, matching the lips: {t}", "time {p} to {v}: {t}", "let {c} in {v} speak {t}",
    "add a voice to {v} that says {t}", "create speech for {v} in sync with the mouth: {t}",
    "{c} in {v} should say {t}", "make the lips in {v} say {t}", "speech for {v}: {t}", "give {v} a voice: {t}",
    "match {p} to the mouth movements of {c}: {t}", "make {c} talk in {v}: {t}", "synchronise {t} with {v}",
    "voice {v} with {t}, in sync", "make the mouth in {v} move to {t}",
    # no transcript in the instruction (it comes with --text)
    "add {p} to {v}", "make {c} in {v} talk", "give {c} in {v} a voice", "produce {p} matching the lips in {v}",
    "generate {p} for {v}, in time with the mouth", "voice {c} in {v}", "make {v} speak", "lip-sync {v}",
    "create {p} for {c} in {v}", "let {c} in {v} speak the text", "put {p} on {v}, synced to the face",
]
_WITH_AMBIENCE = [
    "with {s}", "and add {s}", "plus {s}", "over {s}", "keep the background", "together with {s}",
    "mixed with {s}", "and the scene's sounds too", "with the ambience", "and keep the ambient noise",
    "including {s}", "as well as {s}", "along with {s}", "on top of {s}", "and also generate {s}",
    "and fill in the background", "with the environment audible", "and the background noise as well",
    "full mix with {s}", "and do the foley too", "the whole sound track", "with everything else too",
    "{p} plus {s}", "with the sounds of the scene", "and the effects", "with the room tone kept",
]
_NO_AMBIENCE = [
    "speech only", "voice only", "no {s}", "without {s}", "just the voice", "nothing else", "keep it dry",
    "dry voice", "no background", "leave out the background", "only the speech", "no foley", "isolated voice",
    "clean voice, no effects", "skip the ambience", "I don't want {s}", "don't add {s}", "no other sounds",
    "only the dialogue track", "the voice stem alone", "without any background noise",
]
_THINK_VERB = ["take out", "strip out", "cut", "erase", "delete", "filter out", "eliminate", "drop", "silence",
               "scrub", "suppress", "wipe", "remove", "clean out", "edit out", "lose", "pull out", "subtract"]
_THINK_WHERE = ["", "", "from {v}", "of {v}", "in {v}", "from the audio", "from the sound track of {v}",
                "from the mix", "in the recording"]
_THINK_KEEP = ["", "", "keep {s}", "keep the rest", "but keep the background", "leave the other sounds",
               "keep the crowd noise", "the effects stay", "only the scene's sound should remain",
               "without touching {s}", "keep the music and effects", "step by step", "and check it worked"]
# v2s/dub phrasings that name a person but not the video (the person is on screen: timed speech).
_CHAR_ONLY = ["{c} should say {t}", "make {c} say {t}", "have {c} say {t}", "let {c} say {t}", "I want {c} to say {t}",
              "{c} says {t}", "{c} needs to say {t}", "get {c} to say {t}", "{c} should be saying {t}"]
# Short unquoted words a user may ask to be spoken ("say hello"); the transcript is then not masked.
_SHORT_WORDS = ["hello", "hey", "yes", "no", "thanks", "goodbye", "bye", "okay", "welcome", "cheers", "sorry",
                "good night", "hey there", "oops", "wow", "congratulations", "bonjour", "ciao"]
_SHORT_TTS = ["say {w}", "say {w} please", "just say {w}", "can you say {w}", "speak {w}", "say {w} in my voice",
              "read {w}", "say the word {w}", "voice {w}", "pronounce {w}"]

_DUB_REQ = [
    "dub {v}: {t}", "dub {v} with {t}", "make a dub of {v}: {t}", "a dubbed version of {v} saying {t}",
    "dub {c} in {v}: {t}", "do a full dub of {v}: {t}", "dub over {v} with {t}", "dub {v} in my voice: {t}",
    "dubbing for {v}: {t}", "redub {v} with the line {t}", "dub {v}", "dub {c} in {v}",
]


def _join(main: str, mod: str, rng: random.Random) -> str:
    if not mod:
        return main
    if rng.random() < 0.25:
        return rng.choice(["{m}: {x}", "{m}, {x}", "{m} - {x}"]).format(m=mod, x=main)
    return rng.choice(["{x}, {m}", "{x} {m}", "{x} - {m}", "{x}; {m}", "{x} ({m})", "{x}. {m}"]).format(m=mod, x=main)


def _compose(task: str, rng: random.Random) -> str:
    """One compositional phrasing of ``task`` (placeholders {q} {v} {s} {p} {t} as in the templates)."""
    c = rng.choice(_CHAR)
    if task == "think":
        main = "{q}" + " ".join(w for w in (rng.choice(_THINK_VERB), rng.choice(_VOICE_OVER),
                                            rng.choice(_THINK_WHERE)) if w)
        return _join(main, rng.choice(_THINK_KEEP), rng)
    if task == "tts" and rng.random() < 0.15:
        return "{q}" + rng.choice(_SHORT_TTS).replace("{w}", rng.choice(_SHORT_WORDS))
    if task in ("v2s", "dub") and rng.random() < 0.2:
        main = _join("{q}" + rng.choice(_CHAR_ONLY), rng.choice(_VOICE_REF), rng)
        extra = rng.choice(_NO_AMBIENCE if task == "v2s" else _WITH_AMBIENCE) if rng.random() < 0.6 else ""
        return _join(main, extra, rng).replace("{c}", c)
    if task == "v2a":
        text = _join("{q}" + rng.choice(_SOUND_REQ), rng.choice(_NO_SPEECH) if rng.random() < 0.6 else "", rng)
    elif task == "tts":
        main = _join("{q}" + rng.choice(_TTS_REQ), rng.choice(_VOICE_REF), rng)
        text = _join(main, rng.choice(_NO_VIDEO) if rng.random() < 0.5 else "", rng)
    elif task == "v2s":
        main = "{q}" + rng.choice(_SPEECH_ON_VIDEO)
        text = _join(main, rng.choice(_NO_AMBIENCE) if rng.random() < 0.75 else "", rng)
    else:
        main = "{q}" + (rng.choice(_DUB_REQ) if rng.random() < 0.3 else rng.choice(_SPEECH_ON_VIDEO))
        text = _join(main, rng.choice(_WITH_AMBIENCE) if "dub" not in main or rng.random() < 0.5 else "", rng)
    return text.replace("{c}", c)


def generate(n: int, split: str = "train", seed: int = 0, sentences: list[str] | None = None,
             typo_rate: float = 0.02, held_out_every: int = 5, compose: float = 0.5) -> list[Instruction]:
    """``n`` instructions balanced over the task classes, from the templates of ``split``.

    In the train split a share ``compose`` of them are compositional phrasings (template id ``task:c``)
    instead; the test split is the held-out templates only.
    """
    if split not in ("train", "test"):
        raise ValueError("split must be 'train' or 'test'")
    rng = random.Random(f"{seed}-{split}")
    sentences = sentences or _DEFAULT_SENTENCES
    idx = split_templates(held_out_every)
    out = []
    for k in range(n):
        task = TASKS[k % len(TASKS)]
        if split == "train" and rng.random() < compose:
            ti, tpl = "c", _compose(task, rng)
        else:
            ti = rng.choice(idx[task][split])
            tpl = _TEMPLATES[task][ti]
        sentence = rng.choice(sentences)
        has_t = "{t}" in tpl
        # Case changes and typos touch the instruction words only; the quoted transcript stays exact
        # (it is what will be spoken), so it goes in after them through a placeholder.
        text = tpl.format(v=rng.choice(_VIDEO), s=rng.choice(_SOUND), p=rng.choice(_SPEECH), q=rng.choice(_PLEASE),
                          o=rng.choice(_VOICE_OVER), t="\x00" if has_t else "")
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
