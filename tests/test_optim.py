"""Optimizers: the fused update kernels (every backend and CPU variant) against a NumPy float64
reference, the optimizers against torch.optim step by step, param groups, state dicts, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural import optim
from pyneural.kernels import adagrad_update, adam_update, rmsprop_update, sgd_update

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


# ---------------------------------------------------------------------------------- the kernels

def _lerp(start, end, weight):
    return start + weight * (end - start) if weight < 0.5 else end - (end - start) * (1 - weight)


def reference_sgd(p, g, buf, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, first_step=False):
    d = g + weight_decay * p
    if momentum != 0:
        buf = d.copy() if first_step else momentum * buf + (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    return p - lr * d, buf


def reference_adam(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled, v_max=None):
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    m = _lerp(m, g, 1 - beta1)
    v = beta2 * v + (1 - beta2) * g * g
    if v_max is not None:
        v_max = np.maximum(v_max, v)
    denom = np.sqrt(v if v_max is None else v_max) / np.sqrt(1 - beta2 ** step) + eps
    return (p - lr / (1 - beta1 ** step) * m / denom, m, v) + (() if v_max is None else (v_max,))


def reference_rmsprop(p, g, sq, buf, avg_g, lr, alpha, eps, weight_decay, momentum, centered):
    g = g + weight_decay * p
    sq = alpha * sq + (1 - alpha) * g * g
    if centered:
        avg_g = _lerp(avg_g, g, 1 - alpha)
        avg = np.sqrt(sq - avg_g * avg_g) + eps
    else:
        avg = np.sqrt(sq) + eps
    if momentum > 0:
        buf = momentum * buf + g / avg
        return p - lr * buf, sq, buf, avg_g
    return p - lr * g / avg, sq, buf, avg_g


def reference_adagrad(p, g, total, lr, eps, weight_decay):
    g = g + weight_decay * p
    total = total + g * g
    return p - lr * g / (np.sqrt(total) + eps), total


def _arrays(rng, n, count, dtype, positive=()):
    out = [rng.standard_normal(n) for _ in range(count)]
    for i in positive:
        out[i] = np.abs(out[i]) + 0.1
    return [a.astype(dtype) for a in out]


SIZES = [1, 7, 37, 1003]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9), dict(momentum=0.9, first_step=True),
                                     dict(momentum=0.5, dampening=0.3, weight_decay=0.1),
                                     dict(momentum=0.9, nesterov=True, weight_decay=0.01)])
def test_sgd_kernel(kernel_impl, rng, dtype, n, options):
    p, g, buf = _arrays(rng, n, 3, dtype)
    expected_p, expected_buf = reference_sgd(*(x.astype(np.float64) for x in (p, g, buf)), lr=0.1, **options)
    sgd_update(p, g, buf if options.get("momentum") else None, lr=0.1, **options)
    np.testing.assert_allclose(p, expected_p, **TOL[dtype])
    if options.get("momentum"):
        np.testing.assert_allclose(buf, expected_buf, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("options", [dict(weight_decay=0.0, decoupled=False, step=1),
                                     dict(weight_decay=0.1, decoupled=False, step=3),
                                     dict(weight_decay=0.1, decoupled=True, step=7),
                                     dict(weight_decay=0.0, decoupled=True, step=2, beta1=0.3)])
def test_adam_kernel(kernel_impl, rng, dtype, n, options):
    p, g, m, v = _arrays(rng, n, 4, dtype, positive=(3,))
    hyper = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8) | options
    expected = reference_adam(*(x.astype(np.float64) for x in (p, g, m, v)), **hyper)
    adam_update(p, g, m, v, **hyper)
    for got, want in zip((p, m, v), expected):
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_amsgrad_kernel(kernel_impl, rng, dtype, n, decoupled):
    p, g, m, v, v_max = _arrays(rng, n, 5, dtype, positive=(3, 4))
    v_max[::2] = 0  # the maximum taken from both sides
    hyper = dict(lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1, step=4, decoupled=decoupled)
    expected = reference_adam(*(x.astype(np.float64) for x in (p, g, m, v)), **hyper, v_max=v_max.astype(np.float64))
    adam_update(p, g, m, v, v_max, **hyper)
    for got, want in zip((p, m, v, v_max), expected):
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_kernel(kernel_impl, rng, dtype, n, momentum, centered):
    p, g, sq, buf, avg_g = _arrays(rng, n, 5, dtype, positive=(2,))
    avg_g *= dtype(0.1)  # keeps sq - avg_g^2 positive
    hyper = dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.05, momentum=momentum, centered=centered)
    expected = reference_rmsprop(*(x.astype(np.float64) for x in (p, g, sq, buf, avg_g)), **hyper)
    rmsprop_update(p, g, sq, buf if momentum else None, avg_g if centered else None, **hyper)
    got = (p, sq, buf, avg_g)
    used = [True, True, momentum > 0, centered]
    for x, want, check in zip(got, expected, used):
        if check:
            np.testing.assert_allclose(x, want, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.2])
def test_adagrad_kernel(kernel_impl, rng, dtype, n, weight_decay):
    p, g, total = _arrays(rng, n, 3, dtype, positive=(2,))
    expected = reference_adagrad(*(x.astype(np.float64) for x in (p, g, total)), lr=0.05, eps=1e-10,
                                 weight_decay=weight_decay)
    adagrad_update(p, g, total, lr=0.05, eps=1e-10, weight_decay=weight_decay)
    np.testing.assert_allclose(p, expected[0], **TOL[dtype])
    np.testing.assert_allclose(total, expected[1], **TOL[dtype])


L1_KERNELS = {
    "sgd": lambda p, g, s, **kw: sgd_update(p, g, s[0], lr=0.1, momentum=0.9, weight_decay=0.1, **kw),
    "adam": lambda p, g, s, **kw: adam_update(p, g, s[0], s[1], lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8,
                                              weight_decay=0.1, step=3, **kw),
    "adamw": lambda p, g, s, **kw: adam_update(p, g, s[0], s[1], lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8,
                                               weight_decay=0.1, step=3, decoupled=True, **kw),
    "rmsprop": lambda p, g, s, **kw: rmsprop_update(p, g, s[1], s[0], lr=0.01, alpha=0.9, eps=1e-8,
                                                    weight_decay=0.05, momentum=0.5, **kw),
    "adagrad": lambda p, g, s, **kw: adagrad_update(p, g, s[1], lr=0.05, eps=1e-10, weight_decay=0.2, **kw),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [7, 1003])
@pytest.mark.parametrize("name", list(L1_KERNELS))
def test_l1_weight_decay_adds_the_sign_of_the_parameter(kernel_impl, rng, dtype, n, name):
    """``l1_weight_decay=c`` is the update of the gradient ``g + c * sign(p)`` (sign(0) = 0), the L1
    penalty's subgradient, computed in float64 without the option."""
    p, g, m, v = _arrays(rng, n, 4, dtype, positive=(3,))
    p[::5] = 0
    c = 0.3
    want = [x.astype(np.float64) for x in (p, g, m, v)]
    want[1] = want[1] + c * np.sign(want[0])
    L1_KERNELS[name](want[0], want[1], want[2:])
    L1_KERNELS[name](p, g, [m, v], l1_weight_decay=c)
    for got, expected in zip((p, m, v), (want[0], want[2], want[3])):
        np.testing.assert_allclose(got, expected, **TOL[dtype])


