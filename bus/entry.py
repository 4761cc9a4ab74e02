"""The ``zwbus`` console script.

Loading the command root and the command groups takes about a second, and a
Ctrl-C in that time would otherwise end in a Python traceback. Here it ends
the command with status 130, as a Ctrl-C during a command does.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130
"""Exit status of a command ended by SIGINT (128 + 2), as shells report it."""


def main() -> None:
    """Load the command root, then run the command line."""
    try:
        from bus.cli import main as run_command_line
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        sys.exit(INTERRUPTED)
    run_command_line()
