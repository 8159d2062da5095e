"""Recurrent layers on NumPy arrays: one layer and direction of an RNN, LSTM or GRU, forward and backward.

The input projection of every time step is the caller's one GEMM (``xg = x @ W_ih.T + b_ih``, shape
(T, B, G) with G = gates * H). Here each step is one GEMM ``h @ W_hh.T`` (into a preallocated buffer)
and one fused gate kernel of the active backend, which also saves what backward needs. Backward walks
the steps in reverse with one gate-backward kernel and one GEMM (``dh_prev = dhg @ W_hh``) per step, then
computes ``dW_hh`` as ONE GEMM over all steps and ``db_hh`` as one reduction. The plain LSTM runs its steps
in one kernel call (``lstm_sequence_forward`` / ``_backward``): natively one parallel region with a barrier
per step, each thread owning a slice of the hidden units and its columns of W_hh; the step loop below
serves the RNN, the GRU and the projected LSTM.

Modes (PyTorch's names): ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` (gates i, f, g, o), ``"GRU"`` (gates
r, z, n with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

The hidden (and, for the LSTM, cell) states of all steps live in ONE array ``states`` of shape
(S, T + 1, B, H), S = 2 for the LSTM (``states[1]`` are the cells) and 1 otherwise, in time order with
the initial state in the extra slot: forward direction ``states[:, 0]`` is the initial state and
``states[:, t + 1]`` the state after time t; reverse direction ``states[:, T]`` is the initial state and
``states[:, t]`` the state after time t. See :func:`layout` for the output and final-state positions.

LSTM with projections (PyTorch's ``proj_size`` P < H, weight ``w_hr`` (P, H)): the hidden state is
``h_t = (o_t * tanh(c_t)) @ w_hr.T`` of P columns, so ``w_hh`` is (4H, P) and h0 (B, P). It lives in the
first P columns of ``states[0]`` (the other H - P columns are zeros), so the states array keeps its shape.
Each step adds one GEMM (the projection) after the gate kernel, which writes the unprojected
``o_t * tanh(c_t)`` into a saved (T, B, H) array; backward adds one GEMM per step (the gradient of that
unprojected output, ``dh_t @ w_hr``) and computes ``dw_hr`` as ONE GEMM over all steps.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .checks import FLOATS as _FLOATS
from .matmul import matmul

__all__ = ["MODES", "gate_count", "layout", "recurrence_forward", "recurrence_backward"]

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_SAVED_GATES = {"RNN_TANH": 0, "RNN_RELU": 0, "LSTM": 4, "GRU": 4}  # GRU also keeps W_hn h + b_hn


def gate_count(mode: str) -> int:
    """Gate blocks of H rows in the weights of ``mode`` (1, 4 or 3)."""
    if mode not in _GATES:
        raise ValueError(f"recurrence: unknown mode {mode!r}; expected one of {MODES}")
    return _GATES[mode]


def layout(steps: int, reverse: bool) -> tuple[slice, int]:
    """``(outputs, final)``: the slot slice holding the outputs of times 0..T-1 in the states array, and
    the slot of the final state (the state after the last step processed)."""
    return (slice(0, steps), 0) if reverse else (slice(1, steps + 1), steps)


def _check_projection(op: str, mode: str, w_hh: np.ndarray, w_hr: np.ndarray) -> tuple[int, int]:
    """``(hidden, proj)`` of an LSTM with projections: w_hr (P, H) with 0 < P < H, w_hh (4H, P)."""
    if mode != "LSTM":
        raise ValueError(f"{op}: w_hr (a projection of the hidden state) is only used by the LSTM, not {mode}")
    if w_hr.ndim != 2 or not 0 < w_hr.shape[0] < w_hr.shape[1]:
        raise ValueError(f"{op}: w_hr has shape {w_hr.shape}; expected (proj_size, hidden) with "
                         "0 < proj_size < hidden")
    proj, hidden = w_hr.shape
    if w_hh.shape != (4 * hidden, proj):
        raise ValueError(f"{op}: w_hh has shape {w_hh.shape}; expected ({4 * hidden}, {proj}) for LSTM with "
                         f"w_hr of shape {w_hr.shape}")
    return hidden, proj


def _check(op: str, mode: str, xg: np.ndarray, w_hh: np.ndarray, b_hh, h0, c0,
           w_hr: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """``(steps, batch, hidden, proj)``; proj (the columns of h) is hidden without a projection."""
    gates = gate_count(mode)
    for name, a in (("xg", xg), ("w_hh", w_hh)) + ((("w_hr", w_hr),) if w_hr is not None else ()):
        if not isinstance(a, np.ndarray) or a.dtype not in _FLOATS:
            raise TypeError(f"{op}: {name} must be a float32 or float64 numpy.ndarray, got "
                            f"{getattr(a, 'dtype', type(a).__name__)}")
    if w_hr is not None:
        hidden, proj = _check_projection(op, mode, w_hh, w_hr)
    elif w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{op}: w_hh has shape {w_hh.shape}; expected ({gates} * hidden, hidden) for {mode}")
    else:
        hidden = proj = w_hh.shape[1]
    if xg.ndim != 3 or xg.shape[2] != gates * hidden:
        raise ValueError(f"{op}: xg has shape {xg.shape}; expected (steps, batch, {gates * hidden}) for {mode} "
                         f"with w_hh of shape {w_hh.shape}")
    steps, batch = xg.shape[:2]
    if steps == 0:
        raise ValueError(f"{op}: expected a sequence of at least one step, got xg of shape {xg.shape}")
    if b_hh is not None and np.shape(b_hh) != (gates * hidden,):
        raise ValueError(f"{op}: b_hh has shape {np.shape(b_hh)}; expected ({gates * hidden},)")
    for name, a, width in (("h0", h0, proj), ("c0", c0, hidden)):
        if a is not None and np.shape(a) != (batch, width):
            raise ValueError(f"{op}: {name} has shape {np.shape(a)}; expected ({batch}, {width}) for xg of shape "
                             f"{xg.shape}" + (f" and w_hr of shape {w_hr.shape}" if w_hr is not None else ""))
    if c0 is not None and mode != "LSTM":
        raise ValueError(f"{op}: c0 is only used by the LSTM, not {mode}")
    return steps, batch, hidden, proj


def recurrence_forward(mode: str, xg, w_hh, b_hh=None, h0=None, c0=None, reverse: bool = False,
                       save: bool = True, w_hr=None) -> tuple[np.ndarray, np.ndarray | tuple | None]:
    """Run one layer and direction over the projected input ``xg`` (T, B, G): returns ``(states, gates)``.

    ``states`` (S, T + 1, B, H) as in the module docstring; ``gates`` (T, B, k*H) the saved activations for
    :func:`recurrence_backward` (None for the Elman RNN, whose backward needs only the states; a one-step
    scratch when ``save`` is False). w_hh (G, H), b_hh (G,) or None, h0/c0 (B, H) or None (zeros).

    ``w_hr`` (P, H) or None: the LSTM's projection (module docstring); then w_hh is (4H, P), h0 (B, P), and
    ``gates`` is the pair ``(gates, cell_out)`` with cell_out (T, B, H) the unprojected ``o * tanh(c)``.
    """
    op = "recurrence_forward"
    xg = np.ascontiguousarray(xg)
    w_hr = None if w_hr is None else np.asarray(w_hr)
    steps, batch, hidden, proj = _check(op, mode, xg, np.asarray(w_hh), b_hh, h0, c0, w_hr)
    dtype = xg.dtype
    w_t = np.ascontiguousarray(np.asarray(w_hh, dtype).T)  # (H, G) once: every step's GEMM reads it row-major
    bias = None if b_hh is None else np.ascontiguousarray(b_hh, dtype)
    lstm = mode == "LSTM"
    states = np.empty((2 if lstm else 1, steps + 1, batch, hidden), dtype)
    hs = states[0]
    if w_hr is not None:
        hs = states[0, :, :, :proj]  # the projected h; the padding columns stay zero
        states[0, :, :, proj:] = 0
        hr_t = np.ascontiguousarray(np.asarray(w_hr, dtype).T)  # (H, P), read row-major by every step
        cell_out = np.empty((steps if save else 1, batch, hidden), dtype)
    first = steps if reverse else 0
    hs[first] = 0 if h0 is None else h0
    if lstm:
        states[1, first] = 0 if c0 is None else c0
    saved = _SAVED_GATES[mode] * hidden
    gates = np.empty((steps if save else 1, batch, saved), dtype) if saved else None
    if lstm and w_hr is None:  # the whole recurrence in one kernel call (one parallel region natively)
        backend.kernel("lstm_sequence_forward")(xg, w_t, bias, states, gates, reverse, h0 is None, c0 is None)
        return states, gates
    hg = np.empty((batch, xg.shape[2]), dtype)
    cell = backend.kernel("lstm_cell_forward" if lstm else "gru_cell_forward" if mode == "GRU" else "rnn_cell_forward")
    act = "relu" if mode == "RNN_RELU" else "tanh"
    zero_start = h0 is None
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        prev, nxt = (t + 1, t) if reverse else (t, t + 1)
        if k == 0 and zero_start:
            hg.fill(0)
        else:
            matmul(hs[prev], w_t, out=hg)
        g = gates[t if save else 0] if gates is not None else None
        if lstm:  # with a projection (the kernel call above runs the plain LSTM)
            out = cell_out[t if save else 0]
            cell(xg[t], hg, bias, None if k == 0 and c0 is None else states[1, prev], g, states[1, nxt], out)
            matmul(out, hr_t, out=hs[nxt])  # h_t = (o * tanh(c_t)) @ w_hr.T
        elif mode == "GRU":
            cell(xg[t], hg, bias, None if k == 0 and zero_start else hs[prev], g, hs[nxt])
        else:
            cell(act, xg[t], hg, bias, hs[nxt])
    return states, (gates if w_hr is None else (gates, cell_out))


def recurrence_backward(mode: str, grad_states, states, gates, w_hh, has_bias: bool = True, reverse: bool = False,
                        need_h0: bool = True, need_c0: bool = True, w_hr=None) -> tuple:
    """Gradients ``(dxg, dh0, dc0, dw_hh, db_hh, dw_hr)`` of :func:`recurrence_forward` (run with ``save=True``)
    for the gradient ``grad_states`` of its states array (any slot may carry gradient: the outputs, the
    final states, the copy of the initial states). dh0/dc0 are None unless needed (dc0: LSTM only),
    db_hh is None without a hidden bias, dw_hr None without a projection ``w_hr`` (then ``gates`` is the
    forward's pair ``(gates, cell_out)`` and the padding columns of ``grad_states[0]`` are ignored).
    """
    op = "recurrence_backward"
    states = np.asarray(states)
    w_hh = np.asarray(w_hh, states.dtype)
    expected = 2 if mode == "LSTM" else 1
    if states.ndim != 4 or states.shape[0] != expected or states.shape[1] < 2 or w_hh.ndim != 2:
        raise ValueError(f"{op}: expected states ({expected}, T + 1, B, H) with T >= 1 and a 2-D w_hh for {mode}, "
                         f"got states of shape {states.shape} and w_hh of shape {w_hh.shape}")
    _, slots, batch, hidden = states.shape
    steps = slots - 1
    gate_rows = gate_count(mode) * hidden
    proj = hidden
    if w_hr is not None:
        w_hr = np.asarray(w_hr, states.dtype)
        if _check_projection(op, mode, w_hh, w_hr)[0] != hidden:
            raise ValueError(f"{op}: w_hr has shape {w_hr.shape}; expected (proj_size, {hidden}) for states of shape "
                             f"{states.shape}")
        proj = w_hr.shape[0]
        if not isinstance(gates, tuple) or len(gates) != 2 or np.shape(gates[1]) != (steps, batch, hidden):
            raise ValueError(f"{op}: with w_hr, gates must be the pair (gates, cell_out) saved by "
                             f"recurrence_forward(..., save=True), cell_out of shape {(steps, batch, hidden)}")
        gates, cell_out = gates
    elif w_hh.shape != (gate_rows, hidden):
        raise ValueError(f"{op}: w_hh has shape {w_hh.shape}; expected ({gate_rows}, {hidden}) for states of shape "
                         f"{states.shape}")
    grad_states = np.ascontiguousarray(grad_states, states.dtype)
    if grad_states.shape != states.shape:
        raise ValueError(f"{op}: grad_states has shape {grad_states.shape}; expected {states.shape}")
    saved = (steps, batch, _SAVED_GATES[mode] * hidden)
    if _SAVED_GATES[mode] and (not isinstance(gates, np.ndarray) or gates.shape != saved):
        raise ValueError(f"{op}: gates has shape {np.shape(gates)}; expected {saved}, the activations saved by "
                         "recurrence_forward(..., save=True)")
    lstm, gru = mode == "LSTM", mode == "GRU"
    dtype = states.dtype
    dxg = np.empty((steps, batch, gate_rows), dtype)
    dhg = np.empty_like(dxg) if gru else dxg  # the GEMM operand; differs from dxg only for the GRU
    hs, gy_all = states[0], grad_states[0]
    if w_hr is not None:
        hs, gy_all = hs[:, :, :proj], gy_all[:, :, :proj]  # the projected h; its padding columns play no part
        dr_all = np.empty((steps, batch, proj), dtype)     # every step's whole gradient of h, for dw_hr
        dm = np.empty((batch, hidden), dtype)               # ... and of the unprojected o * tanh(c)
    if lstm and w_hr is None:  # the steps in one kernel call; dh, dc: the gradients carried into h0, c0
        dh, dc = np.empty((batch, hidden), dtype), np.empty((batch, hidden), dtype)
        backend.kernel("lstm_sequence_backward")(grad_states, states, gates, w_hh, reverse, need_h0, dxg, dh, dc)
    else:
        dh = None                                  # gradient reaching h from the later steps (none yet)
        rec = np.empty((batch, proj), dtype)
        spare = np.empty((batch, proj), dtype)
        direct = np.empty((batch, hidden), dtype) if gru else None
        dc = None                                  # gradient reaching c from the later steps (LSTM)
        dc_buffers = [np.empty((batch, hidden), dtype) for _ in range(2)] if lstm else None
        act = "relu" if mode == "RNN_RELU" else "tanh"
        cell = backend.kernel("lstm_cell_backward" if lstm else "gru_cell_backward" if gru else "rnn_cell_backward")
        for k in range(steps):  # the forward's steps, last first
            t = k if reverse else steps - 1 - k
            prev, nxt = (t + 1, t) if reverse else (t, t + 1)
            if lstm:  # with a projection (the kernel call above runs the plain LSTM)
                # the cell slot's own gradient (c_n's, or any other slot's) joins the one from the later steps
                dc_in = grad_states[1, nxt] if dc is None else np.add(dc, grad_states[1, nxt], out=dc)
                dc = dc_buffers[k % 2]
                dr = dr_all[t]
                if dh is None:
                    np.copyto(dr, gy_all[nxt])
                else:
                    np.add(gy_all[nxt], dh, out=dr)
                matmul(dr, w_hr, out=dm)
                cell(dm, None, dc_in, gates[t], states[1, prev], states[1, nxt], dxg[t], dc)
            elif gru:
                cell(gy_all[nxt], dh, gates[t], hs[prev], dxg[t], dhg[t], direct)
            else:
                cell(act, gy_all[nxt], dh, hs[nxt], dxg[t])
            if k < steps - 1 or need_h0:
                matmul(dhg[t], w_hh, out=rec)
                if gru:
                    np.add(rec, direct, out=rec)
                dh, rec = rec, (spare if dh is None else dh)
    first = steps if reverse else 0  # the initial-state slot holds a copy of h0 (c0): its gradient is theirs
    dh0 = dh + gy_all[first] if need_h0 else None
    dc0 = dc + grad_states[1, first] if lstm and need_c0 else None
    # every step's h_prev, in time order: states[0, :T] forward, states[0, 1:] reverse
    h_prev = hs[1:] if reverse else hs[:steps]
    dw_hh = matmul(dhg.reshape(-1, gate_rows).T, h_prev.reshape(-1, proj))
    db_hh = dhg.reshape(-1, gate_rows).sum(axis=0) if has_bias else None
    dw_hr = None if w_hr is None else matmul(dr_all.reshape(-1, proj).T, cell_out.reshape(-1, hidden))
    return dxg, dh0, dc0, dw_hh, db_hh, dw_hr
