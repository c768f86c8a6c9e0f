"""The one usage error of testkit's command line: bad input (an option, a file named by one, a
setting, a revision). `testkit` prints it as one line naming the input and what is allowed,
`testkit <command>: <message>` on stderr, and exits 2. Errors of a specific kind subclass it."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad input; the message names it and the allowed values."""
