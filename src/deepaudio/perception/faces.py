"""Pluggable face backends: each turns one RGB frame into the mouths it can see.

A backend answers ``backend(frame uint8 [H, W, 3]) -> list[MouthObservation]``: one entry per face,
with the face box and the mouth opening normalised by the face size (so a face nearer the camera
does not look like a wider-open mouth). ``backend='auto'`` tries the real detectors in this order and
adds the cartoon detector only for toy-world videos (see :func:`auto_order`):

* ``mediapipe`` - the MediaPipe face mesh (478 points; inner-lip points 13/14, face height 10 -> 152),
  used when an old release that still bundles its model is installed. Checked 2026-12: ``mediapipe``
  1.2.3 and 0.10.30 ship no face model in the wheel (no ``.tflite``/``.task``, no ``solutions``); their
  face landmarker needs a downloaded ``face_landmarker.task``, so it does not count as offline. The last
  release with the bundled mesh, 0.10.21, pins ``numpy<2`` and ``protobuf<5``.
* ``dlib`` - dlib's HOG face detector and the 68-point shape predictor shipped by
  ``face-recognition-models`` (inner-lip pairs 61/67, 62/66, 63/65; outer eye corners 36/45 as the
  scale). Installs beside numpy 2 (the ``vision`` extra): the best offline landmarks available here.
  OpenCV offers none: the ``opencv-python-headless`` 5.1.0 wheel ships no face model at all (its
  ``cv2/data`` holds no Haar cascades any more), and ``FaceDetectorYN`` and the LBF facemark need
  downloaded models. On the real-world corpus (``deepaudio.data.realworld``) dlib finds the face in
  93 of the 100 LFW crops (scaled to 224 px) and in the astronaut photo. The 68-point model was
  trained on the iBUG 300-W data and is licensed for non-commercial use only.
* ``toon`` - no model at all: the flat-shaded cartoon faces of the toy world (a skin disc, two dark
  eyes, a dark mouth ellipse; see ``deepaudio.data.toyworld.faces``), which face models trained on
  photographs do not detect. It takes a bright disc with dark spots for a face, so it never runs on
  footage the toy world did not write. See :mod:`deepaudio.perception.toon`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deepaudio.errors import BackendUnavailable, ConfigError

BACKEND_ORDER = ("mediapipe", "dlib", "toon")
REAL_BACKENDS = ("mediapipe", "dlib")  # detectors of photographed faces; "toon" draws on toy-world videos only


@dataclass(frozen=True)
class MouthObservation:
    box: tuple[float, float, float, float]  # face (x0, y0, x1, y1) in pixels
    opening: float  # inner-lip gap (or mouth area) over the face scale; 0 = closed


Backend = Callable[[np.ndarray], list[MouthObservation]]


def _dist(points: np.ndarray, i: int, j: int) -> float:
    return float(np.hypot(*(points[i] - points[j])))


class MediaPipeBackend:
    """MediaPipe face mesh in video mode (landmarks tracked between frames)."""

    name = "mediapipe"
    UPPER_INNER, LOWER_INNER, FOREHEAD, CHIN = 13, 14, 10, 152

    def __init__(self, max_faces: int = 2, min_confidence: float = 0.5):
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as exc:
            raise BackendUnavailable("the mediapipe face backend is not installed",
                                     hint="pip install mediapipe==0.10.21 in an environment with numpy<2, "
                                          "or use --face-backend dlib/toon") from exc
        self._mesh = face_mesh.FaceMesh(static_image_mode=False, max_num_faces=max_faces,
                                        min_detection_confidence=min_confidence,
                                        min_tracking_confidence=min_confidence)

    def __call__(self, frame: np.ndarray) -> list[MouthObservation]:
        h, w = frame.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(frame))
        out = []
        for face in result.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h) for p in face.landmark], dtype=np.float64)
            scale = _dist(pts, self.FOREHEAD, self.CHIN)
            if scale <= 1.0:
                continue
            (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
            out.append(MouthObservation((x0, y0, x1, y1), _dist(pts, self.UPPER_INNER, self.LOWER_INNER) / scale))
        return out


def _packaged_predictor() -> str:
    """The 68-point model inside ``face-recognition-models``, found without importing it (its
    ``__init__`` needs ``pkg_resources``, which new setuptools no longer ship)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("face_recognition_models")
    path = None if spec is None or not spec.submodule_search_locations else \
        Path(list(spec.submodule_search_locations)[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    if path is None or not path.is_file():
        raise BackendUnavailable("the dlib 68-point landmark model is not installed",
                                 hint="pip install face-recognition-models==0.3.0")
    return str(path)


@functools.cache
def _dlib_detector():
    """Built once per process: deserialising the HOG detector takes ~2 s."""
    import dlib

    return dlib.get_frontal_face_detector()


@functools.cache
def _dlib_predictor(path: str):
    import dlib

    return dlib.shape_predictor(path)


class DlibBackend:
    """dlib frontal-face HOG detector + 68-point landmarks (model file from ``face-recognition-models``)."""

    name = "dlib"
    INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))
    EYE_CORNERS = (36, 45)

    def __init__(self, predictor_path: str | None = None, upsample: int | None = None):
        import importlib.util

        if importlib.util.find_spec("dlib") is None:
            raise BackendUnavailable("the dlib face backend is not installed", hint="pip install 'deepaudio[vision]'")
        self._predictor_path = predictor_path or _packaged_predictor()
        self._detect = _dlib_detector()
        self._predict = None  # the 99 MB landmark model loads on the first face (probing needs none)
        self._upsample = upsample

    def landmarks(self, frame: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """(face box, 68 points [68, 2] in pixels) for each face dlib finds in ``frame``."""
        frame = np.ascontiguousarray(frame)
        # The HOG detector finds faces from ~80 px up; small frames are searched at 2x.
        up = self._upsample if self._upsample is not None else (1 if min(frame.shape[:2]) < 400 else 0)
        out = []
        for rect in self._detect(frame, up):
            if self._predict is None:
                self._predict = _dlib_predictor(str(self._predictor_path))
            shape = self._predict(frame, rect)
            pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)
            out.append(((rect.left(), rect.top(), rect.right(), rect.bottom()), pts))
        return out

    def __call__(self, frame: np.ndarray) -> list[MouthObservation]:
        out = []
        for box, pts in self.landmarks(frame):
            scale = _dist(pts, *self.EYE_CORNERS)
            if scale <= 1.0:
                continue
            gap = float(np.mean([_dist(pts, a, b) for a, b in self.INNER_LIP_PAIRS]))
            out.append(MouthObservation(box, gap / scale))
        return out


