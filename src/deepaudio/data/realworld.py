"""Evaluation clips that are not the toy world: real photographs, real read speech, synthesised music.

The toy world's faces are drawn, so a detector tuned there proves nothing about footage from a camera.
These clips are built from material that installs offline from package registries:

* photographs: the ``data`` folder of the scikit-image wheel (``pip install --target DIR scikit-image``;
  not a deepaudio dependency). Faces: ``astronaut.png`` (NASA, public domain) and the 100 face crops
  of ``lfw_subset.npy`` (Labeled Faces in the Wild, 25 x 25 grey, upscaled: blurry, but real people).
  Scenes without a person: grass, gravel, brick, coffee, rocket, chelsea (a cat), ...;
* read speech: Debian ``pocketsphinx-testdata`` (LibriVox "Sense and Sensibility" excerpts, the
  "cards" recordings, AN4/TIDIGITS raw files) plus the toy world's espeak-ng / flite voices;
* music: harmonic tones, chords and plucked, bowed or sung-vowel notes with rhythm (:func:`music_like`),
  no speech.

Kinds (``voice_over`` is the truth ``think`` should find):

* ``noface``: a ball bouncing over a scene photo, or a slow pan across one, + off-screen speech and the
  ball's impacts -> voice-over;
* ``still``: a face photo that does not move its mouth (slow pan and zoom) + speech -> voice-over;
* ``talk``: the same, with the lower face (jaw and lips) warped open in step with the speech envelope ->
  on-screen talking, keep the speech (``drive`` is the mouth opening per frame that drew it);
* ``music``: a scene pan or a still face + music and impacts, no speech -> nothing to remove. Silero VAD
  finds no speech in the plucked and bowed styles; it takes some sung-vowel lines (``choir``) for speech
  (1 of 12 over chords, 8 of 54 bare), and ``think`` then treats them as voice-over: its speech
  probability does not tell them apart (medians 0.63-0.91, a toy-world flite voice-over under ambience
  0.89), so that stays a known limitation.

Material is split into ``dev`` (used while tuning) and ``heldout`` (never looked at while tuning):
disjoint photos, recordings and voices (:data:`SPLIT_RULES`). Shapes: frames [T, H, W, 3] uint8 at
``FPS``; audio float32 [L] at ``SR``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepaudio.errors import BackendUnavailable, InputError

SR, FPS, SIZE, SECONDS = 24000, 25, 224, 4.0
KINDS = ("noface", "still", "talk", "music")
VOICE_OVER = {"noface": True, "still": True, "talk": False, "music": False}
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
SCENES = ("grass", "gravel", "brick", "coffee", "rocket", "chelsea", "motorcycle_left", "hubble_deep_field")
# dev / heldout: which material each split may use (disjoint).
SPLIT_RULES = {
    "dev": dict(scenes=SCENES[:4], lfw=range(0, 100, 2), astronaut=False, voices=("espeak-us-m3", "flite-kal"),
                recordings=("0870", "0880", "0890", "cards/001", "cards/002", "cards/003", "goforward")),
    "heldout": dict(scenes=SCENES[4:], lfw=range(1, 100, 2), astronaut=True, voices=("flite-slt", "espeak-sc-m5"),
                    recordings=("0920", "0930", "cards/004", "cards/005", "numbers", "something")),
}
SENTENCES = ("The kettle is boiling in the kitchen and the window is open.",
             "We walked to the market this morning before the rain came.",
             "Please remember to close the gate when you leave the garden.",
             "Our train leaves at half past nine, so we should hurry now.")


@dataclass(frozen=True)
class Photo:
    name: str
    image: np.ndarray  # [SIZE, SIZE, 3] uint8
    mouth: tuple[float, float, float] | None = None  # centre x, y and width in pixels (faces only)


@dataclass
class Material:
    split: str
    faces: list[Photo]
    scenes: list[Photo]
    speech: list[tuple[str, np.ndarray]]  # (name, mono float32 at SR)
    dropped_faces: list[str] = field(default_factory=list)  # photos whose face dlib does not find


@dataclass
class RealClip:
    kind: str
    index: int
    frames: np.ndarray
    mix: np.ndarray
    speech: np.ndarray  # the speech as it is in the mix (zeros for music)
    impacts: list[float]  # impact onsets, seconds
    drive: np.ndarray | None  # talk: mouth opening per frame in [0, 1] that drew the mouth
    truth: dict


def _resize(img: np.ndarray, size: int = SIZE) -> np.ndarray:
    from PIL import Image

    pil = Image.fromarray(img if img.ndim == 3 else np.repeat(img[..., None], 3, -1))
    w, h = pil.size
    s = min(w, h)
    pil = pil.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return np.asarray(pil.convert("RGB").resize((size, size), Image.BICUBIC), dtype=np.uint8)


def mouth_geometry(img: np.ndarray) -> tuple[float, float, float] | None:
    """Mouth centre and width (pixels) from dlib's 68 landmarks (points 48-67), or None without a face."""
    from deepaudio.perception.faces import DlibBackend

    faces = DlibBackend(upsample=1).landmarks(img)
    if not faces:
        return None
    pts = faces[0][1][48:68]
    return float(pts[:, 0].mean()), float(pts[:, 1].mean()), float(pts[:, 0].max() - pts[:, 0].min())


