"""Flow matching, independent of any network.

A backbone is only ``f(x_t, t, conditions) -> velocity``; this package owns the probability path and
loss (:mod:`.path`), the time grids (:mod:`.schedules`), the ODE solvers (:mod:`.solvers`),
classifier-free guidance (:mod:`.guidance`) and reproducible noise (:mod:`.noise`).
"""

from deepaudio.flow.guidance import cfg_combine, guided_velocity
from deepaudio.flow.noise import make_generator, noise_for_lengths, randn
from deepaudio.flow.path import FlowPath
from deepaudio.flow.schedules import epss_grid, make_time_grid, sway, uniform_grid
from deepaudio.flow.solvers import SOLVERS, odeint

__all__ = [
    "FlowPath", "SOLVERS", "cfg_combine", "epss_grid", "guided_velocity", "make_generator", "make_time_grid",
    "noise_for_lengths", "odeint", "randn", "sway", "uniform_grid",
]
