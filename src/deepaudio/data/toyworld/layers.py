"""Scene layers: each one owns some picture and some sound, and records its ground truth.

A layer is built from a random generator and a region of the frame; it then draws itself at any
time ``t`` and renders its sound at any sample rate. Scenes (``scenes.py``) stack layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepaudio.data.toyworld.config import WorldConfig
from deepaudio.data.toyworld.materials import MATERIALS
from deepaudio.data.toyworld.physics import Body, simulate
from deepaudio.data.toyworld.render import Canvas
from deepaudio.data.toyworld.sounds import HUMS, hum_track, impacts_track


@dataclass
class BounceLayer:
    """Objects falling, bouncing off the floor and walls and colliding, with modal impact sounds."""

    box: tuple[float, float, float, float]
    bodies: list[dict]
    contacts: list[dict]
    positions: np.ndarray  # (T, n, 2) at the video frames
    truncated: bool
    seed: int
    audible_speed: float
    floor_y: float = field(default=0.0)

    @classmethod
    def build(cls, rng: np.random.Generator, cfg: WorldConfig, box, duration: float, seed: int) -> BounceLayer:
        scale = cfg.size / 112.0
        n = int(rng.integers(1, cfg.max_objects + 1))
        names = list(MATERIALS)
        bodies: list[Body] = []
        for _ in range(200):
            if len(bodies) == n:
                break
            r = float(rng.uniform(5.0, 10.0) * scale)
            top = box[1] + 0.6 * (box[3] - box[1])
            pos = np.array([rng.uniform(box[0] + r, box[2] - r), rng.uniform(box[1] + r, top)])
            if any(np.linalg.norm(pos - b.pos) < r + b.radius + 2 for b in bodies):
                continue
            vel = np.array([rng.uniform(-120, 120), rng.uniform(-150, 60)]) * scale
            shape = "circle" if rng.random() < 0.6 else "square"
            bodies.append(Body(shape, r, names[int(rng.integers(len(names)))], pos, vel, np.zeros(2)))
        static = [dict(shape=b.shape, radius=b.radius, material=b.material, color=list(MATERIALS[b.material].color),
                       start_pos=b.pos.tolist(), start_vel=b.vel.tolist()) for b in bodies]
        rest = {i: MATERIALS[b.material].restitution for i, b in enumerate(bodies)}
        traj, contacts, truncated = simulate(bodies, duration, box, gravity=cfg.gravity * scale, restitution=rest,
                                             rest_speed=cfg.rest_speed * scale, friction=cfg.friction * scale,
                                             max_events=cfg.max_events)
        n_frames = int(round(duration * cfg.fps))
        positions = traj.positions(np.arange(n_frames) / cfg.fps)
        records = []
        for c in contacts:
            records.append(dict(
                time=c.time, frame=int(round(c.time * cfg.fps)), sample_16k=int(round(c.time * cfg.sr_ambience)),
                sample_24k=int(round(c.time * cfg.sr_speech)), kind=c.kind, bodies=list(c.bodies),
                materials=[static[i]["material"] for i in c.bodies], radii=[static[i]["radius"] for i in c.bodies],
                speed=c.speed, position=list(c.position), audible=c.speed >= cfg.audible_speed * scale))
        return cls(box, static, records, positions, truncated, seed, cfg.audible_speed * scale, box[3])

    def draw(self, canvas: Canvas, frame: int) -> None:
        canvas.box(self.box[0], self.floor_y, self.box[2], self.floor_y + 3, (70, 70, 70))
        for b, (x, y) in zip(self.bodies, self.positions[frame]):
            if b["shape"] == "circle":
                canvas.disc(x, y, b["radius"], b["color"])
            else:
                canvas.square(x, y, b["radius"], b["color"])

    def sound(self, n_samples: int, sr: int) -> np.ndarray:
        return impacts_track(self.contacts, n_samples, sr, self.seed, self.audible_speed)

    def truth(self) -> dict:
        return dict(type="bounce", box=list(self.box), bodies=self.bodies, contacts=self.contacts,
                    truncated=self.truncated, positions=np.round(self.positions, 2).tolist())


@dataclass
class HumLayer:
    """Engine-like sources swinging left and right; the hum's pitch and level follow the speed."""

    sources: list[dict]
    fps: int
    seed: int
    n_frames: int

    @classmethod
    def build(cls, rng: np.random.Generator, cfg: WorldConfig, box, duration: float, seed: int) -> HumLayer:
        scale = cfg.size / 112.0
        n = int(rng.integers(1, 3))
        lanes = np.linspace(box[1] + 0.3 * (box[3] - box[1]), box[3] - 0.2 * (box[3] - box[1]), n)
        names = list(HUMS)
        sources = []
        for k in range(n):
            half = float(rng.uniform(7, 11) * scale)
            amp = float(rng.uniform(0.25, 0.4) * (box[2] - box[0]))
            cx = 0.5 * (box[0] + box[2])
            sources.append(dict(hum=names[int(rng.integers(len(names)))], y=float(lanes[k]), cx=cx, amp=amp,
                                omega=float(rng.uniform(0.6, 2.2)), phase=float(rng.uniform(0, 2 * np.pi)),
                                half=half, gain=float(rng.uniform(0.08, 0.15))))
        return cls(sources, cfg.fps, seed, int(round(duration * cfg.fps)))

    @staticmethod
    def _x(s: dict, t: np.ndarray) -> np.ndarray:
        return s["cx"] + s["amp"] * np.sin(s["omega"] * t + s["phase"])

    @staticmethod
    def _speed(s: dict, t: np.ndarray) -> np.ndarray:
        return np.abs(s["amp"] * s["omega"] * np.cos(s["omega"] * t + s["phase"]))

    def draw(self, canvas: Canvas, frame: int) -> None:
        t = np.array([frame / self.fps])
        for s in self.sources:
            x, y, h = float(self._x(s, t)[0]), s["y"], s["half"]
            color = HUMS[s["hum"]].color
            if s["hum"] == "drone":
                canvas.box(x - 1.4 * h, y - 0.2 * h, x + 1.4 * h, y + 0.2 * h, (30, 30, 30))
                canvas.disc(x, y, 0.7 * h, color)
            else:
                canvas.box(x - 1.3 * h, y - 0.7 * h, x + 1.3 * h, y + 0.3 * h, color)
                for dx in (-0.8 * h, 0.8 * h):
                    canvas.disc(x + dx, y + 0.35 * h, 0.38 * h, (25, 25, 25))

    def sound(self, n_samples: int, sr: int) -> np.ndarray:
        t = np.arange(n_samples) / sr
        out = np.zeros(n_samples, dtype=np.float32)
        for k, s in enumerate(self.sources):
            out += hum_track(HUMS[s["hum"]], self._speed(s, t), sr, self.seed + k, gain=s["gain"])
        return out

    def truth(self) -> dict:
        srcs = []
        for s in self.sources:
            t = np.arange(self.n_frames) / self.fps
            hum = HUMS[s["hum"]]
            speed = self._speed(s, t)
            srcs.append(dict(s, x=np.round(self._x(s, t), 2).tolist(), speed=np.round(speed, 2).tolist(),
                             f0=np.round(hum.idle_hz + hum.hz_per_speed * speed, 2).tolist()))
        return dict(type="hum", sources=srcs)


