"""Recurrent layers: fused gate kernels against float64 references on every implementation, PyTorch parity
of RNN/LSTM/GRU (outputs, final states, every gradient), gradchecks, dropout and bad-input errors."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural import backend
from pyneural.kernels import rnn as K
from pyneural.ops.rnn import recurrence

TOL = {np.float32: 3e-6, np.float64: 1e-13}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def assert_close(got, want, dtype, scale=1.0):
    tol = TOL[dtype] * scale
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ------------------------------------------------------------------------------------------ references

def cell_reference(mode, xg, hg, bias, h_prev, c_prev):
    """One step in float64: (h, c, saved gates) as the kernels define them (None inputs are zeros)."""
    xg, hg = xg.astype(np.float64), hg.astype(np.float64)
    rows, width = xg.shape
    b = np.zeros(width) if bias is None else bias.astype(np.float64)
    hidden = {"LSTM": width // 4, "GRU": width // 3}.get(mode, width)
    hp = np.zeros((rows, hidden)) if h_prev is None else h_prev.astype(np.float64)
    cp = np.zeros((rows, hidden)) if c_prev is None else c_prev.astype(np.float64)
    if mode in ("RNN_TANH", "RNN_RELU"):
        pre = xg + hg + b
        return (np.tanh(pre) if mode == "RNN_TANH" else np.maximum(pre, 0)), None, None
    if mode == "LSTM":
        i, f, g, o = np.split(xg + hg + b, 4, axis=1)
        i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
        c = f * cp + i * g
        return o * np.tanh(c), c, np.concatenate([i, f, g, o], axis=1)
    xr, xz, xn = np.split(xg, 3, axis=1)
    yr, yz, yn = np.split(hg + b, 3, axis=1)
    r, z = sigmoid(xr + yr), sigmoid(xz + yz)
    n = np.tanh(xn + r * yn)
    return (1 - z) * n + z * hp, None, np.concatenate([r, z, n, yn], axis=1)


def cell_backward_reference(mode, dht, dc, xg, hg, bias, h_prev, c_prev):
    """Chain rule of cell_reference in float64: (d pre-activation for xg, for hg, dh_prev direct, dc_prev)."""
    h, c, _ = cell_reference(mode, xg, hg, bias, h_prev, c_prev)
    xg, hg = xg.astype(np.float64), hg.astype(np.float64)
    b = np.zeros(xg.shape[1]) if bias is None else bias.astype(np.float64)
    if mode in ("RNN_TANH", "RNN_RELU"):
        d = dht * ((1 - h * h) if mode == "RNN_TANH" else (h > 0))
        return d, d, None, None
    if mode == "LSTM":
        i, f, g, o = np.split(xg + hg + b, 4, axis=1)
        i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
        cp = np.zeros_like(c) if c_prev is None else c_prev.astype(np.float64)
        dct = dc + dht * o * (1 - np.tanh(c) ** 2)
        d = np.concatenate([dct * g * i * (1 - i), dct * cp * f * (1 - f), dct * i * (1 - g * g),
                            dht * np.tanh(c) * o * (1 - o)], axis=1)
        return d, d, None, dct * f
    xr, xz, xn = np.split(xg, 3, axis=1)
    yr, yz, yn = np.split(hg + b, 3, axis=1)
    r, z = sigmoid(xr + yr), sigmoid(xz + yz)
    n = np.tanh(xn + r * yn)
    hp = np.zeros_like(n) if h_prev is None else h_prev.astype(np.float64)
    dn = dht * (1 - z) * (1 - n * n)
    dz = dht * (hp - n) * z * (1 - z)
    dr = dn * yn * r * (1 - r)
    return (np.concatenate([dr, dz, dn], axis=1), np.concatenate([dr, dz, dn * r], axis=1), dht * z, None)


# ------------------------------------------------------------------------------------------ gate kernels

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rows,hidden,optional", [(5, 37, True), (3, 19, False), (1, 1, True)])
def test_gate_kernels_match_reference(kernel_impl, rng, dtype, mode, rows, hidden, optional):
    """Forward and backward of one step on odd sizes (vector bodies and tails), with and without the
    optional arrays (bias, previous states, incoming gradients)."""
    width = GATES[mode] * hidden
    xg = (rng.standard_normal((rows, width)) * 2).astype(dtype)
    hg = rng.standard_normal((rows, width)).astype(dtype)
    bias = rng.standard_normal(width).astype(dtype) if optional else None
    h_prev = rng.standard_normal((rows, hidden)).astype(dtype) if optional else None
    c_prev = rng.standard_normal((rows, hidden)).astype(dtype) if optional else None
    gy = rng.standard_normal((rows, hidden)).astype(dtype)
    dh = rng.standard_normal((rows, hidden)).astype(dtype) if optional else None
    dc = rng.standard_normal((rows, hidden)).astype(dtype) if optional else None
    h_ref, c_ref, gates_ref = cell_reference(mode, xg, hg, bias, h_prev, c_prev)
    dht = gy.astype(np.float64) + (0 if dh is None else dh)
    dx_ref, dy_ref, dhp_ref, dcp_ref = cell_backward_reference(mode, dht, 0 if dc is None else dc, xg, hg, bias,
                                                               h_prev, c_prev)
    h = np.empty((rows, hidden), dtype)
    if mode in ("RNN_TANH", "RNN_RELU"):
        act = "tanh" if mode == "RNN_TANH" else "relu"
        backend.kernel("rnn_cell_forward")(act, xg, hg, bias, h)
        assert_close(h, h_ref, dtype)
        dpre = np.empty((rows, hidden), dtype)
        backend.kernel("rnn_cell_backward")(act, gy, dh, h, dpre)
        # the derivative is taken at the kernel's own h (float32 rounding of h enters through 1 - h^2)
        hd = h.astype(np.float64)
        want = dht * ((1 - hd * hd) if act == "tanh" else (hd > 0))
        assert_close(dpre, want, dtype, scale=4)
        assert_close(dpre, dx_ref, dtype, scale=20)
    elif mode == "LSTM":
        gates, c = np.empty((rows, width), dtype), np.empty((rows, hidden), dtype)
        backend.kernel("lstm_cell_forward")(xg, hg, bias, c_prev, gates, c, h)
        assert_close(gates, gates_ref, dtype)
        assert_close(c, c_ref, dtype, scale=4)
        assert_close(h, h_ref, dtype, scale=4)
        dpre, dcp = np.empty((rows, width), dtype), np.empty((rows, hidden), dtype)
        backend.kernel("lstm_cell_backward")(gy, dh, dc, gates, c_prev, c, dpre, dcp)
        assert_close(dpre, dx_ref, dtype, scale=20)
        assert_close(dcp, dcp_ref, dtype, scale=20)
        backend.kernel("lstm_cell_backward")(gy, dh, dc, gates, c_prev, c, dpre, None)  # grad_c_prev not wanted
        assert_close(dpre, dx_ref, dtype, scale=20)
    else:
        gates = np.empty((rows, 4 * hidden), dtype)
        backend.kernel("gru_cell_forward")(xg, hg, bias, h_prev, gates, h)
        assert_close(gates, gates_ref, dtype, scale=4)
        assert_close(h, h_ref, dtype, scale=4)
        dxg, dhg, dhp = (np.empty((rows, width), dtype), np.empty((rows, width), dtype),
                         np.empty((rows, hidden), dtype))
        backend.kernel("gru_cell_backward")(gy, dh, gates, h_prev, dxg, dhg, dhp)
        assert_close(dxg, dx_ref, dtype, scale=20)
        assert_close(dhg, dy_ref, dtype, scale=20)
        assert_close(dhp, dhp_ref, dtype, scale=4)


def test_gate_kernels_saturate_without_nan(kernel_impl):
    """Huge pre-activations saturate the gates (no overflow to NaN); NaN input propagates."""
    xg = np.array([[1e4, -1e4, 1e4, -1e4, 50.0, -50.0, 0.0, np.nan]], np.float32).reshape(2, 4)
    gates, c, h = np.empty((2, 4), np.float32), np.empty((2, 1), np.float32), np.empty((2, 1), np.float32)
    backend.kernel("lstm_cell_forward")(xg, np.zeros_like(xg), None, None, gates, c, h)
    np.testing.assert_array_equal(gates[0], [1, 0, 1, 0])
    assert np.isfinite(h[0]).all() and np.isnan(h[1]).all()


@pytest.mark.parametrize("name", ["lstm_cell_forward", "gru_cell_forward", "rnn_cell_forward"])
def test_gate_kernels_reject_bad_arrays(kernel_impl, name):
    """Wrong shapes, dtypes, layouts and overlapping outputs raise errors naming the kernel."""
    rows, hidden = 3, 5
    width = {"lstm_cell_forward": 4, "gru_cell_forward": 3, "rnn_cell_forward": 1}[name] * hidden
    xg, hg = np.zeros((rows, width)), np.zeros((rows, width))
    h = np.empty((rows, hidden))
    kernel = backend.kernel(name)

    def call(xg=xg, hg=hg, h=h, out=None):
        if name == "lstm_cell_forward":
            gates = np.empty((rows, 4 * hidden)) if out is None else out
            kernel(xg, hg, None, None, gates, np.empty((rows, hidden)), h)
        elif name == "gru_cell_forward":
            kernel(xg, hg, None, None, np.empty((rows, 4 * hidden)) if out is None else out, h)
        else:
            kernel("tanh", xg, hg, None, h)

    call()  # the valid call works
    with pytest.raises(ValueError, match=name):
        call(xg=np.zeros((rows, width + 1)))
    with pytest.raises(TypeError, match=name):
        call(hg=np.zeros((rows, width), np.float32))
    with pytest.raises(ValueError, match=name):
        call(xg=np.zeros((width, rows)).T)  # not C-contiguous
    with pytest.raises(ValueError, match=name):
        call(h=np.zeros((rows, hidden, 1)))
    if name == "rnn_cell_forward":
        with pytest.raises(ValueError, match=name):
            call(h=xg)  # the output overlaps an input
        with pytest.raises(ValueError, match=name):
            kernel("sigmoid", xg, hg, None, h)
    else:
        gates = np.empty((rows, 4 * hidden))
        with pytest.raises(ValueError, match=name):
            call(h=gates.reshape(-1)[:rows * hidden].reshape(rows, hidden), out=gates)  # two outputs overlap


def test_backward_gate_kernels_reject_bad_arrays(kernel_impl):
    """The backward kernels check shapes, dtypes and overlapping outputs too, naming the kernel."""
    rows, hidden = 3, 5
    g, h = np.zeros((rows, hidden)), np.zeros((rows, hidden))
    rnn = backend.kernel("rnn_cell_backward")
    rnn("tanh", g, None, h, np.empty((rows, hidden)))  # the valid call works
    with pytest.raises(ValueError, match="rnn_cell_backward"):
        rnn("tanh", g, None, h, np.empty((rows, hidden + 1)))
    with pytest.raises(TypeError, match="rnn_cell_backward"):
        rnn("tanh", g.astype(np.float32), None, h, np.empty((rows, hidden)))
    with pytest.raises(ValueError, match="rnn_cell_backward"):
        rnn("tanh", g, None, h, h)  # writes what it reads
    lstm = backend.kernel("lstm_cell_backward")
    gates, c = np.full((rows, 4 * hidden), 0.5), np.zeros((rows, hidden))
    lstm(g, None, None, gates, c, c, np.empty((rows, 4 * hidden)), np.empty((rows, hidden)))
    with pytest.raises(ValueError, match="lstm_cell_backward"):
        lstm(g, None, None, gates[:, :-1], c, c, np.empty((rows, 4 * hidden)), np.empty((rows, hidden)))
    out = np.empty((rows, 5 * hidden))
    with pytest.raises(ValueError, match="lstm_cell_backward"):  # the two outputs overlap
        lstm(g, None, None, gates, c, c, out[:, :4 * hidden], out[:, 3 * hidden:4 * hidden])


@pytest.mark.parametrize("mode", MODES)
def test_gate_kernels_threaded(kernel_impl, threads, rng, mode):
    """A step big enough to be split over threads gives the single-thread reference."""
    rows, hidden = 256, 301
    width = GATES[mode] * hidden
    xg, hg = rng.standard_normal((rows, width)), rng.standard_normal((rows, width))
    h_prev, gy = rng.standard_normal((rows, hidden)), rng.standard_normal((rows, hidden))
    h_ref, c_ref, _ = cell_reference(mode, xg, hg, None, h_prev, h_prev)
    dx_ref, dy_ref, dhp_ref, dcp_ref = cell_backward_reference(mode, gy, 0, xg, hg, None, h_prev, h_prev)
    h = np.empty((rows, hidden))
    if mode in ("RNN_TANH", "RNN_RELU"):
        act = "tanh" if mode == "RNN_TANH" else "relu"
        backend.kernel("rnn_cell_forward")(act, xg, hg, None, h)
        dpre = np.empty_like(h)
        backend.kernel("rnn_cell_backward")(act, gy, None, h, dpre)
        assert_close(dpre, dx_ref, np.float64)
    elif mode == "LSTM":
        gates, c, dpre, dcp = np.empty_like(xg), np.empty_like(h), np.empty_like(xg), np.empty_like(h)
        backend.kernel("lstm_cell_forward")(xg, hg, None, h_prev, gates, c, h)
        backend.kernel("lstm_cell_backward")(gy, None, None, gates, h_prev, c, dpre, dcp)
        assert_close(c, c_ref, np.float64)
        assert_close(dpre, dx_ref, np.float64, scale=10)
        assert_close(dcp, dcp_ref, np.float64, scale=10)
    else:
        gates, dxg, dhg, dhp = np.empty((rows, 4 * hidden)), np.empty_like(xg), np.empty_like(xg), np.empty_like(h)
        backend.kernel("gru_cell_forward")(xg, hg, None, h_prev, gates, h)
        backend.kernel("gru_cell_backward")(gy, None, gates, h_prev, dxg, dhg, dhp)
        assert_close(dxg, dx_ref, np.float64, scale=10)
        assert_close(dhg, dy_ref, np.float64, scale=10)
        assert_close(dhp, dhp_ref, np.float64, scale=10)
    assert_close(h, h_ref, np.float64)


def lstm_sequence_reference(xg, w_t, bias, h0, c0, reverse, grad_states, need_h0):
    """A whole LSTM direction in float64 from cell_reference / cell_backward_reference: (states, gates,
    dxg, dh, dc) in the layouts of the sequence kernels (dh None unless need_h0)."""
    steps, batch, width = xg.shape
    hidden = width // 4
    first = steps if reverse else 0
    states = np.zeros((2, steps + 1, batch, hidden))
    states[0, first], states[1, first] = h0, c0
    gates, hgs = np.empty((steps, batch, width)), np.empty((steps, batch, width))
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        prev, nxt = (t + 1, t) if reverse else (t, t + 1)
        hgs[t] = states[0, prev] @ w_t
        states[0, nxt], states[1, nxt], gates[t] = cell_reference("LSTM", xg[t], hgs[t], bias, states[0, prev],
                                                                  states[1, prev])
    dxg, dh, dc = np.empty((steps, batch, width)), np.zeros((batch, hidden)), np.zeros((batch, hidden))
    for t in reversed(list(order)):
        prev, nxt = (t + 1, t) if reverse else (t, t + 1)
        dxg[t], _, _, dc = cell_backward_reference("LSTM", grad_states[0, nxt] + dh, grad_states[1, nxt] + dc, xg[t],
                                                   hgs[t], bias, states[0, prev], states[1, prev])
        dh = dxg[t] @ w_t.T
    return states, gates, dxg, (dh if need_h0 else None), dc


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("batch,hidden,steps,initial", [(2, 37, 4, True), (33, 70, 5, False), (1, 1, 1, True)])
def test_lstm_sequence_kernels_match_reference(kernel_impl, threads, rng, dtype, reverse, batch, hidden, steps,
                                               initial):
    """The whole-sequence LSTM kernels (per step one GEMM and the fused cell; natively one parallel region
    in which each thread owns a slice of hidden units) against float64 steps, forward and backward."""
    width = 4 * hidden
    xg = rng.standard_normal((steps, batch, width)).astype(dtype)
    w_t = (rng.standard_normal((hidden, width)) / np.sqrt(hidden)).astype(dtype)
    bias = rng.standard_normal(width).astype(dtype)
    h0, c0 = (rng.standard_normal((batch, hidden)).astype(dtype) if initial else np.zeros((batch, hidden), dtype)
              for _ in range(2))
    grad_states = rng.standard_normal((2, steps + 1, batch, hidden)).astype(dtype)
    states_ref, gates_ref, dxg_ref, dh_ref, dc_ref = lstm_sequence_reference(xg, w_t, bias, h0, c0, reverse,
                                                                             grad_states, True)
    first = steps if reverse else 0
    states = np.empty((2, steps + 1, batch, hidden), dtype)
    states[0, first], states[1, first] = h0, c0
    gates = np.empty((steps, batch, width), dtype)
    backend.kernel("lstm_sequence_forward")(xg, w_t, bias, states, gates, reverse, not initial, not initial)
    assert_close(states, states_ref, dtype, scale=20)
    assert_close(gates, gates_ref, dtype, scale=20)
    scratch = np.empty((1, batch, width), dtype)  # no gates saved: the same states
    unsaved = np.empty_like(states)
    unsaved[:, first] = states[:, first]
    backend.kernel("lstm_sequence_forward")(xg, w_t, bias, unsaved, scratch, reverse, not initial, not initial)
    np.testing.assert_array_equal(unsaved, states)
    for need_h0 in (True, False):
        dxg, dh, dc = np.empty((steps, batch, width), dtype), np.empty((batch, hidden), dtype), np.empty((batch, hidden), dtype)
        backend.kernel("lstm_sequence_backward")(grad_states, states, gates, np.ascontiguousarray(w_t.T), reverse,
                                                 need_h0, dxg, dh, dc)
        assert_close(dxg, dxg_ref, dtype, scale=100)
        assert_close(dc, dc_ref, dtype, scale=100)
        if need_h0:
            assert_close(dh, dh_ref, dtype, scale=100)


def test_lstm_sequence_kernels_reject_bad_arrays(kernel_impl):
    xg, w_t = np.zeros((3, 2, 8)), np.zeros((2, 8))
    states, gates = np.zeros((2, 4, 2, 2)), np.zeros((3, 2, 8))
    fwd, bwd = backend.kernel("lstm_sequence_forward"), backend.kernel("lstm_sequence_backward")
    with pytest.raises(ValueError, match="lstm_sequence_forward.*xg"):
        fwd(np.zeros((3, 2, 9)), w_t, None, states, gates, False, True, True)
    with pytest.raises(ValueError, match="lstm_sequence_forward.*states"):
        fwd(xg, w_t, None, np.zeros((3, 4, 2, 2)), gates, False, True, True)
    with pytest.raises(TypeError, match="lstm_sequence_forward"):
        fwd(xg.astype(np.float32), w_t, None, states, gates, False, True, True)
    with pytest.raises(ValueError, match="lstm_sequence_forward"):
        fwd(xg, w_t, None, states, np.zeros((2, 2, 8)), False, True, True)  # gates neither T nor 1 steps
    dxg, dh, dc = np.zeros((3, 2, 8)), np.zeros((2, 2)), np.zeros((2, 2))
    with pytest.raises(ValueError, match="lstm_sequence_backward.*w_hh"):
        bwd(states, states.copy(), gates, np.zeros((2, 8)), False, True, dxg, dh, dc)
    with pytest.raises(ValueError, match="lstm_sequence_backward"):
        bwd(states, states.copy(), gates, np.zeros((8, 2)), False, True, dxg, dh, dxg[0, :, :2])  # dc is in dxg


# ------------------------------------------------------------------------------------------ layers vs PyTorch

LAYERS = {"RNN_TANH": ("RNN", {}), "RNN_RELU": ("RNN", {"nonlinearity": "relu"}), "LSTM": ("LSTM", {}),
          "GRU": ("GRU", {})}

# (num_layers, bias, batch_first, bidirectional, initial states, unbatched input, dropout): lean coverage of
# every option, each in combination with a few others.
CONFIGS = [
    (1, True, False, False, False, False, 0.0),
    (2, True, True, True, True, False, 0.0),
    (2, False, False, True, False, False, 0.0),
    (1, True, False, True, True, True, 0.0),
    (2, True, True, False, True, False, 0.4),  # dropout > 0, compared in eval mode
]


def make_pair(mode, num_layers, bias, batch_first, bidirectional, dropout, dtype, proj_size=0):
    """A torch layer and a pyneural layer (hidden size 6, LSTMs projected to ``proj_size`` if > 0) with the
    torch state dict loaded into it (strictly: same names, same shapes)."""
    torch = pytest.importorskip("torch")
    name, kwargs = LAYERS[mode]
    args = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional,
                dropout=dropout, **kwargs)
    if proj_size:
        args["proj_size"] = proj_size
    tm = getattr(torch.nn, name)(5, 6, **args).to(torch.float64 if dtype == np.float64 else torch.float32)
    pm = getattr(pn.nn, name)(5, 6, dtype=dtype, **args)
    result = pm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    assert [n for n, _ in pm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    return torch, tm, pm


def check_layer_parity(rng, mode, config, proj_size=0):
    """Outputs, final states and every input, initial-state and parameter gradient of a float64 layer against
    PyTorch's for one row of CONFIGS."""
    num_layers, bias, batch_first, bidirectional, initial, unbatched, dropout = config
    dtype = np.float64
    torch, tm, pm = make_pair(mode, num_layers, bias, batch_first, bidirectional, dropout, dtype, proj_size)
    if dropout:
        tm.eval()
        pm.eval()
    steps, batch, d = 4, 3, 2 if bidirectional else 1
    shape = (steps, 5) if unbatched else (batch, steps, 5) if batch_first else (steps, batch, 5)
    lead = (num_layers * d,) if unbatched else (num_layers * d, batch)
    widths = [proj_size or 6, 6] if mode == "LSTM" else [6]  # h0 has proj_size features, c0 hidden_size
    x = rng.standard_normal(shape)
    states = [rng.standard_normal(lead + (w,)) for w in widths] if initial else []
    tx = torch.tensor(x, requires_grad=True)
    px = pn.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    ps = [pn.tensor(s, requires_grad=True) for s in states]
    if mode == "LSTM":
        t_out, (t_h, t_c) = tm(tx, tuple(ts) if ts else None)
        p_out, (p_h, p_c) = pm(px, tuple(ps) if ps else None)
        finals = [(t_h, p_h), (t_c, p_c)]
    else:
        t_out, t_h = tm(tx, ts[0] if ts else None)
        p_out, p_h = pm(px, ps[0] if ps else None)
        finals = [(t_h, p_h)]
    assert p_out.shape == tuple(t_out.shape)
    np.testing.assert_allclose(p_out.numpy(), t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for t_s, p_s in finals:
        assert p_s.shape == tuple(t_s.shape)
        np.testing.assert_allclose(p_s.numpy(), t_s.detach().numpy(), rtol=1e-12, atol=1e-12)
    # a loss on the output and every final state, with different weights so no gradient hides another
    weights = [rng.standard_normal(tuple(t.shape)) for t in [t_out] + [f[0] for f in finals]]
    t_loss = sum((t * torch.tensor(w)).sum() for t, w in zip([t_out] + [f[0] for f in finals], weights))
    p_loss = sum((p * w).sum() for p, w in zip([p_out] + [f[1] for f in finals], weights))
    t_loss.backward()
    p_loss.backward()
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-11, atol=1e-11)
    for t_s, p_s in zip(ts, ps):
        np.testing.assert_allclose(p_s.grad.numpy(), t_s.grad.numpy(), rtol=1e-11, atol=1e-11)
    t_params = dict(tm.named_parameters())
    for name, p in pm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=1e-11, atol=1e-11,
                                   err_msg=name)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "L{}-bias{}-bf{}-bi{}-h0{}-unb{}-p{}".format(*c))
