"""Event-driven 2-D physics: exact contact times, not frame-quantised ones.

Between events every object moves on a parabola ``p(s) = p + v s + a s^2 / 2`` (gravity while in
flight; sliding friction while resting on the floor), so wall contacts are roots of a quadratic and
pair contacts are roots of the quartic ``|dp + dv s + da s^2 / 2|^2 = (r1 + r2)^2``. We jump from event
to event, which gives each contact's time to floating-point precision; impact sounds are then placed
at that exact sample and frames are sampled from the same analytic trajectories.

Screen coordinates: x to the right, y downwards (gravity is +y). Squares collide as their inscribed
circle against each other and as boxes against the walls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPS = 1e-9


@dataclass
class Body:
    shape: str  # "circle" | "square"
    radius: float  # circle radius or half the square side
    material: str
    pos: np.ndarray  # (2,)
    vel: np.ndarray  # (2,)
    acc: np.ndarray  # (2,)
    resting: bool = False

    @property
    def mass(self) -> float:
        return self.radius**2


@dataclass(frozen=True)
class Contact:
    time: float
    kind: str  # "floor" | "ceiling" | "left" | "right" | "pair"
    bodies: tuple[int, ...]
    speed: float  # normal impact speed, px/s
    position: tuple[float, float]


@dataclass
class Trajectory:
    """Piecewise-parabolic motion of every body: segment k is valid for times [starts[k], starts[k+1])."""

    starts: list[float] = field(default_factory=list)
    states: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = field(default_factory=list)

    def positions(self, times: np.ndarray) -> np.ndarray:
        """(T, n_bodies, 2) positions at ``times``."""
        idx = np.searchsorted(np.asarray(self.starts), times, side="right") - 1
        idx = np.clip(idx, 0, len(self.starts) - 1)
        n = len(self.states[0])
        out = np.zeros((len(times), n, 2))
        for j, (t, k) in enumerate(zip(times, idx)):
            s = t - self.starts[k]
            for b, (p, v, a) in enumerate(self.states[k]):
                out[j, b] = p + v * s + 0.5 * a * s * s
        return out


def _first_root(coeffs: list[float], valid) -> float | None:
    """Smallest real root s > EPS of the polynomial (highest power first) that satisfies ``valid(s)``."""
    c = np.asarray(coeffs, dtype=np.float64)
    nz = np.flatnonzero(np.abs(c) > 1e-12)
    if len(nz) == 0 or nz[0] == len(c) - 1:
        return None
    roots = np.roots(c[nz[0]:])
    best = None
    for r in roots:
        if abs(r.imag) > 1e-7 * max(1.0, abs(r.real)):
            continue
        s = float(r.real)
        if s > EPS and valid(s) and (best is None or s < best):
            best = s
    return best


def _quadratic_first(a: float, b: float, c: float, sign: float) -> float | None:
    """Smallest s > EPS with a s^2 + b s + c = 0 at which the velocity 2 a s + b has the given sign."""
    if abs(a) < 1e-12:
        roots = [] if abs(b) < 1e-12 else [-c / b]
    else:
        disc = b * b - 4 * a * c
        if disc < 0:
            return None
        q = -0.5 * (b + np.copysign(np.sqrt(disc), b))  # the numerically stable pair of roots
        roots = [q / a] + ([c / q] if q != 0 else [])
    good = [s for s in roots if s > EPS and sign * (2 * a * s + b) > 0]
    return min(good) if good else None


def _wall_events(b: Body, lo: tuple[float, float], hi: tuple[float, float]):
    """(time, wall name, axis) of each wall the body will reach, approaching it."""
    names = (("left", "right"), ("ceiling", "floor"))
    for axis in (0, 1):
        p, v, a = float(b.pos[axis]), float(b.vel[axis]), float(b.acc[axis])
        if axis == 1 and b.resting:
            continue
        for side, target, sign in ((0, lo[axis] + b.radius, -1.0), (1, hi[axis] - b.radius, 1.0)):
            if sign * (p - target) >= -1e-9 and sign * v > 0:
                yield 0.0, names[axis][side], axis  # already touching and pushed into it (by a collision)
                continue
            s = _quadratic_first(0.5 * a, v, p - target, sign)
            if s is not None:
                yield s, names[axis][side], axis


def _pair_time(b1: Body, b2: Body) -> float | None:
    C = b2.pos - b1.pos
    B = b2.vel - b1.vel
    A = 0.5 * (b2.acc - b1.acc)
    R = b1.radius + b2.radius
    if C @ C <= R * R * (1 + 1e-9) and B @ C < 0:
        return 0.0  # touching and approaching (pushed by a simultaneous contact): resolve now
    coeffs = [A @ A, 2 * A @ B, B @ B + 2 * A @ C, 2 * B @ C, C @ C - R * R]

    def approaching(s: float) -> bool:
        d = C + B * s + A * s * s
        dv = B + 2 * A * s
        return float(d @ dv) < 0

    return _first_root(coeffs, approaching)


def _advance(bodies: list[Body], s: float) -> None:
    for b in bodies:
        b.pos = b.pos + b.vel * s + 0.5 * b.acc * s * s
        b.vel = b.vel + b.acc * s


def _update_friction(b: Body, friction: float) -> None:
    b.acc = np.array([-np.sign(b.vel[0]) * friction if b.resting and abs(b.vel[0]) > EPS else 0.0,
                      b.acc[1]])


def simulate(bodies: list[Body], duration: float, box: tuple[float, float, float, float], *, gravity: float,
             restitution: dict[int, float], rest_speed: float, friction: float,
             max_events: int = 400) -> tuple[Trajectory, list[Contact], bool]:
    """Run the world from t=0 to ``duration`` inside ``box = (x0, y0, x1, y1)``.

    Returns the trajectory, the contacts in time order and whether the event cap cut the run short
    (then every body freezes where it is, silently).
    """
    lo, hi = (box[0], box[1]), (box[2], box[3])
    for b in bodies:
        b.acc = np.array([0.0, 0.0 if b.resting else gravity])
        _update_friction(b, friction)
    traj, contacts, t = Trajectory(), [], 0.0
    for _ in range(max_events):
        traj.starts.append(t)
        traj.states.append([(b.pos.copy(), b.vel.copy(), b.acc.copy()) for b in bodies])
        best = (duration - t, None)
        for i, b in enumerate(bodies):
            for s, wall, axis in _wall_events(b, lo, hi):
                if s < best[0]:
                    best = (s, ("wall", i, wall, axis))
            if b.resting and b.acc[0] != 0.0:
                s = -b.vel[0] / b.acc[0]
                if EPS < s < best[0]:
                    best = (s, ("stop", i))
            for j in range(i + 1, len(bodies)):
                s = _pair_time(b, bodies[j])
                if s is not None and s < best[0]:
                    best = (s, ("pair", i, j))
        s, event = best
        _advance(bodies, s)
        t += s
        if event is None:
            return traj, contacts, False
        if event[0] == "stop":
            b = bodies[event[1]]
            b.vel[0], b.acc[0] = 0.0, 0.0
        elif event[0] == "wall":
            contacts.append(_bounce_wall(bodies, event, t, restitution, rest_speed, friction))
        else:
            contacts.append(_bounce_pair(bodies, event[1], event[2], t, restitution, rest_speed, gravity, friction))
    traj.starts.append(t)
    traj.states.append([(b.pos.copy(), np.zeros(2), np.zeros(2)) for b in bodies])
    return traj, contacts, True


def _bounce_wall(bodies, event, t, restitution, rest_speed, friction) -> Contact:
    _, i, wall, axis = event
    b = bodies[i]
    speed = abs(float(b.vel[axis]))
    b.vel[axis] = -restitution[i] * b.vel[axis]
    if wall == "floor" and abs(b.vel[axis]) < rest_speed:
        b.vel[1], b.acc[1], b.resting = 0.0, 0.0, True
        b.vel[0] *= 0.7  # energy lost to the floor when settling
    _update_friction(b, friction)
    return Contact(t, wall, (i,), speed, (float(b.pos[0]), float(b.pos[1])))


def _bounce_pair(bodies, i, j, t, restitution, rest_speed, gravity, friction) -> Contact:
    b1, b2 = bodies[i], bodies[j]
    n = b2.pos - b1.pos
    n = n / max(np.linalg.norm(n), EPS)
    u = float((b2.vel - b1.vel) @ n)  # < 0: approaching
    e = min(restitution[i], restitution[j])
    # A resting body pushed down into the floor is held by it: it acts as if infinitely heavy.
    inv1 = 0.0 if b1.resting and -n[1] > 0 else 1.0 / b1.mass
    inv2 = 0.0 if b2.resting and n[1] > 0 else 1.0 / b2.mass
    if inv1 == 0.0 and inv2 == 0.0:
        inv1, inv2 = 1.0 / b1.mass, 1.0 / b2.mass
    jimp = -(1 + e) * u / (inv1 + inv2)
    b1.vel = b1.vel - jimp * inv1 * n
    b2.vel = b2.vel + jimp * inv2 * n
    if abs(u) * e < rest_speed:
        # Bodies never balance on each other: a slow contact rolls the upper one off sideways.
        side = 1.0 if n[0] >= 0 else -1.0
        b1.vel[0] -= side * rest_speed
        b2.vel[0] += side * rest_speed
    for b in (b1, b2):
        if b.resting:
            if b.vel[1] < 0:
                b.resting, b.acc[1] = False, gravity
            else:
                b.vel[1] = 0.0
        _update_friction(b, friction)
    mid = (b1.pos * b2.radius + b2.pos * b1.radius) / (b1.radius + b2.radius)
    return Contact(t, "pair", (i, j), abs(u), (float(mid[0]), float(mid[1])))