@dataclass
class SilentLayer:
    """Shapes gliding in separate lanes that never touch anything: the correct sound is none."""

    shapes: list[dict]
    fps: int

    @classmethod
    def build(cls, rng: np.random.Generator, cfg: WorldConfig, box, duration: float, seed: int) -> SilentLayer:
        del seed
        n = int(rng.integers(1, cfg.max_objects + 1))
        lane_h = (box[3] - box[1]) / n
        names = list(MATERIALS)
        shapes = []
        for k in range(n):
            r = float(min(0.35 * lane_h, rng.uniform(5, 10) * cfg.size / 112.0))
            x0 = float(rng.uniform(box[0] + r, box[2] - r))
            room = (box[2] - r - x0) if rng.random() < 0.5 else (box[0] + r - x0)
            vx = float(room / duration * rng.uniform(0.2, 0.95))  # never reaches the edge within the clip
            mat = names[int(rng.integers(len(names)))]
            shapes.append(dict(shape="circle" if rng.random() < 0.5 else "square", radius=r, material=mat,
                               color=list(MATERIALS[mat].color), x0=x0, vx=vx, y=float(box[1] + (k + 0.5) * lane_h)))
        return cls(shapes, cfg.fps)

    def draw(self, canvas: Canvas, frame: int) -> None:
        t = frame / self.fps
        for s in self.shapes:
            x = s["x0"] + s["vx"] * t
            if s["shape"] == "circle":
                canvas.disc(x, s["y"], s["radius"], s["color"])
            else:
                canvas.square(x, s["y"], s["radius"], s["color"])

    def sound(self, n_samples: int, sr: int) -> np.ndarray:
        del sr
        return np.zeros(n_samples, dtype=np.float32)

    def truth(self) -> dict:
        return dict(type="silent", shapes=self.shapes)