@pytest.mark.parametrize("mode", MODES)
def test_layers_match_torch(backend, rng, mode, config):
    check_layer_parity(rng, mode, config)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "L{}-bias{}-bf{}-bi{}-h0{}-unb{}-p{}".format(*c))
@pytest.mark.parametrize("proj_size", [1, 4])
def test_projected_lstm_matches_torch(backend, rng, proj_size, config):
    """LSTM with projections (hidden 6 -> proj_size): outputs (T, B, D * P), h_n (L * D, B, P), c_n
    (L * D, B, H) and every gradient, weight_hr_l{k} included, in every configuration."""
    check_layer_parity(rng, "LSTM", config, proj_size)


@pytest.mark.parametrize("mode,proj_size", [(m, 0) for m in MODES] + [("LSTM", 3)])
def test_layers_match_torch_float32(backend, rng, mode, proj_size):
    """The default dtype: float32 outputs and gradients within float32 rounding of PyTorch's."""
    torch, tm, pm = make_pair(mode, 2, True, False, True, 0.0, np.float32, proj_size)
    x = rng.standard_normal((7, 4, 5)).astype(np.float32)
    tx, px = torch.tensor(x, requires_grad=True), pn.tensor(x, requires_grad=True)
    t_out, p_out = tm(tx)[0], pm(px)[0]
    np.testing.assert_allclose(p_out.numpy(), t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    (t_out ** 2).sum().backward()
    (p_out ** 2).sum().backward()
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    t_params = dict(tm.named_parameters())
    for name, p in pm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


@pytest.mark.parametrize("mode,proj_size", [(m, 0) for m in MODES] + [("LSTM", 8)])
def test_parameters_named_shaped_and_initialised_like_torch(mode, proj_size):
    torch = pytest.importorskip("torch")
    name, kwargs = LAYERS[mode]
    if proj_size:
        kwargs = dict(kwargs, proj_size=proj_size)
    tm = getattr(torch.nn, name)(5, 16, num_layers=2, bidirectional=True, **kwargs)
    pm = getattr(pn.nn, name)(5, 16, num_layers=2, bidirectional=True, **kwargs)
    t_state, p_state = tm.state_dict(), pm.state_dict()
    assert list(p_state) == list(t_state)
    assert [n for n, _ in pm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert pm.proj_size == tm.proj_size
    if mode == "LSTM":  # (an RNN's repr also names its nonlinearity, which PyTorch's leaves out)
        assert repr(pm) == repr(tm)
    for key, value in t_state.items():
        assert tuple(p_state[key].shape) == tuple(value.shape), key
        data = np.asarray(p_state[key])
        assert data.dtype == np.float32 and np.abs(data).max() <= 0.25 and data.std() > 0.06, key  # U(+-1/4): std 0.144
    assert pm.mode == mode


CELLS = {"RNN_TANH": ("RNNCell", {}), "RNN_RELU": ("RNNCell", {"nonlinearity": "relu"}), "LSTM": ("LSTMCell", {}),
         "GRU": ("GRUCell", {})}


@pytest.mark.parametrize("bias,initial,unbatched", [(True, True, False), (False, False, False), (True, True, True)])
@pytest.mark.parametrize("mode", MODES)
def test_cells_match_torch(backend, rng, mode, bias, initial, unbatched):
    torch = pytest.importorskip("torch")
    name, kwargs = CELLS[mode]
    tm = getattr(torch.nn, name)(5, 6, bias=bias, **kwargs).double()
    pm = getattr(pn.nn, name)(5, 6, bias=bias, dtype=pn.float64, **kwargs)
    pm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert list(pm.state_dict()) == list(tm.state_dict())
    x = rng.standard_normal((5,) if unbatched else (3, 5))
    state_shape = (6,) if unbatched else (3, 6)
    states = [rng.standard_normal(state_shape) for _ in range(2 if mode == "LSTM" else 1)] if initial else []
    tx, px = torch.tensor(x, requires_grad=True), pn.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    ps = [pn.tensor(s, requires_grad=True) for s in states]
    hx_t = (tuple(ts) if mode == "LSTM" else ts[0]) if ts else None
    hx_p = (tuple(ps) if mode == "LSTM" else ps[0]) if ps else None
    t_out, p_out = tm(tx, hx_t), pm(px, hx_p)
    t_out = list(t_out) if mode == "LSTM" else [t_out]
    p_out = list(p_out) if mode == "LSTM" else [p_out]
    weights = [rng.standard_normal(tuple(t.shape)) for t in t_out]
    for t, p in zip(t_out, p_out):
        assert p.shape == tuple(t.shape)
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)
    sum((t * torch.tensor(w)).sum() for t, w in zip(t_out, weights)).backward()
    sum((p * w).sum() for p, w in zip(p_out, weights)).backward()
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    for t_s, p_s in zip(ts, ps):
        np.testing.assert_allclose(p_s.grad.numpy(), t_s.grad.numpy(), rtol=1e-12, atol=1e-12)
    t_params = dict(tm.named_parameters())
    for pname, p in pm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[pname].grad.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=pname)


