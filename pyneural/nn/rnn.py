"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` with PyTorch's parameters, shapes, defaults and semantics.

Per layer and direction: the input projection of ALL time steps is one GEMM (``F.linear``), then the
recurrence is one autograd node (:func:`pyneural.ops.rnn.recurrence`) running one GEMM and one fused gate
kernel per step.

``LSTM(..., proj_size=P)`` (0 < P < hidden_size) is PyTorch's LSTM with projections: ``h_t = W_hr (o_t *
tanh(c_t))`` has P features, so ``weight_hh_l{k}`` is (4H, P), each layer and direction has one more
parameter ``weight_hr_l{k}`` (P, H) (no bias), outputs are (T, B, D * P), h_0 and h_n (L * D, B, P) while
c_0 and c_n stay (L * D, B, H), and layer k > 0 reads D * P features. The projection is one more GEMM per
step inside the same recurrence node.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..kernels.rnn import gate_count, layout
from ..ops.core import tensor_arg
from ..ops.rnn import recurrence
from ..tensor import Tensor
from . import functional as F
from . import init
from .linear import check_positive, empty_parameter
from .module import Module


def _size(layer: str, **size: Any) -> int:
    """The one size given, checked positive, as an int."""
    check_positive(layer, **size)
    return int(next(iter(size.values())))


def _proj_size(layer: str, proj_size: Any, hidden_size: int) -> int:
    """``proj_size`` checked as PyTorch does: an int with 0 <= proj_size < hidden_size (0: no projection)."""
    if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)):
        raise TypeError(f"{layer}: proj_size must be an int, got {type(proj_size).__name__}")
    if proj_size < 0:
        raise ValueError(f"{layer}: proj_size should be a positive integer or zero to disable projections, "
                         f"got {proj_size}")
    if proj_size >= hidden_size:
        raise ValueError(f"{layer}: proj_size has to be smaller than hidden_size, got proj_size={proj_size} and "
                         f"hidden_size={hidden_size}")
    return int(proj_size)


def _reject_proj_size(layer: str, kwargs: dict[str, Any]) -> None:
    """RNN and GRU take no projection: ``proj_size`` raises ValueError as in PyTorch, other unknown keywords
    TypeError as for any Python function."""
    if "proj_size" in kwargs:
        raise ValueError(f"{layer}: proj_size argument is only supported for LSTM, not RNN or GRU")
    if kwargs:
        raise TypeError(f"{layer}.__init__() got an unexpected keyword argument {next(iter(kwargs))!r}")


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