def load_material(images: str | Path, split: str, cache_dir: str | Path | None = None,
                  speech_dir: str | Path = POCKETSPHINX) -> Material:
    """Photos from the scikit-image ``data`` folder ``images``, recordings from ``speech_dir`` and the
    split's synthetic voices (cached like the toy world's)."""
    if split not in SPLIT_RULES:
        raise InputError(f"unknown split {split!r}", hint=f"choose {', '.join(SPLIT_RULES)}")
    require_dlib()
    images, rule = Path(images), SPLIT_RULES[split]
    if not (images / "lfw_subset.npy").is_file():
        raise InputError("no lfw_subset.npy here: not a scikit-image data folder", images,
                         "pip install --target /tmp/skimg scikit-image and give /tmp/skimg/skimage/data")
    from PIL import Image

    faces, dropped = [], []
    lfw = np.load(images / "lfw_subset.npy")[:100]  # the first 100 of the subset are faces
    sources = [(f"lfw{k:03d}", (np.clip(lfw[k], 0, 1) * 255).astype(np.uint8)) for k in rule["lfw"]]
    if rule["astronaut"]:
        astro = np.asarray(Image.open(images / "astronaut.png").convert("RGB"))
        sources.append(("astronaut", astro[20:276, 95:351]))  # the face and shoulders
    for name, img in sources:
        img = _resize(img)
        mouth = mouth_geometry(img)
        if mouth is None:
            dropped.append(name)
        else:
            faces.append(Photo(name, img, mouth))
    scenes = [Photo(n, _resize(np.asarray(Image.open(next(images.glob(n + ".*"))).convert("RGB"))))
              for n in rule["scenes"]]
    return Material(split, faces, scenes, _speech(rule, Path(speech_dir), cache_dir), dropped)


def _speech(rule: dict, folder: Path, cache_dir) -> list[tuple[str, np.ndarray]]:
    from deepaudio.io.audio import resample

    out = []
    for key in rule["recordings"]:
        path = (next(iter(sorted(folder.glob(f"librivox/*{key}.wav"))), None) if key.isdigit()
                else folder / f"{key}.wav" if "/" in key else folder / f"{key}.raw")
        if path is None or not path.is_file():
            raise InputError(f"recording {key!r} not found", folder, "apt-get install pocketsphinx-testdata")
        if path.suffix == ".raw":
            x = np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
            sr = 16000
        else:
            import soundfile as sf

            x, sr = sf.read(path, dtype="float32")
        import torch

        out.append((path.stem, resample(torch.from_numpy(x)[None], sr, SR)[0].numpy()))
    from deepaudio.data.toyworld.scenes import default_cache_dir
    from deepaudio.data.toyworld.voices import SPEAKER_BY_ID, VoiceBank

    bank = VoiceBank(cache_dir or default_cache_dir())
    for k, voice in enumerate(rule["voices"]):
        for j, text in enumerate(SENTENCES[k % 2::2]):
            out.append((f"{voice}-{j}", bank.synthesize(SPEAKER_BY_ID[voice], text)))
    return out