def test_cells_reject_bad_input():
    cell = pn.nn.LSTMCell(4, 3)
    with pytest.raises(ValueError, match=r"LSTMCell: expected input of shape \(batch, 4\)"):
        cell(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"LSTMCell: h has shape \(3, 3\); expected \(2, 3\)"):
        cell(np.zeros((2, 4), np.float32), (np.zeros((3, 3), np.float32), np.zeros((2, 3), np.float32)))
    with pytest.raises(TypeError, match="LSTMCell"):
        cell(np.zeros((2, 4), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"GRUCell: hx has shape \(2, 4\); expected \(2, 3\)"):
        pn.nn.GRUCell(4, 3)(np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="RNNCell: hidden_size"):
        pn.nn.RNNCell(4, 0)
    with pytest.raises(ValueError, match="RNNCell: unknown nonlinearity"):
        pn.nn.RNNCell(4, 3, nonlinearity="gelu")


# ------------------------------------------------------------------------------------------ gradchecks

@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_recurrence_gradcheck(backend, rng, mode, reverse):
    """Finite differences through the whole recurrence node (every state slot, both directions)."""
    steps, batch, hidden = 3, 2, 3
    width = GATES[mode] * hidden
    xg = pn.tensor(rng.standard_normal((steps, batch, width)), requires_grad=True)
    w = pn.tensor(rng.standard_normal((width, hidden)) * 0.5, requires_grad=True)
    b = pn.tensor(rng.standard_normal(width), requires_grad=True)
    h0 = pn.tensor(rng.standard_normal((batch, hidden)), requires_grad=True)
    if mode == "RNN_RELU":  # keep the pre-activations away from the kink at 0
        xg = pn.tensor(np.abs(xg.numpy()) + 0.5, requires_grad=True)
        w = pn.tensor(np.abs(w.numpy()), requires_grad=True)
        h0 = pn.tensor(np.abs(h0.numpy()), requires_grad=True)
    inputs = [xg, w, b, h0]
    if mode == "LSTM":
        inputs.append(pn.tensor(rng.standard_normal((batch, hidden)), requires_grad=True))
    assert pn.autograd.gradcheck(lambda *a: recurrence(mode, *a, reverse=reverse), inputs)
    assert pn.autograd.gradcheck(lambda x, w: recurrence(mode, x, w, reverse=reverse), (xg, w))  # no bias, zeros


@pytest.mark.parametrize("reverse", [False, True])
def test_projected_recurrence_gradcheck(backend, rng, reverse):
    """Finite differences through the recurrence node of an LSTM with projections (H 3 -> P 2): xg, w_hh (4H, P),
    b_hh, h0 (B, P), c0 (B, H) and w_hr (P, H)."""
    steps, batch, hidden, proj = 3, 2, 3, 2
    xg = pn.tensor(rng.standard_normal((steps, batch, 4 * hidden)), requires_grad=True)
    w = pn.tensor(rng.standard_normal((4 * hidden, proj)) * 0.5, requires_grad=True)
    b = pn.tensor(rng.standard_normal(4 * hidden), requires_grad=True)
    h0 = pn.tensor(rng.standard_normal((batch, proj)), requires_grad=True)
    c0 = pn.tensor(rng.standard_normal((batch, hidden)), requires_grad=True)
    w_hr = pn.tensor(rng.standard_normal((proj, hidden)), requires_grad=True)

    def run(x, w, b, h, c, r):
        states = recurrence("LSTM", x, w, b, h, c, reverse=reverse, weight_hr=r)
        return states[0, :, :, :proj], states[1]  # the padding columns of states[0] are no output

    assert pn.autograd.gradcheck(run, (xg, w, b, h0, c0, w_hr))
    assert pn.autograd.gradcheck(lambda x, w, r: run(x, w, None, None, None, r), (xg, w, w_hr))  # zero states


@pytest.mark.parametrize("mode", MODES)
def test_layer_gradcheck(backend, rng, mode):
    """A tiny 2-layer bidirectional layer end to end, through the input and the initial state."""
    name, kwargs = LAYERS[mode]
    layer = getattr(pn.nn, name)(2, 2, num_layers=2, bidirectional=True, dtype=pn.float64, **kwargs)
    x = pn.tensor(rng.standard_normal((3, 2, 2)) + (1.0 if mode == "RNN_RELU" else 0.0), requires_grad=True)
    h0 = pn.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    if mode == "LSTM":
        c0 = pn.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
        assert pn.autograd.gradcheck(lambda x, h, c: layer(x, (h, c))[0], (x, h0, c0))
    else:
        assert pn.autograd.gradcheck(lambda x, h: layer(x, h)[0], (x, h0))


def test_projected_layer_gradcheck(backend, rng):
    """A tiny 2-layer bidirectional LSTM with projections (H 3 -> P 2) end to end: output and both final states
    through the input and the initial states."""
    layer = pn.nn.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2, dtype=pn.float64)
    x = pn.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = pn.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    c0 = pn.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)

    def run(x, h, c):
        out, (h_n, c_n) = layer(x, (h, c))
        return out, h_n, c_n

    assert pn.autograd.gradcheck(run, (x, h0, c0))