def test_kernels_on_large_buffers_with_threads(kernel_impl, threads, rng):
    """Large enough for the kernels to split the work over threads; odd size for a ragged end."""
    n = (1 << 17) + 5
    p, g, buf, m, v = _arrays(rng, n, 5, np.float32, positive=(4,))
    ref = [x.astype(np.float64) for x in (p, g, buf, m, v)]
    sgd_update(p, g, buf, lr=0.1, momentum=0.9, nesterov=True)
    want_p, want_buf = reference_sgd(ref[0], ref[1], ref[2], lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(p, want_p, **TOL[np.float32])
    np.testing.assert_allclose(buf, want_buf, **TOL[np.float32])
    adam_update(p, g, m, v, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, step=2, weight_decay=0.1, decoupled=True)
    want = reference_adam(want_p, ref[1], ref[3], ref[4], 0.01, 0.9, 0.999, 1e-8, 0.1, 2, True)
    for got, expected in zip((p, m, v), want):
        np.testing.assert_allclose(got, expected, **TOL[np.float32])


def test_kernels_on_empty_buffers(kernel_impl):
    p = np.empty((0, 3), np.float32)
    adam_update(p, p.copy(), p.copy(), p.copy(), lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, step=1)
    sgd_update(p, p.copy(), lr=0.1)
    assert p.shape == (0, 3)


def _kernel_calls(p, g, s):
    """Each kernel called with param p, grad g and state buffers built from s (a function of p's shape)."""
    return {
        "sgd_update": lambda: pn.backend.kernel("sgd_update")(p, g, s(), lr=0.1, momentum=0.9),
        "adam_update": lambda: pn.backend.kernel("adam_update")(p, g, s(), s(), lr=0.1, beta1=0.9, beta2=0.99,
                                                                eps=1e-8, step=1),
        "rmsprop_update": lambda: pn.backend.kernel("rmsprop_update")(p, g, s(), lr=0.1, alpha=0.99, eps=1e-8),
        "adagrad_update": lambda: pn.backend.kernel("adagrad_update")(p, g, s(), lr=0.1, eps=1e-10),
    }


@pytest.mark.parametrize("kernel", ["sgd_update", "adam_update", "rmsprop_update", "adagrad_update"])
def test_kernel_rejects_bad_buffers(kernel_impl, kernel):
    p = np.zeros((4, 5), np.float32)
    g = np.zeros((4, 5), np.float32)
    cases = [
        (ValueError, r"shape \(5, 4\)", p, g, lambda: np.zeros((5, 4), np.float32)),
        (TypeError, "dtype float64", p, g, lambda: np.zeros((4, 5), np.float64)),
        (ValueError, "C-contiguous", p, g, lambda: np.zeros((5, 4), np.float32).T),
        (ValueError, "grad has shape", p, np.zeros(20, np.float32), lambda: np.zeros((4, 5), np.float32)),
        (ValueError, "param must be C-contiguous", np.zeros((5, 4), np.float32).T, np.zeros((4, 5), np.float32),
         lambda: np.zeros((4, 5), np.float32)),
        (TypeError, "float32 or float64", np.zeros((4, 5), np.int32), np.zeros((4, 5), np.int32),
         lambda: np.zeros((4, 5), np.int32)),
        (TypeError, "must be a NumPy array", [[0.0] * 5] * 4, g, lambda: np.zeros((4, 5), np.float32)),
    ]
    readonly = np.zeros((4, 5), np.float32)
    readonly.flags.writeable = False
    cases.append((ValueError, "read-only", p, g, lambda: readonly))
    cases.append((ValueError, "overlaps", p, p, lambda: np.zeros((4, 5), np.float32)))
    for error, pattern, param, grad, state in cases:
        with pytest.raises(error, match=pattern):
            _kernel_calls(param, grad, state)[kernel]()
        assert not np.any(p), "a rejected call must not have written anything"


def test_kernel_rejects_bad_hyperparameters(kernel_impl):
    p, g, s = (np.zeros(6) for _ in range(3))
    with pytest.raises(ValueError, match="nesterov"):
        pn.backend.kernel("sgd_update")(p, g, s, lr=0.1, momentum=0.0, nesterov=True)
    with pytest.raises(ValueError, match="momentum_buffer is missing"):
        pn.backend.kernel("sgd_update")(p, g, None, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="betas"):
        pn.backend.kernel("adam_update")(p, g, s, s.copy(), lr=0.1, beta1=1.0, beta2=0.9, eps=1e-8, step=1)
    with pytest.raises(ValueError, match="step"):
        pn.backend.kernel("adam_update")(p, g, s, s.copy(), lr=0.1, beta1=0.9, beta2=0.9, eps=1e-8, step=0)
    with pytest.raises(ValueError, match="lr must be finite"):
        pn.backend.kernel("adagrad_update")(p, g, s, lr=float("nan"), eps=1e-10)
    with pytest.raises(ValueError, match="grad_avg is missing"):
        pn.backend.kernel("rmsprop_update")(p, g, s, None, None, lr=0.1, alpha=0.9, eps=1e-8, centered=True)


# ------------------------------------------------------------------------------ the optimizers

SHAPES = [(3, 5), (7,), (2, 3, 4)]

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.5, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, maximize=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, betas=(0.5, 0.9))),
    ("AdamW", dict(lr=0.05, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, eps=1e-6, weight_decay=0.1)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
]


