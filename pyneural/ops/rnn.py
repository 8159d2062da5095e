"""``recurrence``: one layer and direction of an RNN/LSTM/GRU as ONE autograd node.

The input projection ``xg = linear(x, W_ih, b_ih)`` stays an ordinary op (its gradient flows through the
linear's backward); this node runs the recurrence over ``xg`` with the fused gate kernels and, in
backward, walks the steps in reverse (see :mod:`pyneural.kernels.rnn`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import is_grad_enabled
from ..kernels import rnn as _rnn
from .core import Tensor, need, result, tensor_arg

__all__ = ["recurrence"]


def _grad_as(g: np.ndarray | None, t: Tensor | None) -> np.ndarray | None:
    """A gradient in its parent's dtype (states and parameters may differ in dtype from the input)."""
    return None if g is None or t is None else g.astype(t.data.dtype, copy=False)


def recurrence(mode: str, xg: Any, weight_hh: Any, bias_hh: Any = None, h0: Any = None, c0: Any = None,
               reverse: bool = False, weight_hr: Any = None) -> Tensor:
    """The states (S, T + 1, B, H) of one recurrent layer and direction over the projected input xg (T, B, G).

    mode ``"RNN_TANH" | "RNN_RELU" | "LSTM" | "GRU"``; weight_hh (G, H), bias_hh (G,) or None; h0, c0
    (B, H) or None (zeros; c0 for the LSTM only). The layout of the states (outputs, final hidden and cell
    state) is that of :func:`pyneural.kernels.rnn.recurrence_forward`; :func:`pyneural.kernels.rnn.layout`
    gives the slots. ``weight_hr`` (P, H): the LSTM's projection of h (PyTorch's ``proj_size`` P); then
    weight_hh is (4H, P), h0 (B, P), and h lives in the first P columns of ``states[0]``.
    """
    op = "recurrence"
    txg, tw = tensor_arg(xg, op), tensor_arg(weight_hh, op)
    tb = None if bias_hh is None else tensor_arg(bias_hh, op)
    th = None if h0 is None else tensor_arg(h0, op)
    tc = None if c0 is None else tensor_arg(c0, op)
    tr = None if weight_hr is None else tensor_arg(weight_hr, op)
    w_hr = None if tr is None else tr.data
    parents = (txg, tw, tb, th, tc, tr)
    save = is_grad_enabled() and any(need(p) for p in parents)
    states, gates = _rnn.recurrence_forward(mode, txg.data, tw.data, None if tb is None else tb.data,
                                            None if th is None else th.data, None if tc is None else tc.data,
                                            reverse, save, w_hr)

    def backward(g):
        dxg, dh0, dc0, dw, db, dwr = _rnn.recurrence_backward(mode, g, states, gates, tw.data, tb is not None,
                                                              reverse, need(th), need(tc), w_hr)
        return (_grad_as(dxg, txg) if need(txg) else None, _grad_as(dw, tw) if need(tw) else None,
                _grad_as(db, tb) if need(tb) else None, _grad_as(dh0, th), _grad_as(dc0, tc),
                _grad_as(dwr, tr) if need(tr) else None)

    return result(states, backward, *parents)