# ------------------------------------------------------------------------------------------ behaviour

@pytest.mark.parametrize("mode,proj_size", [(m, 0) for m in MODES] + [("LSTM", 3)])
def test_no_grad_forward_matches(backend, rng, mode, proj_size):
    """Without autograd the forward keeps one step of gates (no saved activations) and gives the same result."""
    name, kwargs = LAYERS[mode]
    if proj_size:
        kwargs = dict(kwargs, proj_size=proj_size)
    layer = getattr(pn.nn, name)(5, 7, **kwargs)
    x = rng.standard_normal((6, 2, 5)).astype(np.float32)
    with_grad = layer(pn.tensor(x))[0].numpy()
    with pn.no_grad():
        without = layer(pn.tensor(x))[0].numpy()
    np.testing.assert_array_equal(with_grad, without)


def test_dropout_between_layers(rng):
    """Dropout acts on every layer's output but the last, only in training, reproducibly under manual_seed."""
    layer = pn.nn.LSTM(4, 8, num_layers=2, dropout=0.5)
    x = pn.tensor(rng.standard_normal((5, 3, 4)).astype(np.float32))
    layer.eval()
    reference = layer(x)[0].numpy()
    layer.train()
    pn.manual_seed(7)
    first = layer(x)[0].numpy()
    pn.manual_seed(7)
    again = layer(x)[0].numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, reference)
    single = pn.nn.GRU(4, 8, num_layers=1, dropout=0.5)  # one layer: nothing to drop
    single.eval()
    evaluated = single(x)[0].numpy()
    single.train()
    np.testing.assert_array_equal(single(x)[0].numpy(), evaluated)


