"""Recurrent cells with the ``project_inputs`` / ``step`` / ``project_outputs`` split."""
from __future__ import annotations

from memasr.cells.base import CellState, RecurrentCell
from memasr.cells.grc import GRCCell
from memasr.cells.lstm import CIFGCell, LSTMCell
from memasr.cells.sru import SRUCell

CELL_TYPES: dict[str, type[RecurrentCell]] = {
    "lstm": LSTMCell,
    "cifg": CIFGCell,
    "sru": SRUCell,
    "grc": GRCCell,
}


def build_cell(kind: str, input_size: int, hidden_size: int, proj_size: int = 0, **options: int) -> RecurrentCell:
    """Factory: ``build_cell("grc", 320, 512, proj_size=256, groups=8)``."""
    try:
        cls = CELL_TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown cell type {kind!r}; choose from {', '.join(CELL_TYPES)}") from None
    return cls(input_size, hidden_size, proj_size, **options)


__all__ = ["CELL_TYPES", "CellState", "RecurrentCell", "build_cell",
           "LSTMCell", "CIFGCell", "SRUCell", "GRCCell"]
