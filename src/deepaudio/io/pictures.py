"""Decoded video frames to RGB pictures of a target size: rotation, scaling and centre-cropping.

Pure geometry on one PyAV frame at a time (``io.video`` decodes and samples them in time).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def target_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int):
        return (size, size)
    h, w = (int(v) for v in size)
    return (h, w)


def resize_plan(w: int, h: int, size: tuple[int, int] | None, crop: str) -> tuple[int, int, tuple[int, int] | None]:
    """Scaled (width, height) and the centre-crop box (top, left) for a displayed ``w x h`` picture.

    ``crop='center'`` scales so the picture covers the target (for a square target: short side equals
    the size, the long side truncated like torchvision's ``Resize(int)``) and cuts the middle;
    ``crop='resize'`` stretches to the target (MMAudio's CLIP input, ``Resize((384, 384))``).
    """
    if size is None:
        return w, h, None
    th, tw = size
    if crop == "resize":
        return tw, th, None
    if crop != "center":
        raise ValueError(f"crop must be 'center' or 'resize', got {crop!r}")
    scale = max(th / h, tw / w)
    if th == tw:
        short, long_ = min(w, h), max(w, h)
        new_long = max(th, int(th * long_ / short))
        sw, sh = (th, new_long) if w <= h else (new_long, th)
    else:
        sw, sh = max(tw, int(round(w * scale))), max(th, int(round(h * scale)))
    return sw, sh, ((sh - th) // 2, (sw - tw) // 2)


def to_rgb(frame, rotation: int, size: tuple[int, int] | None, crop: str, interpolation: str) -> np.ndarray:
    quarter = (rotation // 90) % 4
    cw, ch = frame.width, frame.height
    dw, dh = (ch, cw) if quarter % 2 else (cw, ch)
    sw, sh, box = resize_plan(dw, dh, size, crop)
    ow, oh = (sh, sw) if quarter % 2 else (sw, sh)  # scale in coded orientation, rotate after
    img = frame.reformat(width=ow, height=oh, format="rgb24", interpolation=interpolation).to_ndarray()
    if quarter:
        img = np.rot90(img, k=quarter)
    if box is not None:
        top, left = box
        img = img[top:top + size[0], left:left + size[1]]
    return np.ascontiguousarray(img)
