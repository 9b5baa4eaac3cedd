"""Exception types shared by every layer of memasr.

The CLI turns :class:`InputError` into one line on stderr and exit status 2
(bad usage or input); any other exception is an internal failure (status 1).
"""


class InputError(ValueError):
    """Bad user input: a missing file, a malformed option, an unknown preset..."""


def exit_on_input_error(main, prog: str) -> int:
    """Run a script's ``main()`` the way the CLI runs a subcommand: an :class:`InputError`
    becomes one line on stderr and exit status 2, not a traceback."""
    import sys

    try:
        return int(main() or 0)
    except InputError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return 2