def _params(rng, dtype):
    values = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    return values, [pn.tensor(v.copy(), requires_grad=True) for v in values]


def _grads(rng, dtype, steps):
    return [[rng.standard_normal(shape).astype(dtype) for shape in SHAPES] for _ in range(steps)]


def _torch_state(opt, params):
    return [{k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in opt.state[p].items()} for p in params]


def _compare(ours, theirs, tol):
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,options", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_optimizer_matches_torch(backend, rng, name, options, dtype):
    torch = pytest.importorskip("torch")
    values, params = _params(rng, dtype)
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    ours_opt = getattr(optim, name)(params, **options)
    their_opt = getattr(torch.optim, name)(theirs, **options)
    tol = TOL[dtype]
    for grads in _grads(rng, dtype, 5):
        for p, q, g in zip(params, theirs, grads):
            p.grad = pn.tensor(g)
            q.grad = torch.tensor(g)
        ours_opt.step()
        their_opt.step()
        _compare(params, theirs, tol)
        for p, their_state in zip(params, _torch_state(their_opt, theirs)):
            state = ours_opt.state[p]
            assert set(state) == set(their_state)
            for key, value in their_state.items():
                ours = state[key]
                np.testing.assert_allclose(ours.data if isinstance(ours, pn.Tensor) else ours, value, **tol)


