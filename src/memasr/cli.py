"""The single ``memasr`` entry point.

Each subcommand lives in ``memasr.commands.<name>`` and exposes
``register(subparsers) -> argparse.ArgumentParser``; the parser's ``func``
default is called with the parsed namespace and returns the exit status.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from memasr.errors import InputError

# Order is the order shown in --help.
COMMANDS = ("analyze", "synth", "prepare", "train", "average", "lm", "eval", "transcribe", "export", "demo")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"memasr: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="memasr", description="Memory-efficient streaming speech recognition.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"memasr.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"memasr.commands.{name}":
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except InputError as exc:
        sys.stderr.write(f"memasr {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("memasr: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # internal failure: still one line, no traceback
        first = (str(exc).splitlines() or [""])[0]  # one line, even for multi-line messages
        sys.stderr.write(f"memasr {args.command}: internal error: {type(exc).__name__}: {first}\n")
        return 1
    return int(status or 0)


if __name__ == "__main__":
    raise SystemExit(main())
