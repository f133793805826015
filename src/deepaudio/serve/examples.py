"""Example inputs for every tab, made at start-up from the bundled default's own world.

Nothing large ships in the package: the toy world (``data.toyworld``, via ``pipelines.demo.make_clips``)
renders a bouncing-objects clip, a talking face and a voice-over scene from seed 0 (about 3 s on two
cores, the voices cached on disk), the talking face's true utterance becomes an SRT file, the
voice-over scene's true sound track is the "track to clean", and the bundled default voice is the
reference. The same seed gives the same files on every start.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from deepaudio.io.srt import Cue, write_srt


@dataclass
class Examples:
    """Rows of example inputs per tab, in the order of that tab's input components."""

    sound: list[list] = field(default_factory=list)
    speech: list[list] = field(default_factory=list)
    dub: list[list] = field(default_factory=list)
    instruction: list[list] = field(default_factory=list)
    remove: list[list] = field(default_factory=list)


def make_examples(folder: str | Path, cache_dir: str | Path | None = None) -> Examples:
    """Write the example media into ``folder`` and return the rows (a tab whose media cannot be made
    here, e.g. without flite/espeak-ng, gets none; the default-voice Speech examples always exist)."""
    from deepaudio.assets import default_voice
    from deepaudio.errors import DeepAudioError
    from deepaudio.io.audio import save_audio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ex = Examples()
    try:
        voice = default_voice()
        ref = Path(shutil.copy(voice.audio, folder / f"default_voice{voice.audio.suffix}"))
        ex.speech = [["Good morning! The kettle is on.", None, "", 1.0, 32, 0],
                     ["The boats came into the harbour at dawn.", str(ref), voice.text, 1.0, 32, 0]]
    except DeepAudioError:
        ref = None
    try:
        from deepaudio.pipelines.demo import DemoSettings, make_clips

        clips = {c.name: c for c in make_clips(folder, DemoSettings(), cache_dir)}
    except DeepAudioError:
        return ex
    bounce, talk, voiceover = clips["bounce"], clips["talk"], clips["voiceover"]
    ex.sound = [[str(bounce.video), "", "", 25, None, 42]]
    utt = talk.truth["speech"]
    srt = write_srt(folder / "talk.srt", [Cue(k + 1, u["start"], u["end"], u["text"]) for k, u in enumerate(utt)])
    ex.dub = [[str(talk.video), talk.truth["transcript"], None, None, "", "lips"],
              [str(talk.video), "", str(srt), None, "", "lips"]]
    ex.instruction = [[str(voiceover.video), f'Dub this clip saying "{voiceover.truth["transcript"]}"', None],
                      [str(bounce.video), "Add the sound of the bouncing objects", None],
                      [None, 'Read this aloud: "good morning"', None]]
    track = save_audio(folder / "voiceover_track.wav", voiceover.clip.mix[None], voiceover.truth["sr_speech"])
    ex.remove = [[str(voiceover.video), str(track)], [str(bounce.video), None]]
    return ex
