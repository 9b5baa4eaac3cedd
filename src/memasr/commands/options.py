"""Option types shared by memasr's scripts (benchmarks/, docs/results/)."""

from __future__ import annotations

import argparse
from typing import Callable


def labelled(value_name: str) -> Callable[[str], tuple[str, str]]:
    """An argparse ``type`` for ``LABEL=VALUE`` options such as ``--model base=reference/x``.

    The value may itself hold ``=`` (only the first one splits). An empty label or value is
    argparse's one-line usage error ``expected LABEL=<value_name>, got '...'``.
    """

    def parse(text: str) -> tuple[str, str]:
        label, sep, value = text.partition("=")
        if not sep or not label or not value:
            raise argparse.ArgumentTypeError(f"expected LABEL={value_name}, got {text!r}")
        return label, value

    parse.__name__ = f"LABEL={value_name}"  # what argparse names in its other messages
    return parse