@pytest.mark.parametrize("name,options", [("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
                                          ("Adam", dict(lr=0.01, weight_decay=0.1)), ("AdamW", dict(lr=0.01)),
                                          ("RMSprop", dict(lr=0.01, momentum=0.5)), ("Adagrad", dict(lr=0.1))])
def test_l1_weight_decay_matches_torch_with_the_penalty_in_the_loss(backend, rng, name, options):
    """Our ``l1_weight_decay=c`` steps as torch.optim does when ``c * sum|p|`` is added to the loss."""
    torch = pytest.importorskip("torch")
    c = 0.05
    values, params = _params(rng, np.float64)
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    ours_opt = getattr(optim, name)(params, l1_weight_decay=c, **options)
    their_opt = getattr(torch.optim, name)(theirs, **options)
    for grads in _grads(rng, np.float64, 4):
        their_opt.zero_grad()
        penalty = c * sum(q.abs().sum() for q in theirs)
        (penalty + sum((q * torch.tensor(g)).sum() for q, g in zip(theirs, grads))).backward()
        for p, g in zip(params, grads):
            p.grad = pn.tensor(g)
        ours_opt.step()
        their_opt.step()
        _compare(params, theirs, TOL[np.float64])


def test_param_groups_and_skipped_parameters_match_torch(backend, rng):
    torch = pytest.importorskip("torch")
    values, params = _params(rng, np.float64)
    theirs = [torch.tensor(v, requires_grad=True) for v in values]

    def groups(ps):
        return [{"params": [ps[0]], "lr": 0.3, "momentum": 0.5}, {"params": [ps[1]], "nesterov": True}]

    ours_opt = optim.SGD(groups(params), lr=0.1, momentum=0.9, weight_decay=0.01)
    their_opt = torch.optim.SGD(groups(theirs), lr=0.1, momentum=0.9, weight_decay=0.01)
    assert ours_opt.param_groups[0]["momentum"] == 0.5 and ours_opt.param_groups[1]["lr"] == 0.1
    for step, grads in enumerate(_grads(rng, np.float64, 4)):
        if step == 2:  # a group added mid-training
            ours_opt.add_param_group({"params": params[2], "lr": 0.01, "dampening": 0.2})
            their_opt.add_param_group({"params": theirs[2], "lr": 0.01, "dampening": 0.2})
        for i, (p, q, g) in enumerate(zip(params, theirs, grads)):
            if step == 1 and i == 0:  # no gradient this step: skipped
                p.grad = q.grad = None
                continue
            p.grad, q.grad = pn.tensor(g), torch.tensor(g)
        ours_opt.step()
        their_opt.step()
        _compare(params, theirs, TOL[np.float64])
    np.testing.assert_allclose(ours_opt.state[params[2]]["momentum_buffer"].data,
                               their_opt.state[theirs[2]]["momentum_buffer"].numpy(), **TOL[np.float64])


def test_parameter_without_grad_is_untouched(backend):
    a = pn.tensor([1.0, 2.0], requires_grad=True)
    b = pn.tensor([3.0, 4.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = pn.tensor([1.0, 1.0])
    opt.step()
    np.testing.assert_array_equal(b.data, [3.0, 4.0])
    assert b not in opt.state and a in opt.state
    assert not np.array_equal(a.data, [1.0, 2.0])


def test_training_through_autograd(backend, rng):
    """A least-squares fit: gradients from backward(), zero_grad between steps, the loss falls."""
    x = pn.tensor(rng.standard_normal((64, 3)))
    y = x @ pn.tensor([[1.0], [-2.0], [0.5]])
    w = pn.tensor(np.zeros((3, 1)), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.data.ravel(), [1.0, -2.0, 0.5], atol=1e-3)


def test_step_with_closure_returns_loss(backend):
    w = pn.tensor([2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.item()) == 4.0
    np.testing.assert_allclose(w.data, [1.0])  # 2 - 0.25 * 4


def test_zero_grad(backend):
    w = pn.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = pn.tensor([5.0, 5.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.data, [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None


def test_non_contiguous_gradient_and_float32(backend, rng):
    torch = pytest.importorskip("torch")
    value = rng.standard_normal((4, 6)).astype(np.float32)
    grad = np.asfortranarray(rng.standard_normal((4, 6))).astype(np.float32)
    p = pn.tensor(value.copy(), requires_grad=True)
    q = torch.tensor(value, requires_grad=True)
    p.grad = pn.tensor(grad)
    q.grad = torch.tensor(grad)
    optim.RMSprop([p], momentum=0.3).step()
    torch.optim.RMSprop([q], momentum=0.3).step()
    np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert p.data.dtype == np.float32


# ----------------------------------------------------------------------------- state dicts

@pytest.mark.parametrize("name,options", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(weight_decay=0.1)),
                                          ("AdamW", dict()), ("RMSprop", dict(momentum=0.9, centered=True)),
                                          ("Adagrad", dict(lr_decay=0.01))])
def test_state_dict_round_trip_continues_identically(backend, rng, tmp_path, name, options):
    values, params = _params(rng, np.float64)
    grads = _grads(rng, np.float64, 6)
    opt = getattr(optim, name)([{"params": params[:2]}, {"params": params[2:], "lr": 0.05}], **options)
    for step in grads[:3]:
        for p, g in zip(params, step):
            p.grad = pn.tensor(g)
        opt.step()
    pn.save(opt.state_dict(), tmp_path / "opt.safetensors")
    copies = [pn.tensor(p.data.copy(), requires_grad=True) for p in params]
    resumed = getattr(optim, name)([{"params": copies[:2]}, {"params": copies[2:]}], **{**options, "lr": 0.5})
    resumed.load_state_dict(pn.load(tmp_path / "opt.safetensors"))
    assert resumed.param_groups[1]["lr"] == 0.05
    for step in grads[3:]:
        for p, c, g in zip(params, copies, step):
            p.grad, c.grad = pn.tensor(g), pn.tensor(g)
        opt.step()
        resumed.step()
    for p, c in zip(params, copies):
        np.testing.assert_array_equal(p.data, c.data)


def test_state_dict_layout_matches_torch(rng):
    torch = pytest.importorskip("torch")
    values, params = _params(rng, np.float64)
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    ours_opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}])
    their_opt = torch.optim.Adam([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.1}])
    for p, q, g in zip(params, theirs, _grads(rng, np.float64, 1)[0]):
        p.grad, q.grad = pn.tensor(g), torch.tensor(g)
    ours_opt.step()
    their_opt.step()
    ours, theirs_sd = ours_opt.state_dict(), their_opt.state_dict()
    assert set(ours) == set(theirs_sd) == {"state", "param_groups"}
    assert sorted(ours["state"]) == sorted(theirs_sd["state"]) == [0, 1, 2]
    assert [g["params"] for g in ours["param_groups"]] == [g["params"] for g in theirs_sd["param_groups"]]
    for key in ("lr", "betas", "eps", "weight_decay"):
        assert [g[key] for g in ours["param_groups"]] == [g[key] for g in theirs_sd["param_groups"]]
    assert set(ours["state"][1]) == set(theirs_sd["state"][1])


def test_loads_a_torch_state_dict_converted_to_numpy(backend, rng):
    """Resume from PyTorch's optimizer state (tensors converted to NumPy) and keep matching it."""
    torch = pytest.importorskip("torch")
    values, params = _params(rng, np.float64)
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    their_opt = torch.optim.RMSprop(theirs, lr=0.01, momentum=0.9)
    grads = _grads(rng, np.float64, 4)
    for q, g in zip(theirs, grads[0]):
        q.grad = torch.tensor(g)
    their_opt.step()
    sd = their_opt.state_dict()
    converted = {"state": {i: {k: v.numpy() for k, v in s.items()} for i, s in sd["state"].items()},
                 "param_groups": sd["param_groups"]}
    for p, q in zip(params, theirs):
        p.data[...] = q.detach().numpy()
    ours_opt = optim.RMSprop(params, lr=0.5)
    ours_opt.load_state_dict(converted)
    assert ours_opt.state[params[0]]["step"] == 1
    for grads_now in grads[1:]:
        for p, q, g in zip(params, theirs, grads_now):
            p.grad, q.grad = pn.tensor(g), torch.tensor(g)
        ours_opt.step()
        their_opt.step()
    _compare(params, theirs, TOL[np.float64])


def test_load_state_dict_rejects_mismatches():
    a = pn.tensor(np.zeros(3), requires_grad=True)
    b = pn.tensor(np.zeros((2, 2)), requires_grad=True)
    opt = optim.Adam([a, b])
    a.grad = b.grad = None
    a.grad = pn.tensor(np.ones(3))
    b.grad = pn.tensor(np.ones((2, 2)))
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="1 parameter groups, the optimizer 2"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the state dict, 1"):
        optim.Adam([a]).load_state_dict(sd)
    swapped = optim.Adam([b, a])
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(3,\), the parameter \(2, 2\)"):
        swapped.load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.Adam([a, b]).load_state_dict({"state": {}})
    sd_extra = {"state": dict(sd["state"]), "param_groups": sd["param_groups"]}
    sd_extra["state"][7] = {"step": 1}
    with pytest.raises(ValueError, match="no parameter group lists"):
        optim.Adam([a, b]).load_state_dict(sd_extra)


# ------------------------------------------------------------------------------ bad arguments

BAD = [
    (optim.SGD, dict(lr=-0.1), "lr"),
    (optim.SGD, dict(lr=float("nan")), "lr"),
    (optim.SGD, dict(lr="0.1"), "lr"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "momentum"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (optim.Adam, dict(lr=-1e-3), "lr"),
    (optim.Adam, dict(eps=-1e-8), "eps"),
    (optim.Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    (optim.Adam, dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    (optim.Adam, dict(betas=0.9), "betas"),
    (optim.Adam, dict(weight_decay=-0.1), "weight_decay"),
    (optim.Adam, dict(l1_weight_decay=-0.1), "l1_weight_decay"),
    (optim.SGD, dict(lr=0.1, l1_weight_decay=float("nan")), "l1_weight_decay"),
    (optim.AdamW, dict(betas=(0.9, 1.5)), r"betas\[1\]"),
    (optim.RMSprop, dict(alpha=-0.1), "alpha"),
    (optim.RMSprop, dict(momentum=-0.1), "momentum"),
    (optim.RMSprop, dict(eps=-1.0), "eps"),
    (optim.Adagrad, dict(lr_decay=-0.1), "lr_decay"),
    (optim.Adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (optim.Adagrad, dict(eps=float("inf")), "eps"),
]


@pytest.mark.parametrize("cls,options,argument", BAD, ids=[f"{c.__name__}-{a}" for c, _, a in BAD])
def test_invalid_hyperparameters_raise_naming_the_argument(cls, options, argument):
    w = pn.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match=f"{cls.__name__}: .*{argument}"):
        cls([w], **options)
    with pytest.raises(ValueError, match=argument):  # per-group options are checked too
        cls([{"params": [w], **options}], **({"lr": 0.1} if cls is optim.SGD else {}))


def test_bad_parameter_lists():
    w = pn.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.Adam(w)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="appears twice"):
        optim.Adam([w, w])
    opt = optim.Adam([w])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(TypeError, match="float32 or float64"):
        optim.SGD([pn.tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {w}}], lr=0.1)


def test_gradient_of_wrong_shape():
    w = pn.tensor(np.zeros(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = pn.tensor(np.zeros(4))
    with pytest.raises(ValueError, match=r"gradient of shape \(4,\) for a parameter of shape \(3,\)"):
        opt.step()


def test_module_training_checkpoint_resumes_identically(backend, rng, tmp_path):
    """A model and its optimizer saved mid-training and restored into fresh objects carry on bit for bit."""
    nn = pn.nn

    def make():
        return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))

    pn.manual_seed(0)
    model = make()
    opt = optim.AdamW(model.parameters(), lr=0.01, amsgrad=True)
    batches = [(pn.tensor(rng.standard_normal((8, 6)).astype(np.float32)),
                pn.tensor(rng.standard_normal((8, 3)).astype(np.float32))) for _ in range(6)]

    def train(model, opt, batches):
        for x, y in batches:
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()

    train(model, opt, batches[:3])
    pn.save(model.state_dict(), tmp_path / "model.safetensors")
    pn.save({"optimizer": opt.state_dict(), "epoch": 3}, tmp_path / "train.safetensors")
    pn.manual_seed(1)
    restored = make()
    restored.load_state_dict(pn.load(tmp_path / "model.safetensors"))
    restored_opt = optim.AdamW(restored.parameters())
    checkpoint = pn.load(tmp_path / "train.safetensors")
    restored_opt.load_state_dict(checkpoint["optimizer"])
    assert checkpoint["epoch"] == 3 and restored_opt.param_groups[0]["amsgrad"] is True
    train(model, opt, batches[3:])
    train(restored, restored_opt, batches[3:])
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data), err_msg=name)


def test_frozen_parameters_are_not_updated(backend):
    nn = pn.nn
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    frozen = model[0].weight.data.copy()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ((model(pn.ones((3, 4))) ** 2).sum()).backward()
    opt.step()
    np.testing.assert_array_equal(model[0].weight.data, frozen)
    assert model[0].weight not in opt.state and model[1].weight in opt.state