def test_gradient_through_dropout_between_layers(rng):
    """With the seed fixed the dropout masks are fixed, so the layer is a smooth function: float64 gradcheck."""
    layer = pn.nn.GRU(3, 4, num_layers=2, dropout=0.4).to(pn.float64)
    layer.train()
    x = pn.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)

    def run(inp):
        pn.manual_seed(11)
        return layer(inp)[0]

    assert pn.autograd.gradcheck(run, (x,))  # x's gradient flows back through layer 0's dropped outputs
    pn.manual_seed(11)
    dropped = layer(x)[0]
    pn.manual_seed(12)
    assert not np.allclose(layer(x)[0].numpy(), dropped.numpy())  # the mask did change the output


def test_flatten_parameters_is_accepted():
    layer = pn.nn.LSTM(3, 4)
    assert layer.flatten_parameters() is None


def test_lstm_trains(rng):
    """A few Adam steps fit a small sequence target (the gradients point downhill)."""
    pn.manual_seed(0)
    layer = pn.nn.LSTM(3, 8, batch_first=True)
    head = pn.nn.Linear(8, 1)
    x = pn.tensor(rng.standard_normal((16, 10, 3)).astype(np.float32))
    y = pn.tensor(np.cumsum(x.numpy()[..., :1], axis=1) * 0.3)
    opt = pn.optim.Adam(list(layer.parameters()) + list(head.parameters()), lr=0.02)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = pn.nn.functional.mse_loss(head(layer(x)[0]), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


# ------------------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_bad_input_raises(name):
    layer = getattr(pn.nn, name)(4, 3, num_layers=2)
    good = np.zeros((5, 2, 4), np.float32)
    with pytest.raises(ValueError, match=rf"{name}.*\(5, 2, 6\).*input_size=4"):
        layer(np.zeros((5, 2, 6), np.float32))
    with pytest.raises(ValueError, match=rf"{name}.*\(5, 2, 4, 1\)"):
        layer(np.zeros((5, 2, 4, 1), np.float32))
    with pytest.raises(ValueError, match=rf"{name}.*\(4,\)"):
        layer(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=rf"{name}.*at least one step"):
        layer(np.zeros((0, 2, 4), np.float32))
    bad_state = np.zeros((1, 2, 3), np.float32)  # num_layers=2 needs 2 states
    good_state = np.zeros((2, 2, 3), np.float32)
    if name == "LSTM":
        with pytest.raises(ValueError, match=r"LSTM: h0 has shape \(1, 2, 3\); expected \(2, 2, 3\)"):
            layer(good, (bad_state, good_state))
        with pytest.raises(ValueError, match=r"LSTM: c0 has shape \(2, 2, 4\); expected \(2, 2, 3\)"):
            layer(good, (good_state, np.zeros((2, 2, 4), np.float32)))
        with pytest.raises(TypeError, match="LSTM"):
            layer(good, good_state)
    else:
        with pytest.raises(ValueError, match=rf"{name}: hx has shape \(1, 2, 3\); expected \(2, 2, 3\)"):
            layer(good, bad_state)
        with pytest.raises(ValueError, match=rf"{name}: hx has shape \(2, 3\)"):
            layer(good, good_state[0])
    cls = getattr(pn.nn, name)
    for bad in ({"dropout": 1.5}, {"dropout": -0.1}, {"num_layers": 0}):
        with pytest.raises(ValueError, match=name):
            cls(4, 3, **bad)
    with pytest.raises(ValueError, match=rf"{name}: hidden_size"):
        cls(4, 0)
    with pytest.raises(ValueError, match=rf"{name}: input_size"):
        cls(-1, 3)


def test_bad_proj_size_raises():
    """PyTorch's rules: 0 <= proj_size < hidden_size, LSTM only; states of the wrong width name both sizes."""
    for bad in (3, 4, -1):
        with pytest.raises(ValueError, match=r"LSTM: proj_size"):
            pn.nn.LSTM(4, 3, proj_size=bad)
    with pytest.raises(ValueError, match=r"LSTM: proj_size has to be smaller than hidden_size, got proj_size=3"):
        pn.nn.LSTM(4, 3, proj_size=3)
    with pytest.raises(ValueError, match=r"LSTM: proj_size should be a positive integer or zero"):
        pn.nn.LSTM(4, 3, proj_size=-2)
    with pytest.raises(TypeError, match=r"LSTM: proj_size must be an int"):
        pn.nn.LSTM(4, 3, proj_size=1.5)
    for name in ("RNN", "GRU"):
        for value in (0, 2):  # PyTorch refuses the argument itself, even 0
            with pytest.raises(ValueError, match=rf"{name}: proj_size argument is only supported for LSTM"):
                getattr(pn.nn, name)(4, 3, proj_size=value)
        with pytest.raises(TypeError, match="unexpected keyword argument 'projection'"):
            getattr(pn.nn, name)(4, 3, projection=2)
    layer = pn.nn.LSTM(4, 3, num_layers=2, proj_size=2)
    x = np.zeros((5, 2, 4), np.float32)
    h0, c0 = np.zeros((2, 2, 2), np.float32), np.zeros((2, 2, 3), np.float32)
    assert layer(x, (h0, c0))[0].shape == (5, 2, 2)
    with pytest.raises(ValueError, match=r"LSTM: h0 has shape \(2, 2, 3\); expected \(2, 2, 2\) \(with proj_size=2"):
        layer(x, (c0, c0))  # h0 with hidden_size instead of proj_size columns
    with pytest.raises(ValueError, match=r"LSTM: c0 has shape \(2, 2, 2\); expected \(2, 2, 3\)"):
        layer(x, (h0, h0))
    with pytest.raises(ValueError, match=r"LSTM: h0 has shape \(2, 3\); expected \(2, 2\)"):
        layer(x[:, 0], (c0[:, 0], c0[:, 0]))  # unbatched
    with pytest.raises(ValueError, match=r"LSTM: input of shape \(5, 2, 3\) has 3 features"):
        layer(np.zeros((5, 2, 3), np.float32))


def test_projected_recurrence_kernel_rejects_bad_shapes():
    xg, w_hh, w_hr = np.zeros((3, 2, 12)), np.zeros((12, 2)), np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"recurrence_forward: w_hr .* only used by the LSTM, not GRU"):
        K.recurrence_forward("GRU", np.zeros((3, 2, 9)), np.zeros((9, 2)), w_hr=w_hr)
    with pytest.raises(ValueError, match=r"recurrence_forward: w_hr has shape \(3, 3\); expected \(proj_size, hid"):
        K.recurrence_forward("LSTM", xg, np.zeros((12, 3)), w_hr=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"recurrence_forward: w_hh has shape \(12, 3\); expected \(12, 2\)"):
        K.recurrence_forward("LSTM", xg, np.zeros((12, 3)), w_hr=w_hr)
    with pytest.raises(ValueError, match=r"recurrence_forward: h0 has shape \(2, 3\); expected \(2, 2\)"):
        K.recurrence_forward("LSTM", xg, w_hh, h0=np.zeros((2, 3)), w_hr=w_hr)
    with pytest.raises(TypeError, match=r"recurrence_forward: w_hr must be a float32 or float64"):
        K.recurrence_forward("LSTM", xg, w_hh, w_hr=np.zeros((2, 3), np.int64))
    states, saved = K.recurrence_forward("LSTM", xg, w_hh, w_hr=w_hr)
    assert states.shape == (2, 4, 2, 3) and saved[1].shape == (3, 2, 3)
    with pytest.raises(ValueError, match=r"recurrence_backward: with w_hr, gates must be the pair"):
        K.recurrence_backward("LSTM", np.zeros_like(states), states, saved[0], w_hh, w_hr=w_hr)
    with pytest.raises(ValueError, match=r"recurrence_backward: w_hh has shape \(12, 3\)"):
        K.recurrence_backward("LSTM", np.zeros_like(states), states, saved, np.zeros((12, 3)), w_hr=w_hr)


