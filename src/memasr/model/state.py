"""Batching of streaming states (icefall's ``stack_states`` / ``unstack_states``).

A state is any nesting of lists and tuples whose leaves are tensors with the
stream index on dim 0; stacking concatenates the leaves of many single-or-
multi-stream states, unstacking splits a batched state into one per stream.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def stack_states(states: list[Any]) -> Any:
    """Combine per-stream states (same structure) into one batched state."""
    first = states[0]
    if isinstance(first, Tensor):
        return torch.cat(states, dim=0)
    if first is None:
        return None
    return type(first)(stack_states([s[i] for s in states]) for i in range(len(first)))


def unstack_states(state: Any) -> list[Any]:
    """Split a batched state into a list of single-stream states."""
    if isinstance(state, Tensor):
        return list(state.split(1, dim=0))
    parts = [unstack_states(item) for item in state]
    count = len(parts[0])
    return [type(state)(p[i] for p in parts) for i in range(count)]
