"""Learning-rate schedulers: the same sequences as torch.optim.lr_scheduler, state dicts, bad arguments."""
from __future__ import annotations

import math

import numpy as np
import pytest

import pyneural as pn
from pyneural import optim
from pyneural.optim import lr_scheduler


def _pair(torch, name="SGD", lrs=(0.1, 0.03), **options):
    """Our optimizer and torch's, each with two parameter groups of different learning rates."""
    ours = [pn.tensor(np.zeros(2), requires_grad=True) for _ in lrs]
    theirs = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in lrs]
    def groups(ps):
        return [{"params": [p], "lr": lr} for p, lr in zip(ps, lrs)]
    return (getattr(optim, name)(groups(ours), lr=lrs[0], **options),
            getattr(torch.optim, name)(groups(theirs), lr=lrs[0], **options))


def _run(ours_sched, their_sched, ours_opt, their_opt, steps, metrics=None):
    """Step both (optimizer step first, as PyTorch wants) and compare the lrs after every step."""
    assert ours_sched.get_last_lr() == pytest.approx(their_sched.get_last_lr(), rel=1e-13, abs=0)
    for i in range(steps):
        ours_opt.step()
        their_opt.step()
        if metrics is None:
            ours_sched.step()
            their_sched.step()
        else:
            ours_sched.step(metrics[i])
            their_sched.step(metrics[i])
        assert ours_sched.get_last_lr() == pytest.approx(their_sched.get_last_lr(), rel=1e-13, abs=1e-300), i
        assert [g["lr"] for g in ours_opt.param_groups] == pytest.approx([g["lr"] for g in their_opt.param_groups],
                                                                         rel=1e-13, abs=1e-300)


@pytest.mark.parametrize("cls,kwargs,steps", [
    ("StepLR", dict(step_size=3), 12),
    ("StepLR", dict(step_size=2, gamma=0.5), 9),
    ("ExponentialLR", dict(gamma=0.9), 10),
    ("CosineAnnealingLR", dict(T_max=7), 30),  # past T_max it rises again
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.001), 12),
])
def test_sequences_match_torch(cls, kwargs, steps):
    torch = pytest.importorskip("torch")
    ours_opt, their_opt = _pair(torch)
    ours = getattr(lr_scheduler, cls)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, cls)(their_opt, **kwargs)
    _run(ours, theirs, ours_opt, their_opt, steps)


@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", factor=0.5, patience=1, threshold=0.1),
                                    dict(patience=2, cooldown=2, min_lr=0.004),
                                    dict(patience=0, threshold_mode="abs", threshold=0.05, min_lr=[0.01, 0.0])])
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours_opt, their_opt = _pair(torch)
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(their_opt, **kwargs)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.92, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6, 0.7] + [0.8] * 12
    if kwargs.get("mode") == "max":
        metrics = [-m for m in metrics]
    _run(ours, theirs, ours_opt, their_opt, len(metrics), metrics)
    assert ours.best == theirs.best and ours.num_bad_epochs == theirs.num_bad_epochs


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(max_lr=0.5, total_steps=20)),
    ("SGD", dict(max_lr=[0.5, 0.2], epochs=3, steps_per_epoch=7, anneal_strategy="linear", pct_start=0.25)),
    ("SGD", dict(max_lr=1.0, total_steps=30, three_phase=True, div_factor=10.0, final_div_factor=100.0)),
    ("Adam", dict(max_lr=0.01, total_steps=16, base_momentum=0.8, max_momentum=0.9)),
    ("Adam", dict(max_lr=0.01, total_steps=10, cycle_momentum=False)),
])
def test_one_cycle_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours_opt, their_opt = _pair(torch, name, **({"momentum": 0.9} if name == "SGD" else {}))
    ours = lr_scheduler.OneCycleLR(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.OneCycleLR(their_opt, **kwargs)
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    key = "betas" if name == "Adam" else "momentum"
    for _ in range(total - 1):
        _run(ours, theirs, ours_opt, their_opt, 1)
        for ours_group, their_group in zip(ours_opt.param_groups, their_opt.param_groups):
            assert ours_group[key] == pytest.approx(their_group[key], rel=1e-13)
    with pytest.raises(ValueError, match="total_steps"):
        ours.step()
        ours.step()


def test_scheduler_state_dict_round_trip(tmp_path):
    w = pn.tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([w], lr=1.0, momentum=0.9)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        opt.step()
        sched.step()
    pn.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ckpt.safetensors")
    expected = []
    for _ in range(4):
        opt.step()
        sched.step()
        expected.append(sched.get_last_lr()[0])

    w2 = pn.tensor(np.zeros(2), requires_grad=True)
    opt2 = optim.SGD([w2], lr=1.0, momentum=0.9)
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
    checkpoint = pn.load(tmp_path / "ckpt.safetensors")
    opt2.load_state_dict(checkpoint["optimizer"])
    sched2.load_state_dict(checkpoint["scheduler"])
    got = []
    for _ in range(4):
        opt2.step()
        sched2.step()
        got.append(sched2.get_last_lr()[0])
    assert got == expected


def test_reduce_on_plateau_state_dict_keeps_infinite_best(tmp_path):
    w = pn.tensor(np.zeros(2), requires_grad=True)
    sched = lr_scheduler.ReduceLROnPlateau(optim.SGD([w], lr=1.0))
    pn.save({"scheduler": sched.state_dict()}, tmp_path / "s.safetensors")
    assert pn.load(tmp_path / "s.safetensors")["scheduler"]["best"] == math.inf


def test_scheduler_accepts_a_metric_tensor():
    w = pn.tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(pn.tensor(1.0))
    sched.step(pn.tensor(2.0))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


@pytest.mark.parametrize("make,argument", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), "step_size"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), "step_size"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-1.0), "gamma"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=float("nan")), "gamma"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "T_max"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=-1.0), "eta_min"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), "factor"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), "mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), "threshold_mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), "patience"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), "min_lr"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1), "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=0), "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5), "pct_start"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"), "anneal_strategy"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=10), "max_lr"),
])
def test_invalid_arguments_raise(make, argument):
    opt = optim.SGD([pn.tensor(np.zeros(2), requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match=argument):
        make(opt)


def test_one_cycle_needs_momentum_to_cycle():
    opt = optim.Adagrad([pn.tensor(np.zeros(2), requires_grad=True)])
    with pytest.raises(ValueError, match="cycle_momentum"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="not a pyneural Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