def test_rnn_rejects_unknown_nonlinearity():
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'"):
        pn.nn.RNN(4, 3, nonlinearity="sigmoid")


def test_recurrence_kernel_rejects_bad_shapes():
    xg = np.zeros((3, 2, 8))
    with pytest.raises(ValueError, match=r"recurrence_forward: w_hh has shape \(8, 3\)"):
        K.recurrence_forward("LSTM", xg, np.zeros((8, 3)))
    with pytest.raises(ValueError, match=r"recurrence_forward: xg has shape \(3, 2, 8\)"):
        K.recurrence_forward("GRU", xg, np.zeros((6, 2)))
    with pytest.raises(ValueError, match=r"recurrence_forward: h0 has shape \(3, 2\)"):
        K.recurrence_forward("LSTM", xg, np.zeros((8, 2)), h0=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="unknown mode"):
        K.recurrence_forward("ELMAN", xg, np.zeros((8, 8)))
    states, gates = K.recurrence_forward("GRU", np.zeros((3, 2, 6)), np.zeros((6, 2)), save=False)
    with pytest.raises(ValueError, match=r"recurrence_backward: gates has shape \(1, 2, 8\); expected \(3, 2, 8\)"):
        K.recurrence_backward("GRU", np.zeros_like(states), states, gates, np.zeros((6, 2)))
    with pytest.raises(ValueError, match=r"recurrence_backward: grad_states has shape"):
        K.recurrence_backward("RNN_TANH", np.zeros((1, 2, 2, 2)), np.zeros((1, 4, 2, 2)), None, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"recurrence_backward: expected states .* got states of shape \(2, 3\)"):
        K.recurrence_backward("GRU", np.zeros((2, 3)), np.zeros((2, 3)), None, np.zeros((6, 2)))
    with pytest.raises(ValueError, match=r"recurrence_backward: .* w_hh of shape \(6,\)"):
        K.recurrence_backward("GRU", states, states, gates, np.zeros(6))


def test_checkpoint_round_trip(tmp_path, rng):
    """A recurrent layer's state dict survives a safetensors checkpoint and gives the same outputs."""
    layer = pn.nn.GRU(4, 5, num_layers=2, bidirectional=True)
    path = tmp_path / "gru.safetensors"
    pn.save(layer.state_dict(), path)
    fresh = pn.nn.GRU(4, 5, num_layers=2, bidirectional=True)
    fresh.load_state_dict(pn.load(path))
    x = rng.standard_normal((3, 2, 4)).astype(np.float32)
    np.testing.assert_array_equal(fresh(x)[0].numpy(), layer(x)[0].numpy())