class RNNBase(Module):
    """Shared machinery of ``RNN``, ``LSTM`` and ``GRU`` (``mode``: ``"RNN_TANH"``, ``"RNN_RELU"``,
    ``"LSTM"``, ``"GRU"``). Parameters ``weight_ih_l{k}`` (G*H, in), ``weight_hh_l{k}`` (G*H, R),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,) and, for the LSTM with ``proj_size`` P > 0, ``weight_hr_l{k}``
    (P, H), in this order, with the ``_reverse`` suffix for the second direction, all drawn from
    U(-1/sqrt(H), 1/sqrt(H)) as PyTorch does; R (the features of h) is P with a projection, else H."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _size(name, input_size=input_size)
        self.hidden_size = _size(name, hidden_size=hidden_size)
        self.num_layers = _size(name, num_layers=num_layers)
        self.proj_size = _proj_size(name, proj_size, self.hidden_size)
        if self.proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN or GRU")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        gates = gate_count(mode) * self.hidden_size
        directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size or self.hidden_size  # the features of h: the outputs and next layer's input
        self._weight_names: list[tuple[str, str, str | None, str | None, str | None]] = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                names = (f"weight_ih{suffix}", f"weight_hh{suffix}",
                         f"bias_ih{suffix}" if self.bias else None, f"bias_hh{suffix}" if self.bias else None,
                         f"weight_hr{suffix}" if self.proj_size else None)
                setattr(self, names[0], empty_parameter((gates, layer_input), dtype, device))
                setattr(self, names[1], empty_parameter((gates, real_hidden), dtype, device))
                if self.bias:
                    setattr(self, names[2], empty_parameter((gates,), dtype, device))
                    setattr(self, names[3], empty_parameter((gates,), dtype, device))
                if self.proj_size:
                    setattr(self, names[4], empty_parameter((self.proj_size, self.hidden_size), dtype, device))
                self._weight_names.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _initial(self, state: Any, what: str, batch: int, batched: bool, width: int) -> Tensor | None:
        """An initial state (layers * directions, B, width), or (layers * directions, width) for unbatched input;
        width is hidden_size, or proj_size for the h0 of a projected LSTM."""
        if state is None:
            return None
        state = tensor_arg(state, type(self).__name__)
        expected = (self.num_layers * (2 if self.bidirectional else 1),) + ((batch,) if batched else ()) + (width,)
        if tuple(state.shape) != expected:
            note = (f" (with proj_size={self.proj_size}, h0 has proj_size features and c0 hidden_size="
                    f"{self.hidden_size})") if self.proj_size else ""
            raise ValueError(f"{type(self).__name__}: {what} has shape {tuple(state.shape)}; expected {expected}{note}")
        return state if batched else state.unsqueeze(1)

    def _run(self, x: Any, h0: Any, c0: Any) -> tuple[Tensor, Tensor, Tensor | None]:
        """(output, h_n, c_n) for input x and the optional initial states (c: LSTM only)."""
        name = type(self).__name__
        x = tensor_arg(x, name)
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input of 2 (unbatched) or 3 dimensions, got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {tuple(x.shape)} has {x.shape[-1]} features, expected "
                             f"input_size={self.input_size}")
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise ValueError(f"{name}: expected a sequence of at least one step, got input of shape {tuple(x.shape)}")
        h0 = self._initial(h0, "h0" if self.mode == "LSTM" else "hx", batch, batched,
                           self.proj_size or self.hidden_size)
        c0 = self._initial(c0, "c0", batch, batched, self.hidden_size)
        directions = 2 if self.bidirectional else 1
        layer_input, h_n, c_n = x, [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                w_ih, w_hh, b_ih, b_hh, w_hr = (None if n is None else getattr(self, n)
                                                for n in self._weight_names[index])
                reverse = direction == 1
                xg = F.linear(layer_input, w_ih, b_ih)  # all time steps in one GEMM
                states = recurrence(self.mode, xg, w_hh, b_hh, None if h0 is None else h0[index],
                                    None if c0 is None else c0[index], reverse, w_hr)
                out_slots, final = layout(steps, reverse)
                hidden = states[0] if w_hr is None else states[0, :, :, :self.proj_size]  # projected h: P columns
                outputs.append(hidden[out_slots])
                h_n.append(hidden[final])
                if self.mode == "LSTM":
                    c_n.append(states[1, final])
            layer_input = outputs[0] if directions == 1 else ops.concatenate(outputs, axis=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output, h_n = layer_input, ops.stack(h_n)
        c_n = ops.stack(c_n) if c_n else None
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n, c_n

    def flatten_parameters(self) -> None:
        """A no-op kept for PyTorch scripts: the weights are already used in place (PyTorch compacts them
        for cuDNN)."""

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, act ``"tanh"`` or ``"relu"``.

    Input (T, B, input_size), or (B, T, input_size) with ``batch_first``, or unbatched (T, input_size);
    optional ``hx`` (num_layers * num_directions, B, H). Returns ``(output, h_n)``: output (T, B, D * H)
    (the last layer's states, both directions concatenated), h_n (num_layers * D, B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, **kwargs: Any) -> None:
        _reject_proj_size("RNN", kwargs)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n


class LSTM(RNNBase):
    """Long short-term memory, gates i, f, g, o: ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.

    Input as for :class:`RNN`; optional ``hx = (h_0, c_0)``, each (num_layers * D, B, H). Returns
    ``(output, (h_n, c_n))``.

    ``proj_size`` P > 0 (must be < hidden_size) gives PyTorch's LSTM with projections: ``h_t = W_hr (o_t *
    tanh(c_t))`` with ``weight_hr_l{k}`` (P, H) per layer and direction (no bias), ``weight_hh_l{k}`` (4H, P),
    output (T, B, D * P), h_0 and h_n (num_layers * D, B, P), c_0 and c_n (num_layers * D, B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            h0, c0 = hx
            if h0 is None or c0 is None:
                raise TypeError("LSTM: hx must hold both h_0 and c_0")
        output, h_n, c_n = self._run(input, h0, c0)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, gates r, z, n (PyTorch's form): ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
    ``h_t = (1 - z) * n + z * h_{t-1}``. Input and ``hx`` as for :class:`RNN`; returns ``(output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None, **kwargs: Any) -> None:
        _reject_proj_size("GRU", kwargs)
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0,
                         device, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n


class RNNCellBase(Module):
    """Shared machinery of the one-step cells: parameters ``weight_ih`` (G*H, in), ``weight_hh`` (G*H, H),
    ``bias_ih``, ``bias_hh`` (G*H,), drawn from U(-1/sqrt(H), 1/sqrt(H)). A step is the layers' recurrence
    node run over a sequence of one step (one GEMM per projection, one fused gate kernel)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _size(name, input_size=input_size)
        self.hidden_size = _size(name, hidden_size=hidden_size)
        self.bias = bool(bias)
        gates = gate_count(mode) * self.hidden_size
        self.weight_ih = empty_parameter((gates, self.input_size), dtype, device)
        self.weight_hh = empty_parameter((gates, self.hidden_size), dtype, device)
        if self.bias:
            self.bias_ih = empty_parameter((gates,), dtype, device)
            self.bias_hh = empty_parameter((gates,), dtype, device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def _state(self, state: Any, what: str, batch: int, batched: bool) -> Tensor | None:
        if state is None:
            return None
        state = tensor_arg(state, type(self).__name__)
        expected = ((batch,) if batched else ()) + (self.hidden_size,)
        if tuple(state.shape) != expected:
            raise ValueError(f"{type(self).__name__}: {what} has shape {tuple(state.shape)}; expected {expected}")
        return state if batched else state.unsqueeze(0)

    def _step(self, x: Any, h: Any, c: Any) -> tuple[Tensor, Tensor | None]:
        """(h', c') for input x (B, in) or (in,) and the optional states (c: LSTMCell only)."""
        name = type(self).__name__
        x = tensor_arg(x, name)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (batch, {self.input_size}) or ({self.input_size},), "
                             f"got {tuple(x.shape)}")
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        batch = x.shape[0]
        h = self._state(h, "hx" if self.mode != "LSTM" else "h", batch, batched)
        c = self._state(c, "c", batch, batched)
        xg = F.linear(x, self.weight_ih, self.bias_ih).unsqueeze(0)  # a sequence of one step
        states = recurrence(self.mode, xg, self.weight_hh, self.bias_hh, h, c)
        h_new = states[0, 1] if batched else states[0, 1, 0]
        c_new = None
        if self.mode == "LSTM":
            c_new = states[1, 1] if batched else states[1, 1, 0]
        return h_new, c_new

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        return text


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``; input (B, in) or (in,), hx (B, H) or
    (H,) (zeros when None). Returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, bias, device,
                         dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        return self._step(input, hx, None)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); ``hx = (h, c)`` or None (zeros). Returns ``(h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        h = c = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2 or hx[0] is None or hx[1] is None:
                raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
            h, c = hx
        return self._step(input, h, c)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; PyTorch's form); hx (B, H) or (H,) or None (zeros). Returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        return self._step(input, hx, None)[0]
