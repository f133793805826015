"""deepaudio.flow: probability path and masked loss, time grids, ODE solvers, CFG, seeded noise."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepaudio.flow import (
    FlowPath,
    cfg_combine,
    epss_grid,
    guided_velocity,
    make_generator,
    make_time_grid,
    noise_for_lengths,
    odeint,
    randn,
    sway,
    uniform_grid,
)
from deepaudio.flow.schedules import EPSS_STEPS
from deepaudio.flow.solvers import function_evaluations


def _pair(shape=(3, 7, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


# --- path and loss --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma_min", [0.0, 1e-4, 0.1])
def test_path_endpoints_and_velocity(sigma_min):
    path = FlowPath(sigma_min=sigma_min)
    x0, x1 = _pair()
    assert torch.equal(path.interpolate(x0, x1, torch.zeros(3)), x0)
    assert torch.allclose(path.interpolate(x0, x1, torch.ones(3)), x1 + sigma_min * x0)
    # The target velocity is the time derivative of the path (it is a straight line).
    t = torch.tensor([0.1, 0.5, 0.9])
    h = 1e-3
    fd = (path.interpolate(x0, x1, t + h) - path.interpolate(x0, x1, t - h)) / (2 * h)
    assert torch.allclose(fd, path.velocity(x0, x1).expand_as(fd), atol=1e-3)


def test_path_time_is_per_sample_or_scalar():
    path = FlowPath()
    x0, x1 = _pair()
    t = torch.tensor([0.0, 0.25, 1.0])
    xt = path.interpolate(x0, x1, t)
    for i in range(3):
        assert torch.allclose(xt[i], (1 - t[i]) * x0[i] + t[i] * x1[i])
    assert torch.allclose(path.interpolate(x0, x1, 0.25), 0.75 * x0 + 0.25 * x1)


def test_sample_time_is_seeded_and_in_unit_interval():
    path = FlowPath()
    a = path.sample_time(64, make_generator(3))
    b = path.sample_time(64, make_generator(3))
    assert torch.equal(a, b) and a.shape == (64,) and bool(((a >= 0) & (a < 1)).all())


def test_loss_masking_ignores_padding():
    path = FlowPath()
    x0, x1 = _pair()
    pred = torch.randn(x0.shape, generator=torch.Generator().manual_seed(9))
    mask = torch.zeros(3, 7, dtype=torch.bool)
    mask[0, :7] = True
    mask[1, :4] = True
    mask[2, 2:5] = True
    loss = path.loss(pred, x0, x1, mask)
    # Garbage in the padded frames (of the prediction, the noise or the data) changes nothing.
    junk = torch.full_like(pred, 1e6)
    keep = mask.unsqueeze(-1)
    assert torch.equal(path.loss(torch.where(keep, pred, junk), x0, x1, mask), loss)
    assert torch.equal(path.loss(pred, torch.where(keep, x0, junk), torch.where(keep, x1, -junk), mask), loss)
    # It is the mean over the selected elements, not diluted by padding.
    err = (pred - (x1 - x0)) ** 2
    assert torch.allclose(loss, err[mask].mean())
    assert torch.allclose(path.loss(pred, x0, x1), err.mean())
    nothing = path.loss(pred, x0, x1, torch.zeros(3, 7, dtype=torch.bool))
    assert nothing.item() == 0.0


def test_loss_is_zero_for_the_exact_velocity():
    path = FlowPath(sigma_min=0.01)
    x0, x1 = _pair()
    assert path.loss(path.velocity(x0, x1), x0, x1).item() == 0.0


# --- time grids --------------------------------------------------------------------------------------------------
def test_uniform_grid():
    assert torch.equal(uniform_grid(4), torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert torch.equal(make_time_grid(4), uniform_grid(4))
    with pytest.raises(ValueError):
        uniform_grid(0)


def test_epss_grids():
    assert torch.allclose(epss_grid(7), torch.tensor([0, 2, 4, 6, 8, 16, 24, 32]) / 32)
    for steps in EPSS_STEPS:
        g = epss_grid(steps)
        assert g.shape == (steps + 1,) and g[0] == 0 and g[-1] == 1 and bool((g[1:] > g[:-1]).all())
    assert torch.equal(epss_grid(9), uniform_grid(9))  # no table entry: uniform, as in the reference
    with pytest.raises(ValueError, match="unknown time schedule"):
        make_time_grid(7, "cosine")


def test_epss7_with_sway_equals_the_f5_reference_grid(parity_dir):
    from safetensors.torch import load_file

    ref = load_file(str(parity_dir / "f5_cfm_euler_b1_epss7.safetensors"))["in.t_grid"]
    assert torch.equal(make_time_grid(7, "epss", sway_coef=-1.0), ref)
    uniform_ref = load_file(str(parity_dir / "f5_cfm_euler.safetensors"))["in.t_grid"]
    assert torch.equal(make_time_grid(uniform_ref.numel() - 1, "uniform", sway_coef=-1.0), uniform_ref)


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(1, 64), coef=st.floats(-1.0, 0.0))
def test_sway_keeps_endpoints_order_and_leans_towards_noise(steps, coef):
    t = uniform_grid(steps, dtype=torch.float64)
    s = sway(t, coef)
    assert s[0] == 0 and abs(s[-1].item() - 1) < 1e-12
    assert bool((s[1:] > s[:-1]).all())
    assert bool((s <= t + 1e-12).all())  # s <= 0 moves every step towards t = 0
    assert torch.equal(sway(t, None), t)


# --- solvers -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_constant_velocity_is_exact_for_every_solver(method):
    x0 = torch.randn(2, 3, dtype=torch.float64)
    v = torch.randn(2, 3, dtype=torch.float64)
    out = odeint(lambda t, x: v, x0, make_time_grid(5, "epss", -1.0).double(), method)
    assert torch.allclose(out, x0 + v, atol=1e-12)


@pytest.mark.parametrize("method", ["midpoint", "rk4"])
def test_time_linear_velocity_is_exact_above_first_order(method):
    # dx/dt = a + b t from 0 to 1: x(1) = x0 + a + b / 2, integrated exactly by methods of order >= 2.
    a, b, x0 = 0.3, -1.7, torch.tensor([2.0], dtype=torch.float64)
    grid = torch.tensor([0.0, 0.1, 0.45, 1.0], dtype=torch.float64)
    out = odeint(lambda t, x: a + b * t * torch.ones_like(x), x0, grid, method)
    assert torch.allclose(out, x0 + a + b / 2, atol=1e-12)
    euler = odeint(lambda t, x: a + b * t * torch.ones_like(x), x0, grid, "euler")
    assert not torch.allclose(euler, x0 + a + b / 2, atol=1e-3)


@pytest.mark.parametrize("steps", [1, 4, 7, 32])
def test_euler_follows_the_straight_path_of_a_point_mass(steps):
    # For data = a single point x1 the rectified-flow velocity is (x1 - x) / (1 - t) and its trajectories are
    # straight lines, so Euler lands on x1 exactly on any grid (why few-step sampling works for straight flows).
    x0, x1 = _pair((2, 4))
    grid = make_time_grid(steps, "epss", -1.0).double()
    out = odeint(lambda t, x: (x1.double() - x) / (1 - t), x0.double(), grid, "euler")
    assert torch.allclose(out, x1.double(), atol=1e-10)


@pytest.mark.parametrize("method,order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_convergence_order_on_exponential_growth(method, order):
    x0 = torch.ones(1, dtype=torch.float64)
    errors = [abs(odeint(lambda t, x: x, x0, uniform_grid(n, dtype=torch.float64), method).item() - math.e)
              for n in (8, 16, 32)]
    rates = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert all(abs(r - order) < 0.15 for r in rates), rates
    assert function_evaluations(method, 10) == 10 * order


def test_trajectory_progress_and_time_argument():
    calls = []

    def f(t, x):
        assert isinstance(t, torch.Tensor) and t.ndim == 0 and t.dtype == torch.float32
        return torch.ones_like(x)

    traj = odeint(f, torch.zeros(2), uniform_grid(4), "euler", return_trajectory=True,
                  progress=lambda k, n: calls.append((k, n)))
    assert traj.shape == (5, 2) and torch.equal(traj[0], torch.zeros(2))
    assert torch.allclose(traj[:, 0], torch.linspace(0, 1, 5))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    # Integrating backwards along a decreasing grid undoes a forward pass of a constant field.
    back = odeint(lambda t, x: torch.ones_like(x), traj[-1], uniform_grid(4).flip(0), "rk4")
    assert torch.allclose(back, torch.zeros(2), atol=1e-6)


def test_solver_errors():
    with pytest.raises(ValueError, match="unknown ODE solver"):
        odeint(lambda t, x: x, torch.zeros(1), uniform_grid(2), "dopri5")
    with pytest.raises(ValueError, match="at least two"):
        odeint(lambda t, x: x, torch.zeros(1), torch.zeros(1), "euler")


# --- classifier-free guidance ------------------------------------------------------------------------------------
def _branches():
    w_c, w_u = torch.randn(5, 5, generator=torch.Generator().manual_seed(1)), torch.randn(5, 5)

    def cond(t, x):
        return x @ w_c + t

    def uncond(t, x):
        return x @ w_u - t

    def batched(t, x):  # one pass over the doubled batch [x; x], as a CFG-batched network runs
        n = x.shape[0]
        xx = torch.cat([x, x])
        out = torch.cat([xx[:n] @ w_c + t, xx[n:] @ w_u - t])
        return out[:n], out[n:]

    return cond, uncond, batched


def test_cfg_weight_one_is_the_conditional_pass_and_skips_the_unconditional():
    cond, _, _ = _branches()

    def uncond_must_not_run(t, x):
        raise AssertionError("unconditional branch evaluated at weight 1")

    x, t = torch.randn(3, 5), torch.tensor(0.3)
    f = guided_velocity(cond, uncond_must_not_run, 1.0)
    assert torch.equal(f(t, x), cond(t, x))
    assert torch.equal(cfg_combine(cond(t, x), torch.zeros(3, 5), 1.0), cond(t, x))


@pytest.mark.parametrize("weight", [0.0, 3.0, 4.5])
def test_cfg_formula_and_batched_equals_two_pass(weight):
    cond, uncond, batched = _branches()
    x, t = torch.randn(3, 5), torch.tensor(0.7)
    vc, vu = cond(t, x), uncond(t, x)
    two_pass = guided_velocity(cond, uncond, weight)(t, x)
    one_pass = guided_velocity(cond, None, weight, batched_fn=batched)(t, x)
    assert torch.allclose(two_pass, vu + weight * (vc - vu), atol=1e-6)
    assert torch.allclose(one_pass, two_pass, atol=1e-6)
    if weight == 0.0:
        assert torch.allclose(two_pass, vu)


def test_f5_cfg_strength_maps_to_weight_one_plus_s():
    vc, vu = torch.randn(4), torch.randn(4)
    s = 2.0  # F5-TTS: v = v_c + s (v_c - v_u)
    assert torch.allclose(cfg_combine(vc, vu, 1 + s), vc + s * (vc - vu), atol=1e-6)


# --- noise ------------------------------------------------------------------------------------------------------
def test_seeded_noise_reproduces():
    a = randn((2, 3, 4), make_generator(123))
    b = randn((2, 3, 4), make_generator(123))
    c = randn((2, 3, 4), make_generator(124))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert randn((2,), make_generator(1), dtype=torch.float64).dtype == torch.float64
    # Unseeded generators differ from run to run.
    assert not torch.equal(randn((16,), make_generator(None)), randn((16,), make_generator(None)))


def test_noise_for_lengths_draws_per_sample_and_pads_with_zeros():
    noise = noise_for_lengths([3, 5], 4, make_generator(7))
    assert noise.shape == (2, 5, 4)
    assert torch.all(noise[0, 3:] == 0) and torch.all(noise[0, :3] != 0)
    # Sample 0 comes first from the generator, so its noise does not depend on the rest of the batch.
    alone = noise_for_lengths([3], 4, make_generator(7))
    assert torch.equal(alone[0], noise[0, :3])
    # F5-TTS draws randn(duration_i, C) sample by sample: same numbers for the same seed.
    g = torch.Generator().manual_seed(7)
    ref = [torch.randn(3, 4, generator=g), torch.randn(5, 4, generator=g)]
    assert torch.equal(noise[1], ref[1]) and torch.equal(noise[0, :3], ref[0])
