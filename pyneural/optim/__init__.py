"""Optimizers with PyTorch's update rules, defaults and state-dict layout, and learning-rate schedulers.

Every update runs through a fused kernel of the active backend (``pyneural.backend.kernel``): one
pass over each parameter, its gradient and its state buffers, in place.
"""
from __future__ import annotations

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
