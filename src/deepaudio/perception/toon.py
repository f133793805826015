"""A model-free detector for flat-shaded cartoon faces (the toy world's talking heads).

Face models trained on photographs (MediaPipe, dlib) do not fire on a skin-coloured disc with two
dark ellipses for eyes, so the toy world needs its own detector. It looks for what defines such a
face: a pair of small, dark, upright blobs side by side (the eyes) on an even skin-coloured patch.
The eye spacing gives the face scale ``r`` (eyes sit at +-0.38 r, 0.15 r above the centre; the mouth
0.45 r below it, as drawn by ``deepaudio.data.toyworld.faces.Face``); the mouth opening is the dark
area inside the mouth box divided by r^2, with anti-aliased edge pixels counted in part, so it grows
linearly with the drawn mouth height.

It only works on that drawing style and is not a general face detector: on real footage it takes a
bright disc with two dark spots (a ball, a wheel) for a face. So ``backend='auto'`` uses it only on
videos the toy world wrote, which carry ``TOY_WORLD_COMMENT`` as their container ``comment`` tag
(``deepaudio.data.toyworld.write_toy_video``); anything else needs ``--face-backend toon`` to get it.
"""

from __future__ import annotations

import numpy as np

from deepaudio.errors import BackendUnavailable
from deepaudio.perception.faces import MouthObservation

TOY_WORLD_COMMENT = "deepaudio toy world: cartoon faces"  # container tag of every video the toy world writes
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _blobs(dark: np.ndarray) -> list[dict]:
    """Connected dark components with their size and shape."""
    try:
        from scipy import ndimage
    except ImportError as exc:
        raise BackendUnavailable("the cartoon face backend needs scipy",
                                 hint="pip install 'deepaudio[vision]'") from exc

    labels, _ = ndimage.label(dark, structure=np.ones((3, 3), bool))
    out = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        mask = labels[sl] == k
        area = int(mask.sum())
        h, w = mask.shape
        ys, xs = np.nonzero(mask)
        out.append(dict(area=area, w=w, h=h, x=sl[1].start + xs.mean(), y=sl[0].start + ys.mean(), fill=area / (w * h)))
    return out


def _is_eye(b: dict, max_area: float) -> bool:
    # Upright ellipse (0.2 r wide, 0.26 r tall, fill ~pi/4); blinks (flat slits) are skipped on purpose.
    upright = 0.8 * b["w"] <= b["h"] <= 2.5 * b["w"]
    return 4 <= b["area"] <= max_area and upright and 0.45 <= b["fill"] <= 0.98


def _sample(img: np.ndarray, x: float, y: float) -> np.ndarray | None:
    xi, yi = int(round(x)), int(round(y))
    if not (1 <= yi < img.shape[0] - 1 and 1 <= xi < img.shape[1] - 1):
        return None
    return img[yi - 1: yi + 2, xi - 1: xi + 2].reshape(-1, 3).mean(0)


class ToonBackend:
    """Cartoon face detector: eye pairs on an even skin patch; mouth = dark area in the mouth box / r^2."""

    name = "toon"

    def __init__(self, dark_luma: float = 70.0, skin_tolerance: float = 30.0):
        self.dark_luma = dark_luma
        self.skin_tolerance = skin_tolerance

    def __call__(self, frame: np.ndarray) -> list[MouthObservation]:
        img = np.asarray(frame, dtype=np.float32)
        blobs = [b for b in _blobs(img @ LUMA < self.dark_luma) if _is_eye(b, img.shape[0] * img.shape[1] / 150)]
        pairs = []
        for i, a in enumerate(blobs):
            for b in blobs[i + 1:]:
                left, right = (a, b) if a["x"] < b["x"] else (b, a)
                dx, dy = right["x"] - left["x"], abs(right["y"] - left["y"])
                eye_w = 0.5 * (left["w"] + right["w"])
                if dy <= 0.15 * dx and 2.5 * eye_w <= dx <= 6.0 * eye_w and 0.5 <= a["area"] / b["area"] <= 2.0:
                    pairs.append((dy / dx, left, right))
        out, used = [], set()
        for _, left, right in sorted(pairs, key=lambda p: p[0]):
            if id(left) in used or id(right) in used:
                continue
            obs = self._face(img, left, right)
            if obs is not None:
                used.update((id(left), id(right)))
                out.append(obs)
        return out

    def _face(self, img: np.ndarray, left: dict, right: dict) -> MouthObservation | None:
        r = (right["x"] - left["x"]) / 0.76
        cx, cy = 0.5 * (left["x"] + right["x"]), 0.5 * (left["y"] + right["y"]) + 0.15 * r
        # Skin between the eyes, on both cheeks and on the forehead must be one even colour.
        points = [(cx, cy - 0.15 * r), (cx - 0.38 * r, cy + 0.12 * r), (cx + 0.38 * r, cy + 0.12 * r),
                  (cx, cy - 0.4 * r)]
        skins = [_sample(img, x, y) for x, y in points]
        if any(s is None for s in skins):
            return None
        skins = np.stack(skins)
        skin = np.median(skins, 0)
        if np.abs(skins - skin).max() > self.skin_tolerance:
            return None
        eye = _sample(img, left["x"], left["y"])
        if eye is None or float((skin - eye) @ LUMA) < 40:
            return None
        my = cy + 0.45 * r
        x0, x1 = int(np.floor(cx - 0.4 * r)), int(np.ceil(cx + 0.4 * r))
        y0, y1 = int(np.floor(my - 0.3 * r)), int(np.ceil(my + 0.3 * r))
        patch = img[max(y0, 0): max(y1, 0), max(x0, 0): max(x1, 0)]
        direction = eye - skin
        # Position of each pixel on the skin -> eye colour line; lips (~0.6) and skin (0) do not count,
        # the dark mouth interior (~1) does, anti-aliased edges in part.
        w = ((patch - skin) @ direction) / float(direction @ direction)
        area = float(np.clip((w - 0.7) / 0.3, 0.0, 1.0).sum())
        box = (cx - r, cy - 1.15 * r, cx + r, cy + r)
        return MouthObservation(box, area / (r * r))


def is_toy_world_video(video) -> bool:
    """Whether ``video`` (a path or a probed ``VideoClip``) carries the toy world's container tag. In-memory
    frames never do."""
    from pathlib import Path

    info = getattr(video, "info", None)
    if info is not None and hasattr(info, "comment"):  # a VideoClip: its one probe read the tag already
        return info.comment == TOY_WORLD_COMMENT
    if not isinstance(video, (str, Path)):
        return False
    from deepaudio.errors import MediaError
    from deepaudio.io.video import video_tags

    try:
        return video_tags(video).get("comment", "") == TOY_WORLD_COMMENT
    except MediaError:
        return False
