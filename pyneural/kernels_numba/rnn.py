"""Numba recurrent gate kernels: ``rnn_cell_*``, ``lstm_cell_*``, ``gru_cell_*`` (contracts of ``pyneural._C``).

One call does all the element-wise work of one time step for a batch (see ``csrc/cpu/rnn/rnn.h``):
arrays are C-contiguous (batch, k*H) of one float dtype, optional ones may be None (zeros). Each kernel
has a serial row loop; big steps split the rows over Numba's threads (small ones would only pay the
launch cost).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .activation import _sigmoid, _tanh
from .checks import check_arrays, check_disjoint, check_float, check_ndarray, dims, optional
from .gemm import matmul

_PARALLEL_WORK = 1 << 18  # hidden units x rough flops per unit below which one thread does the step


def _nonlinearity(op: str, name: str) -> bool:
    if name not in ("tanh", "relu"):
        raise ValueError(f"{op}: unknown nonlinearity {name!r}; expected 'tanh' or 'relu'")
    return name == "relu"


def _run(serial, parallel, rows: int, work: float, *args) -> None:
    """Rows [0, rows) in one call, or split into one chunk per thread when the step is big."""
    threads = numba.get_num_threads()
    if threads > 1 and rows > 1 and work >= _PARALLEL_WORK:
        parallel(*args, min(threads, rows))
    else:
        serial(*args, 0, rows)


# ------------------------------------------------------------------------------------------ RNN

@njit(cache=True)
def _rnn_forward_rows(relu, precise, xg, hg, bias, has_bias, h, r0, r1):
    hidden = h.shape[1]
    for r in range(r0, r1):
        for j in range(hidden):
            pre = xg[r, j] + hg[r, j]
            if has_bias:
                pre += bias[j]
            if relu:
                h[r, j] = 0.0 if pre < 0 else pre  # NaN passes through
            else:
                h[r, j] = _tanh(pre, precise)


@njit(cache=True, parallel=True)
def _rnn_forward_par(relu, precise, xg, hg, bias, has_bias, h, chunks):
    rows = h.shape[0]
    for k in prange(chunks):
        _rnn_forward_rows(relu, precise, xg, hg, bias, has_bias, h, rows * k // chunks, rows * (k + 1) // chunks)


def rnn_cell_forward(nonlinearity: str, xg, hg, bias, h) -> None:
    """h = act(xg + hg + bias), act 'tanh' or 'relu'; xg, hg, h (batch, H), bias (H,) or None."""
    op = "rnn_cell_forward"
    relu = _nonlinearity(op, nonlinearity)
    rows, hidden = dims(op, h, "h", 2, "(batch, hidden)")
    check_arrays(op, h.dtype, ("xg", xg, (rows, hidden), False), ("hg", hg, (rows, hidden), False),
                 ("bias", bias, (hidden,), False), ("h", h, (rows, hidden), True))
    if h.size == 0:
        return
    check_disjoint(op, (h,), (xg, hg, bias))
    b, has_b = optional(bias, h.dtype)
    _run(_rnn_forward_rows, _rnn_forward_par, rows, 30.0 * h.size, relu, h.dtype == np.float64, xg, hg, b, has_b, h)


@njit(cache=True)
def _rnn_backward_rows(relu, gy, has_gy, dh, has_dh, h, dpre, r0, r1):
    hidden = h.shape[1]
    for r in range(r0, r1):
        for j in range(hidden):
            g = 0.0
            if has_gy:
                g += gy[r, j]
            if has_dh:
                g += dh[r, j]
            y = h[r, j]
            if relu:
                dpre[r, j] = g if y > 0 else 0.0
            else:
                dpre[r, j] = g * (1.0 - y * y)


@njit(cache=True, parallel=True)
def _rnn_backward_par(relu, gy, has_gy, dh, has_dh, h, dpre, chunks):
    rows = h.shape[0]
    for k in prange(chunks):
        _rnn_backward_rows(relu, gy, has_gy, dh, has_dh, h, dpre, rows * k // chunks, rows * (k + 1) // chunks)


def rnn_cell_backward(nonlinearity: str, grad_output, grad_h, h, grad_pre) -> None:
    """grad_pre = (grad_output + grad_h) * act'(h) from the forward's output h; either grad may be None."""
    op = "rnn_cell_backward"
    relu = _nonlinearity(op, nonlinearity)
    rows, hidden = dims(op, h, "h", 2, "(batch, hidden)")
    check_arrays(op, h.dtype, ("grad_output", grad_output, (rows, hidden), False),
                 ("grad_h", grad_h, (rows, hidden), False), ("h", h, (rows, hidden), False),
                 ("grad_pre", grad_pre, (rows, hidden), True))
    if h.size == 0:
        return
    check_disjoint(op, (grad_pre,), (grad_output, grad_h, h))
    gy, has_gy = optional(grad_output, h.dtype, 2)
    dh, has_dh = optional(grad_h, h.dtype, 2)
    _run(_rnn_backward_rows, _rnn_backward_par, rows, 4.0 * h.size, relu, gy, has_gy, dh, has_dh, h, grad_pre)


# ------------------------------------------------------------------------------------------ LSTM

@njit(cache=True)
def _lstm_forward_rows(precise, xg, hg, bias, has_bias, c_prev, has_c, gates, c, h, r0, r1):
    hidden = h.shape[1]
    for r in range(r0, r1):
        for j in range(hidden):
            pi = xg[r, j] + hg[r, j]
            pf = xg[r, hidden + j] + hg[r, hidden + j]
            pg = xg[r, 2 * hidden + j] + hg[r, 2 * hidden + j]
            po = xg[r, 3 * hidden + j] + hg[r, 3 * hidden + j]
            if has_bias:
                pi += bias[j]
                pf += bias[hidden + j]
                pg += bias[2 * hidden + j]
                po += bias[3 * hidden + j]
            i, f, g, o = _sigmoid(pi), _sigmoid(pf), _tanh(pg, precise), _sigmoid(po)
            gates[r, j] = i
            gates[r, hidden + j] = f
            gates[r, 2 * hidden + j] = g
            gates[r, 3 * hidden + j] = o
            cn = i * g
            if has_c:
                cn += f * c_prev[r, j]
            c[r, j] = cn
            h[r, j] = o * _tanh(cn, precise)


@njit(cache=True, parallel=True)
def _lstm_forward_par(precise, xg, hg, bias, has_bias, c_prev, has_c, gates, c, h, chunks):
    rows = h.shape[0]
    for k in prange(chunks):
        _lstm_forward_rows(precise, xg, hg, bias, has_bias, c_prev, has_c, gates, c, h, rows * k // chunks,
                           rows * (k + 1) // chunks)


def lstm_cell_forward(xg, hg, bias, c_prev, gates, c, h) -> None:
    """LSTM step (gates i, f, g, o) from xg, hg (batch, 4H), bias (4H,) or None, c_prev (batch, H) or None;
    writes the activated gates (batch, 4H), c and h (batch, H)."""
    op = "lstm_cell_forward"
    rows, hidden = dims(op, h, "h", 2, "(batch, hidden)")
    check_arrays(op, h.dtype, ("xg", xg, (rows, 4 * hidden), False), ("hg", hg, (rows, 4 * hidden), False),
                 ("bias", bias, (4 * hidden,), False), ("c_prev", c_prev, (rows, hidden), False),
                 ("gates", gates, (rows, 4 * hidden), True), ("c", c, (rows, hidden), True),
                 ("h", h, (rows, hidden), True))
    if h.size == 0:
        return
    check_disjoint(op, (gates, c, h), (xg, hg, bias, c_prev))
    b, has_b = optional(bias, h.dtype)
    cp, has_c = optional(c_prev, h.dtype, 2)
    _run(_lstm_forward_rows, _lstm_forward_par, rows, 130.0 * h.size, h.dtype == np.float64, xg, hg, b, has_b, cp,
         has_c, gates, c, h)


@njit(cache=True)
def _lstm_backward_rows(precise, gy, has_gy, dh, has_dh, dc, has_dc, gates, c_prev, has_cp, c, dpre, dc_prev,
                        has_dcp, r0, r1):
    hidden = c.shape[1]
    for r in range(r0, r1):
        for j in range(hidden):
            i = gates[r, j]
            f = gates[r, hidden + j]
            g = gates[r, 2 * hidden + j]
            o = gates[r, 3 * hidden + j]
            dht = 0.0
            if has_gy:
                dht += gy[r, j]
            if has_dh:
                dht += dh[r, j]
            tc = _tanh(c[r, j], precise)
            dct = dht * o * (1.0 - tc * tc)
            if has_dc:
                dct += dc[r, j]
            cp = c_prev[r, j] if has_cp else 0.0
            dpre[r, j] = dct * g * i * (1.0 - i)
            dpre[r, hidden + j] = dct * cp * f * (1.0 - f)
            dpre[r, 2 * hidden + j] = dct * i * (1.0 - g * g)
            dpre[r, 3 * hidden + j] = dht * tc * o * (1.0 - o)
            if has_dcp:
                dc_prev[r, j] = dct * f


@njit(cache=True, parallel=True)
def _lstm_backward_par(precise, gy, has_gy, dh, has_dh, dc, has_dc, gates, c_prev, has_cp, c, dpre, dc_prev,
                       has_dcp, chunks):
    rows = c.shape[0]
    for k in prange(chunks):
        _lstm_backward_rows(precise, gy, has_gy, dh, has_dh, dc, has_dc, gates, c_prev, has_cp, c, dpre, dc_prev,
                            has_dcp, rows * k // chunks, rows * (k + 1) // chunks)


def lstm_cell_backward(grad_output, grad_h, grad_c, gates, c_prev, c, grad_pre, grad_c_prev) -> None:
    """Backward of lstm_cell_forward: grad_pre (batch, 4H) and grad_c_prev (batch, H) or None."""
    op = "lstm_cell_backward"
    rows, hidden = dims(op, c, "c", 2, "(batch, hidden)")
    check_arrays(op, c.dtype, ("grad_output", grad_output, (rows, hidden), False),
                 ("grad_h", grad_h, (rows, hidden), False), ("grad_c", grad_c, (rows, hidden), False),
                 ("gates", gates, (rows, 4 * hidden), False),
                 ("c_prev", c_prev, (rows, hidden), False), ("c", c, (rows, hidden), False),
                 ("grad_pre", grad_pre, (rows, 4 * hidden), True), ("grad_c_prev", grad_c_prev, (rows, hidden), True))
    if c.size == 0:
        return
    check_disjoint(op, (grad_pre, grad_c_prev), (grad_output, grad_h, grad_c, gates, c_prev, c))
    gy, has_gy = optional(grad_output, c.dtype, 2)
    dh, has_dh = optional(grad_h, c.dtype, 2)
    dc, has_dc = optional(grad_c, c.dtype, 2)
    cp, has_cp = optional(c_prev, c.dtype, 2)
    dcp, has_dcp = optional(grad_c_prev, c.dtype, 2)
    _run(_lstm_backward_rows, _lstm_backward_par, rows, 65.0 * c.size, c.dtype == np.float64, gy, has_gy, dh, has_dh,
         dc, has_dc, gates, cp, has_cp, c, grad_pre, dcp, has_dcp)


# ----------------------------------------------------------------------------- LSTM, whole sequences

def _sequence_dims(op: str, states) -> tuple:
    """(steps, batch, hidden) from states (2, steps + 1, batch, hidden)."""
    check_float(op, states, "states")
    if states.ndim != 4 or states.shape[0] != 2 or states.shape[1] < 2:
        raise ValueError(f"{op}: states has shape {states.shape}, expected (2, steps + 1, batch, hidden) with "
                         "steps >= 1")
    return states.shape[1] - 1, states.shape[2], states.shape[3]


def lstm_sequence_forward(xg, w_t, bias, states, gates, reverse: bool, zero_h0: bool, zero_c0: bool) -> None:
    """A whole LSTM layer direction (contract of ``_C.lstm_sequence_forward``): per step ``hg = h_prev @ w_t``
    and :func:`lstm_cell_forward`. xg (T, B, 4H), w_t (H, 4H), states (2, T + 1, B, H) with the initial h, c
    in slot T (reverse) or 0, gates (T, B, 4H) saved or (1, B, 4H) scratch."""
    op = "lstm_sequence_forward"
    steps, batch, hidden = _sequence_dims(op, states)
    check_ndarray(op, gates, "gates")
    save = gates.ndim == 3 and gates.shape[0] == steps
    check_arrays(op, states.dtype, ("xg", xg, (steps, batch, 4 * hidden), False),
                 ("w_t", w_t, (hidden, 4 * hidden), False), ("bias", bias, (4 * hidden,), False),
                 ("states", states, (2, steps + 1, batch, hidden), True),
                 ("gates", gates, (steps if save else 1, batch, 4 * hidden), True))
    check_disjoint(op, (states, gates), (xg, w_t, bias))
    hg = np.zeros((batch, 4 * hidden), states.dtype)
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        prev, nxt = (t + 1, t) if reverse else (t, t + 1)
        if k > 0 or not zero_h0:
            matmul(states[0, prev], w_t, out=hg)
        lstm_cell_forward(xg[t], hg, bias, None if k == 0 and zero_c0 else states[1, prev], gates[t if save else 0],
                          states[1, nxt], states[0, nxt])


def lstm_sequence_backward(grad_states, states, gates, w_hh, reverse: bool, need_h0: bool, grad_xg, grad_h,
                           grad_c) -> None:
    """Backward of :func:`lstm_sequence_forward` (contract of ``_C.lstm_sequence_backward``): grad_xg (T, B, 4H)
    and the h, c gradients (B, H) carried into the initial slot (grad_h only when need_h0)."""
    op = "lstm_sequence_backward"
    steps, batch, hidden = _sequence_dims(op, states)
    slots = (2, steps + 1, batch, hidden)
    check_arrays(op, states.dtype, ("grad_states", grad_states, slots, False), ("states", states, slots, False),
                 ("gates", gates, (steps, batch, 4 * hidden), False), ("w_hh", w_hh, (4 * hidden, hidden), False),
                 ("grad_xg", grad_xg, (steps, batch, 4 * hidden), True), ("grad_h", grad_h, (batch, hidden), True),
                 ("grad_c", grad_c, (batch, hidden), True))
    check_disjoint(op, (grad_xg, grad_h, grad_c), (grad_states, states, gates, w_hh))
    dc_in = np.empty((batch, hidden), states.dtype)  # the c gradient entering a step (its slot's and the carried)
    for k in range(steps):
        t = k if reverse else steps - 1 - k
        prev, nxt = (t + 1, t) if reverse else (t, t + 1)
        if k > 0:
            np.add(grad_c, grad_states[1, nxt], out=dc_in)
        lstm_cell_backward(grad_states[0, nxt], grad_h if k > 0 else None, dc_in if k > 0 else grad_states[1, nxt],
                           gates[t], states[1, prev], states[1, nxt], grad_xg[t], grad_c)
        if k < steps - 1 or need_h0:
            matmul(grad_xg[t], w_hh, out=grad_h)


# ------------------------------------------------------------------------------------------ GRU

@njit(cache=True)
def _gru_forward_rows(precise, xg, hg, bias, has_bias, h_prev, has_h, gates, h, r0, r1):
    hidden = h.shape[1]
    for r in range(r0, r1):
        for j in range(hidden):
            pr = xg[r, j] + hg[r, j]
            pz = xg[r, hidden + j] + hg[r, hidden + j]
            hn = hg[r, 2 * hidden + j]
            if has_bias:
                pr += bias[j]
                pz += bias[hidden + j]
                hn += bias[2 * hidden + j]
            rg, z = _sigmoid(pr), _sigmoid(pz)
            n = _tanh(xg[r, 2 * hidden + j] + rg * hn, precise)
            hp = h_prev[r, j] if has_h else 0.0
            gates[r, j] = rg
            gates[r, hidden + j] = z
            gates[r, 2 * hidden + j] = n
            gates[r, 3 * hidden + j] = hn
            h[r, j] = n + z * (hp - n)


@njit(cache=True, parallel=True)
def _gru_forward_par(precise, xg, hg, bias, has_bias, h_prev, has_h, gates, h, chunks):
    rows = h.shape[0]
    for k in prange(chunks):
        _gru_forward_rows(precise, xg, hg, bias, has_bias, h_prev, has_h, gates, h, rows * k // chunks,
                          rows * (k + 1) // chunks)


def gru_cell_forward(xg, hg, bias, h_prev, gates, h) -> None:
    """GRU step (gates r, z, n; PyTorch's form) from xg, hg (batch, 3H), hidden bias (3H,) or None and h_prev
    (batch, H) or None; writes r, z, n, hg_n + b_n into gates (batch, 4H) and h (batch, H)."""
    op = "gru_cell_forward"
    rows, hidden = dims(op, h, "h", 2, "(batch, hidden)")
    check_arrays(op, h.dtype, ("xg", xg, (rows, 3 * hidden), False), ("hg", hg, (rows, 3 * hidden), False),
                 ("bias", bias, (3 * hidden,), False), ("h_prev", h_prev, (rows, hidden), False),
                 ("gates", gates, (rows, 4 * hidden), True), ("h", h, (rows, hidden), True))
    if h.size == 0:
        return
    check_disjoint(op, (gates, h), (xg, hg, bias, h_prev))
    b, has_b = optional(bias, h.dtype)
    hp, has_h = optional(h_prev, h.dtype, 2)
    _run(_gru_forward_rows, _gru_forward_par, rows, 90.0 * h.size, h.dtype == np.float64, xg, hg, b, has_b, hp, has_h,
         gates, h)


@njit(cache=True)
def _gru_backward_rows(gy, has_gy, dh, has_dh, gates, h_prev, has_h, dxg, dhg, dh_prev, r0, r1):
    hidden = dh_prev.shape[1]
    for r in range(r0, r1):
        for j in range(hidden):
            rg = gates[r, j]
            z = gates[r, hidden + j]
            n = gates[r, 2 * hidden + j]
            hn = gates[r, 3 * hidden + j]
            dht = 0.0
            if has_gy:
                dht += gy[r, j]
            if has_dh:
                dht += dh[r, j]
            hp = h_prev[r, j] if has_h else 0.0
            dn = dht * (1.0 - z) * (1.0 - n * n)
            dz = dht * (hp - n) * z * (1.0 - z)
            dr = dn * hn * rg * (1.0 - rg)
            dxg[r, j] = dr
            dxg[r, hidden + j] = dz
            dxg[r, 2 * hidden + j] = dn
            dhg[r, j] = dr
            dhg[r, hidden + j] = dz
            dhg[r, 2 * hidden + j] = dn * rg
            dh_prev[r, j] = dht * z


@njit(cache=True, parallel=True)
def _gru_backward_par(gy, has_gy, dh, has_dh, gates, h_prev, has_h, dxg, dhg, dh_prev, chunks):
    rows = dh_prev.shape[0]
    for k in prange(chunks):
        _gru_backward_rows(gy, has_gy, dh, has_dh, gates, h_prev, has_h, dxg, dhg, dh_prev, rows * k // chunks,
                           rows * (k + 1) // chunks)


def gru_cell_backward(grad_output, grad_h, gates, h_prev, grad_xg, grad_hg, grad_h_prev) -> None:
    """Backward of gru_cell_forward: grad_xg, grad_hg (batch, 3H) and the direct part z * grad of grad_h_prev."""
    op = "gru_cell_backward"
    rows, hidden = dims(op, grad_h_prev, "grad_h_prev", 2, "(batch, hidden)")
    check_arrays(op, grad_h_prev.dtype, ("grad_output", grad_output, (rows, hidden), False),
                 ("grad_h", grad_h, (rows, hidden), False), ("gates", gates, (rows, 4 * hidden), False),
                 ("h_prev", h_prev, (rows, hidden), False), ("grad_xg", grad_xg, (rows, 3 * hidden), True),
                 ("grad_hg", grad_hg, (rows, 3 * hidden), True), ("grad_h_prev", grad_h_prev, (rows, hidden), True))
    if grad_h_prev.size == 0:
        return
    check_disjoint(op, (grad_xg, grad_hg, grad_h_prev), (grad_output, grad_h, gates, h_prev))
    like = grad_h_prev
    gy, has_gy = optional(grad_output, like.dtype, 2)
    dh, has_dh = optional(grad_h, like.dtype, 2)
    hp, has_h = optional(h_prev, like.dtype, 2)
    _run(_gru_backward_rows, _gru_backward_par, rows, 20.0 * like.size, gy, has_gy, dh, has_dh, gates, hp, has_h,
         grad_xg, grad_hg, grad_h_prev)
