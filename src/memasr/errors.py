"""Exception types shared by every layer of memasr.

The CLI turns :class:`InputError` into one line on stderr and exit status 2
(bad usage or input); any other exception is an internal failure (status 1).
"""


class InputError(ValueError):
    """Bad user input: a missing file, a malformed option, an unknown preset..."""