def make_backend(name: str) -> Backend:
    """A fresh backend by name (one per video: the mediapipe tracker keeps state between frames)."""
    if name == "mediapipe":
        return MediaPipeBackend()
    if name == "dlib":
        return DlibBackend()
    if name == "toon":
        from deepaudio.perception.toon import ToonBackend

        return ToonBackend()
    raise ConfigError(f"unknown face backend {name!r}", hint=f"choose auto, {', '.join(BACKEND_ORDER)}")


def available_backends(toy: bool = True) -> list[str]:
    """Backends whose packages are installed, in preference order (without ``toon`` unless ``toy``)."""
    import importlib.util

    found = []
    if importlib.util.find_spec("mediapipe") is not None:
        found.append("mediapipe")
    if importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models") is not None:
        found.append("dlib")
    if toy and importlib.util.find_spec("scipy") is not None:
        found.append("toon")
    if not found:
        raise BackendUnavailable("no face backend is installed", hint="pip install 'deepaudio[vision]'")
    return found


def auto_order(toy: bool) -> list[str]:
    """What ``backend='auto'`` may try: the installed real detectors, plus ``toon`` on a toy-world video.

    Never raises: with no real detector installed the list is empty (real footage then shows no face,
    which makes its speech voice-over rather than inventing a talker)."""
    try:
        return available_backends(toy)
    except BackendUnavailable:
        return []


def describe_backends() -> str:
    """Which face backend ``auto`` uses and why (for ``deepaudio info``)."""
    real = auto_order(toy=False)
    head = (f"face backend (auto): {real[0]} on real footage" if real else
            "face backend (auto): none installed - real footage shows no face, so all its speech counts as "
            "voice-over and --timing lips is refused (pip install 'deepaudio[vision]')")
    why = {"mediapipe": "478-point face mesh bundled in this mediapipe release",
           "dlib": "HOG detector + 68-point landmarks (face-recognition-models); current mediapipe and OpenCV "
                   "wheels bundle no face model"}
    lines = [head + (f" ({why[real[0]]})" if real else "")]
    lines.append("  toon (cartoon faces): only on videos tagged by the toy world, or with --face-backend toon")
    return "\n".join(lines)


def detection_rate(backend: Backend, frames: np.ndarray) -> float:
    """Fraction of ``frames`` [N, H, W, 3] in which the backend sees at least one face."""
    if len(frames) == 0:
        return 0.0
    return sum(1 for f in frames if backend(f)) / len(frames)


def probe_indices(n: int, count: int = 12) -> list[int]:
    """Evenly spread frame indices used to choose a backend without running it on the whole video."""
    if n <= count:
        return list(range(n))
    return sorted({int(math.floor((k + 0.5) * n / count)) for k in range(count)})