# ---------------------------------------------------------------------------------------- pictures
def jaw_warp(img: np.ndarray, mouth: tuple[float, float, float], opening: float) -> np.ndarray:
    """Open the mouth of a face photo by ``opening`` in [0, 1]: pixels below the lip line move down
    (most at the mouth, fading over the jaw), and the gap between the lips is the dark mouth interior."""
    mx, my, width = mouth
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    half = width / 2
    lips = np.clip(1 - ((xx - mx) / half) ** 2, 0, 1) ** 0.5
    jaw = np.maximum(lips, np.clip(1 - ((xx - mx) / (2.2 * half)) ** 2, 0, 1))
    d = 0.35 * width * opening  # fully open: a gap 0.35 mouth widths tall
    shift = np.where(yy > my, d * jaw * np.clip(1 - (yy - my) / (2 * width), 0, 1), 0.0)
    ys = np.clip(yy - shift, 0, h - 1)
    lo = np.floor(ys).astype(int)
    f = (ys - lo)[..., None]
    src = img.astype(np.float32)
    out = src[lo, xx.astype(int)] * (1 - f) + src[np.minimum(lo + 1, h - 1), xx.astype(int)] * f
    gap = (yy > my) & (yy - my < d * lips)
    out[gap] = 0.25 * out[gap] + 0.75 * np.array((50, 20, 25), np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def camera_move(frames: np.ndarray, rng: np.random.Generator, zoom: float = 0.08, pan: float = 8.0) -> np.ndarray:
    """A slow pan and zoom (a hand-held or Ken Burns camera) over [T, H, W, 3] frames."""
    import torch

    t = np.linspace(0, 1, len(frames))
    z = 1 - zoom * rng.uniform(0.3, 1.0) * t  # sampling window shrinks: the picture grows
    dx, dy = (rng.uniform(-1, 1, 2) * pan / frames.shape[2])[:, None] * t[None]
    theta = np.zeros((len(frames), 2, 3), np.float32)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = z, z, dx * 2, dy * 2
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    grid = torch.nn.functional.affine_grid(torch.from_numpy(theta), list(x.shape), align_corners=False)
    y = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return y.permute(0, 2, 3, 1).round().clamp(0, 255).byte().numpy()


def pan_scene(img: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Slide a window across a scene photo (twice the frame, so the pan covers half of it)."""
    from PIL import Image

    big = np.asarray(Image.fromarray(img).resize((2 * SIZE, 2 * SIZE), Image.BICUBIC))
    x0, y0 = rng.uniform(0, SIZE, 2)
    x1, y1 = np.clip([x0 + rng.choice([-1, 1]) * rng.uniform(60, 110), y0 + rng.uniform(-30, 30)], 0, SIZE)
    return np.stack([big[int(round(y0 + (y1 - y0) * k / n)):][:SIZE, int(round(x0 + (x1 - x0) * k / n)):][:, :SIZE]
                     for k in range(n)])


def bouncing_ball(background: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[float]]:
    """A shaded ball bouncing over a still scene -> frames and bounce times (seconds)."""
    r = rng.uniform(14, 26)
    x, vx, y, vy, g = rng.uniform(40, 180), rng.uniform(-90, 90), rng.uniform(30, 80), 0.0, 900.0
    colour = rng.uniform(120, 255, 3)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    frames, bounces = [], []
    for k in range(n):
        for _ in range(4):  # sub-steps
            dt = 1 / (4 * FPS)
            vy += g * dt
            x, y = x + vx * dt, y + vy * dt
            if y > SIZE - r - 4 and vy > 0:
                y, vy = SIZE - r - 4, -vy * rng.uniform(0.75, 0.9)
                bounces.append(k / FPS)
            if not r < x < SIZE - r:
                vx = -vx
        d = np.hypot(xx - x, yy - y)
        cover = np.clip(r - d + 0.5, 0, 1)[..., None]
        shade = np.clip(1.2 - 0.6 * np.hypot(xx - x + 0.4 * r, yy - y + 0.4 * r) / r, 0.3, 1.2)[..., None]
        frames.append((background * (1 - cover) + np.clip(colour * shade, 0, 255) * cover).astype(np.uint8))
    return np.stack(frames), bounces


# ------------------------------------------------------------------------------------------- sound
VOWELS = (((270, 60), (2290, 150), (3010, 200)), ((530, 80), (1840, 120), (2480, 170)),
          ((300, 60), (870, 90), (2240, 170)), ((730, 90), (1090, 110), (2440, 170)))  # i, e, u, a


def music_like(rng: np.random.Generator, seconds: float, sr: int = SR, style: str | None = None) -> np.ndarray:
    """Chords under a melody with a beat, no speech. ``style`` (default: drawn): ``plucked`` (decaying
    harmonics and light percussion), ``bowed`` (vibrato, a body resonance) or ``choir`` (a sung vowel held
    on each note: formants and vibrato, the music a VAD most often takes for a voice)."""
    n = int(seconds * sr)
    out = np.zeros(n)
    scale = rng.uniform(180, 260) * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
    style = style or ("plucked", "bowed", "choir")[rng.integers(3)]
    beat, vowel = rng.uniform(0.3, 0.55), VOWELS[rng.integers(len(VOWELS))]

    def note(at: float, f: float, dur: float, gain: float, decay: float, sung: bool = False) -> None:
        s = int(at * sr)
        tt = np.arange(max(0, min(int(dur * sr), n - s))) / sr
        held = style != "plucked"
        ph = 2 * np.pi * f * (tt + (0.02 if sung else 0.012) * np.sin(2 * np.pi * 5.5 * tt) / (2 * np.pi * 5.5)
                              if held else tt)
        if sung:
            weight = [sum(np.exp(-0.5 * ((k * f - F) / B) ** 2) for F, B in vowel) + 0.01 for k in range(1, 24)]
        else:
            weight = [np.exp(-0.5 * ((k * f - 900) / 500) ** 2) + 0.2 if held else 1.0 for k in range(1, 12)]
        harm = sum(w / (1 if sung else k) * np.sin(k * ph + k) for k, w in enumerate(weight, 1))
        env = np.minimum(1, tt / (0.06 if held else 0.005)) * np.exp(-decay * tt)
        if sung:  # held to the end of the note, released over 50 ms (legato)
            env = np.minimum(np.minimum(1, tt / 0.05), np.clip((dur - tt) / 0.05, 0, 1))
        out[s: s + len(tt)] += gain * harm * env
    at = 0.0
    while style == "choir" and at < seconds:  # the sung line: notes of 0.3-0.8 s, one after another
        dur = rng.uniform(0.3, 0.8)
        note(at, scale[rng.integers(0, 8)], dur, 0.3, 0.0, sung=True)
        at += dur
    t0, chord = 0.0, 0
    while t0 < seconds:
        for d in ((0, 2, 4), (3, 5, 7), (4, 6, 1), (5, 0, 2))[chord % 4]:
            note(t0, scale[d] / 2, 4 * beat, 0.04 if style == "choir" else 0.12, 0.4)
        for b in range(4):
            at = t0 + b * beat
            if at < seconds and style != "choir":
                note(at, scale[rng.integers(0, 8)] * rng.choice([1, 2]), beat, 0.3, 0.8 if style == "bowed" else 3.0)
                if style == "plucked":
                    s = int(at * sr)
                    k = np.arange(min(int(0.04 * sr), n - s))
                    out[s: s + len(k)] += 0.15 * rng.standard_normal(len(k)) * np.exp(-k / (0.008 * sr))
        t0, chord = t0 + 4 * beat, chord + 1
    return (0.3 * out / max(np.abs(out).max(), 1e-9)).astype(np.float32)


def impacts_audio(times: list[float], n: int, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Knocks (a damped resonance over a noise click, 60 ms) at ``times``."""
    out = np.zeros(n, np.float32)
    for t in times:
        s = int(t * sr)
        k = np.arange(min(int(0.06 * sr), max(0, n - s)))
        f = rng.uniform(150, 700)
        hit = (np.sin(2 * np.pi * f * k / sr) + 0.5 * rng.standard_normal(len(k))) * np.exp(-k / (0.012 * sr))
        out[s: s + len(k)] += rng.uniform(0.2, 0.4) * hit
    return out


def _place_speech(material: Material, rng: np.random.Generator, n: int) -> tuple[np.ndarray, str]:
    name, wav = material.speech[rng.integers(len(material.speech))]
    room = n - int(0.8 * SR)
    if len(wav) > room:
        start = rng.integers(0, len(wav) - room)
        wav = wav[start: start + room]
    out = np.zeros(n, np.float32)
    at = int(rng.uniform(0.3, 0.5) * SR)
    wav = wav[: n - at]
    out[at: at + len(wav)] = 0.08 * wav / max(float(np.sqrt(np.mean(wav ** 2))), 1e-6)
    return out, name


def make_clip(kind: str, index: int, material: Material, seed: int) -> RealClip:
    """Clip ``index`` of ``kind`` (deterministic in ``seed``, ``index`` and the material)."""
    from deepaudio.data.toyworld.faces import video_energy

    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}", hint=f"choose {', '.join(KINDS)}")
    rng = np.random.default_rng([seed, KINDS.index(kind), index])
    n_frames, n = int(SECONDS * FPS), int(SECONDS * SR)
    speech, voice = (np.zeros(n, np.float32), None) if kind == "music" else _place_speech(material, rng, n)
    impacts = sorted(rng.uniform(0.2, SECONDS - 0.2, rng.integers(2, 6)).tolist())
    drive, photo, view = None, None, "pan"
    face_kind = kind in ("still", "talk") or (kind == "music" and index % 2 == 1)
    if face_kind:
        photo = material.faces[rng.integers(len(material.faces))]
        if kind == "talk":
            drive = np.convolve(video_energy(speech, SR, FPS, n_frames), [0.25, 0.5, 0.25], "same")
            drive = drive / max(float(drive.max()), 1e-9)
            frames = np.stack([jaw_warp(photo.image, photo.mouth, float(m)) for m in drive])
        else:
            frames = np.repeat(photo.image[None], n_frames, 0)
        frames, view = camera_move(frames, rng), "face"
    else:
        photo = material.scenes[rng.integers(len(material.scenes))]
        if kind == "noface" and index % 2 == 0:
            frames, impacts = bouncing_ball(photo.image, n_frames, rng)
            view = "ball"
        else:
            frames = pan_scene(photo.image, n_frames, rng)
    music = music_like(rng, SECONDS) if kind == "music" else np.zeros(n, np.float32)
    floor = 0.004 * rng.standard_normal(n).astype(np.float32)
    ambience = impacts_audio(impacts, n, rng) + floor + music
    mix = np.clip(ambience + speech, -1, 1).astype(np.float32)
    truth = dict(kind=kind, index=index, seed=seed, split=material.split, voice_over=VOICE_OVER[kind], view=view,
                 photo=photo.name, voice=voice, impacts=impacts, fps=FPS, sr=SR)
    return RealClip(kind, index, frames, mix, speech, impacts, drive, truth)


def require_dlib() -> None:
    import importlib.util

    if importlib.util.find_spec("dlib") is None:
        raise BackendUnavailable("the real-world corpus finds mouths with dlib", hint="pip install 'deepaudio[vision]'")
