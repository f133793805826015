"""Cartoon talking faces whose mouth opening is the speech energy at the video frame rate.

DeepAudio-V1 feeds the dubbing model an energy contour (mean |x| per frame, divided by the clip
maximum); here the same quantity, computed per video frame (1/25 s), drives the mouth height, so the
picture carries exactly the timing signal a V2S model is meant to pick up and a test can check it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepaudio.data.toyworld.render import Canvas

SKINS = ((240, 200, 160), (200, 150, 110), (150, 100, 70), (250, 220, 190), (120, 80, 60))
MOUTH = (45, 5, 15)  # mouth interior
LIPS = (150, 60, 60)  # the closed-lip line
EYE = (25, 25, 35)


def video_energy(wav: np.ndarray, sr: int, fps: int, n_frames: int) -> np.ndarray:
    """Mean |x| per video frame ``[k sr / fps, (k + 1) sr / fps)``, divided by its maximum -> [n_frames] in [0, 1]."""
    bounds = (np.arange(n_frames + 1, dtype=np.int64) * sr) // fps
    csum = np.concatenate([[0.0], np.cumsum(np.abs(wav.astype(np.float64)))])
    bounds = np.minimum(bounds, len(wav))
    lengths = np.maximum(bounds[1:] - bounds[:-1], 1)
    e = (csum[bounds[1:]] - csum[bounds[:-1]]) / lengths
    peak = e.max() if len(e) else 0.0
    return (e / peak if peak > 0 else np.zeros_like(e)).astype(np.float32)


@dataclass(frozen=True)
class Face:
    cx: float
    cy: float
    radius: float
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]

    @property
    def box(self) -> tuple[float, float, float, float]:
        r = self.radius
        return (self.cx - r, self.cy - 1.15 * r, self.cx + r, self.cy + r)

    @property
    def mouth_box(self) -> tuple[float, float, float, float]:
        r = self.radius
        cy = self.cy + 0.45 * r
        return (self.cx - 0.4 * r, cy - 0.3 * r, self.cx + 0.4 * r, cy + 0.3 * r)

    def _head(self, canvas: Canvas, blink: bool) -> None:
        r = self.radius
        canvas.ellipse(self.cx, self.cy - 0.55 * r, 1.02 * r, 0.6 * r, self.hair)
        canvas.disc(self.cx, self.cy, r, self.skin)
        eye_ry = 0.03 * r if blink else 0.13 * r
        for dx in (-0.38 * r, 0.38 * r):
            canvas.ellipse(self.cx + dx, self.cy - 0.15 * r, 0.1 * r, eye_ry, EYE)
        my = self.cy + 0.45 * r
        canvas.box(self.cx - 0.3 * r, my - 0.5, self.cx + 0.3 * r, my + 0.5, LIPS)

    def draw(self, canvas: Canvas, mouth_open: float, blink: bool, sprites: dict | None = None) -> None:
        """``mouth_open`` in [0, 1]: 0 draws closed lips, 1 a mouth 0.5 radius tall.

        The head (hair, skin, eyes, lips) never changes within a clip except for blinks, so with a
        ``sprites`` dict it is drawn once per eye state and stamped; only the mouth is drawn anew.
        """
        r = self.radius
        if sprites is None:
            self._head(canvas, blink)
        else:
            if blink not in sprites:
                x0, y0, x1, y1 = self.box
                sprites[blink] = canvas.sprite(int(x0 - 2), int(y0 - 2), int(x1 + 3), int(y1 + 3),
                                               lambda c: self._head(c, blink))
            canvas.stamp(sprites[blink])
        canvas.ellipse(self.cx, self.cy + 0.45 * r, 0.3 * r, 0.25 * r * float(np.clip(mouth_open, 0.0, 1.0)), MOUTH)


def blink_frames(rng: np.random.Generator, n_frames: int, fps: int) -> np.ndarray:
    """Blinks every 2-5 s, 3 frames long: faces look alive without any link to the audio."""
    out = np.zeros(n_frames, dtype=bool)
    t = rng.uniform(0.5, 2.5)
    while t * fps < n_frames:
        k = int(t * fps)
        out[k: k + 3] = True
        t += rng.uniform(2.0, 5.0)
    return out


def random_face(rng: np.random.Generator, cx: float, cy: float, radius: float) -> Face:
    skin = SKINS[int(rng.integers(len(SKINS)))]
    hair = tuple(int(c) for c in rng.integers(20, 140, size=3))
    return Face(float(cx), float(cy), float(radius), skin, hair)  # type: ignore[arg-type]


def mouth_openness(frame: np.ndarray, face: Face) -> float:
    """Measure the mouth opening from a rendered frame: dark mouth-interior coverage in the mouth box.

    Used by tests and checks to confirm that what the video *shows* follows the speech energy.
    """
    x0, y0, x1, y1 = (int(round(v)) for v in face.mouth_box)
    patch = frame[max(y0, 0): y1, max(x0, 0): x1].astype(np.float32)
    skin = np.asarray(face.skin, np.float32)
    mouth = np.asarray(MOUTH, np.float32)
    # Fraction of the way from skin to mouth colour, per pixel (anti-aliased edges count partly).
    w = ((patch - skin) @ (mouth - skin)) / float((mouth - skin) @ (mouth - skin))
    return float(np.clip(w, 0.0, 1.0).sum())
