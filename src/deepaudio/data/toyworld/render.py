"""Drawing: anti-aliased discs, squares, ellipses and boxes into uint8 RGB frames with numpy.

Shapes are painted with a coverage mask ``clip(edge_distance + 0.5, 0, 1)`` so that sub-pixel motion
and small mouth openings change the pixels smoothly, which keeps measurements taken from the frames
(object centroids, mouth area) close to the ground truth.
"""

from __future__ import annotations

import numpy as np


class Sprite:
    """Pre-rendered shapes: premultiplied colour and coverage over a window of the frame."""

    def __init__(self, win, alpha: np.ndarray, premultiplied: np.ndarray):
        self.win, self.alpha, self.premultiplied = win, alpha, premultiplied


class Canvas:
    """One frame being drawn; float RGB in [0, 255]."""

    def __init__(self, size: int, background: tuple[int, int, int]):
        self.size = size
        self.img = np.empty((size, size, 3), dtype=np.float32)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
        self._xx, self._yy = xx, yy
        self.clear(background)

    def clear(self, background: tuple[int, int, int]) -> None:
        self.img[:] = background

    def _window(self, x0: float, y0: float, x1: float, y1: float):
        """Pixel slices covering [x0, x1] x [y0, y1] (plus the anti-aliasing margin), or None if off-frame."""
        n = self.size
        i0, i1 = max(int(np.floor(y0 - 1)), 0), min(int(np.ceil(y1 + 1)), n)
        j0, j1 = max(int(np.floor(x0 - 1)), 0), min(int(np.ceil(x1 + 1)), n)
        if i0 >= i1 or j0 >= j1:
            return None
        return slice(i0, i1), slice(j0, j1)

    def _paint(self, win, cover: np.ndarray, color) -> None:
        cover = cover[..., None]
        patch = self.img[win]
        patch *= 1.0 - cover
        patch += cover * np.asarray(color, dtype=np.float32)

    def disc(self, cx: float, cy: float, r: float, color) -> None:
        win = self._window(cx - r, cy - r, cx + r, cy + r)
        if win is None:
            return
        d = np.sqrt((self._xx[win] - cx) ** 2 + (self._yy[win] - cy) ** 2)
        self._paint(win, np.clip(r - d + 0.5, 0.0, 1.0), color)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color) -> None:
        """Axis-aligned ellipse; a flat one (ry -> 0) fades out instead of vanishing abruptly."""
        ry_eff = max(ry, 0.5)
        win = self._window(cx - rx, cy - ry_eff, cx + rx, cy + ry_eff)
        if win is None or ry <= 0:
            return
        d = np.sqrt(((self._xx[win] - cx) / rx) ** 2 + ((self._yy[win] - cy) / ry_eff) ** 2)
        cover = np.clip((1.0 - d) * ry_eff + 0.5, 0.0, 1.0) * min(1.0, ry / 0.5)
        self._paint(win, cover, color)

    def box(self, x0: float, y0: float, x1: float, y1: float, color) -> None:
        win = self._window(x0, y0, x1, y1)
        if win is None:
            return
        cx = np.clip(np.minimum(self._xx[win] - x0, x1 - self._xx[win]) + 0.5, 0.0, 1.0)
        cy = np.clip(np.minimum(self._yy[win] - y0, y1 - self._yy[win]) + 0.5, 0.0, 1.0)
        self._paint(win, cx * cy, color)

    def square(self, cx: float, cy: float, half: float, color) -> None:
        self.box(cx - half, cy - half, cx + half, cy + half, color)

    def sprite(self, x0: int, y0: int, x1: int, y1: int, draw) -> Sprite:
        """Record what ``draw(canvas)`` paints inside [x0, x1) x [y0, y1) as a reusable sprite."""
        probe = Canvas(self.size, (0, 0, 0))
        white = Canvas(self.size, (255, 255, 255))
        draw(probe)
        draw(white)
        win = (slice(max(y0, 0), min(y1, self.size)), slice(max(x0, 0), min(x1, self.size)))
        # Painting over black and over white separates coverage (alpha) from colour exactly.
        alpha = 1.0 - (white.img[win] - probe.img[win]).mean(axis=-1, keepdims=True) / 255.0
        return Sprite(win, alpha.astype(np.float32), probe.img[win].copy())

    def stamp(self, sprite: Sprite) -> None:
        """Composite a recorded sprite: one multiply-add instead of re-drawing its shapes."""
        patch = self.img[sprite.win]
        patch *= 1.0 - sprite.alpha
        patch += sprite.premultiplied

    def frame(self) -> np.ndarray:
        return np.clip(np.rint(self.img), 0, 255).astype(np.uint8)
