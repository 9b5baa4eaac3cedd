"""Growing a trained transducer into a wider encoder without changing what it computes.

A model trained for hundreds of hours is the most expensive thing we own; a capacity experiment
should not start from scratch. :func:`widen_model` copies a trained model into one whose encoder
has more units per layer (``hidden_size``), everything else equal. Each cell's new units are
copies of old ones whose outgoing weights are shared among the copies (Chen et al. 2016,
Net2WiderNet; :meth:`RecurrentCell.widen_from`), so the wider model starts with the source's
exact outputs and loss, and the copies drift apart under training.

Starting new units at zero instead (silent until trained) was tried first and does not work
with Adam: after 1,000 steps of the shipped default widened to 768 units, the new units' input
weights had grown to 0.007 (old ones 0.09) and the training loss equalled the unwidened run's to
three decimals (docs/results/widen.md).
"""
from __future__ import annotations

from memasr.errors import InputError
from memasr.model.config import ModelConfig, config_differences
from memasr.model.transducer import Transducer


# fields that are training or runtime choices, not weights
_FREE_FIELDS = ("name", "schedule", "encoder.dropout", "predictor.dropout", "encoder.hidden_size")


def widening_problems(source: ModelConfig, target: ModelConfig) -> list[str]:
    """Why ``source`` cannot be widened into ``target`` (empty when it can): the two may differ
    only in the encoder's ``hidden_size`` (not smaller), dropout, name and schedule."""
    problems = config_differences(source, target, ignore=_FREE_FIELDS)
    if source.encoder.hidden_size > target.encoder.hidden_size:
        problems.append(f"encoder.hidden_size {source.encoder.hidden_size} is wider than {target.encoder.hidden_size}")
    if target.encoder.cell == "sru":
        problems.append("an SRU encoder cannot be widened")
    elif target.encoder.proj_size == 0:  # the layer outputs would grow with the units
        problems.append("widening needs encoder.proj_size > 0")
    return problems


def widen_model(target: Transducer, source: Transducer) -> None:
    """Overwrite ``target``'s weights with ``source``'s, widened: same outputs for every input.

    Raises :class:`InputError` naming the fields that differ when ``target``'s config is not
    ``source``'s with a wider encoder, or when a cell cannot widen (e.g. no projection)."""
    problems = widening_problems(source.config, target.config)
    if problems:
        raise InputError(f"cannot widen this model into the new config: {'; '.join(problems)}")
    cell_prefixes = tuple(f"encoder.layers.{i}.cell." for i in range(len(target.encoder.layers)))
    shared = {k: v for k, v in source.state_dict().items() if not k.startswith(cell_prefixes)}
    missing, unexpected = target.load_state_dict(shared, strict=False)
    assert not unexpected and all(k.startswith(cell_prefixes) for k in missing), (missing, unexpected)
    for mine, theirs in zip(target.encoder.layers, source.encoder.layers):
        try:
            mine.cell.widen_from(theirs.cell)
        except ValueError as err:
            raise InputError(f"cannot widen encoder layer {mine.layer_index}: {err}") from None
