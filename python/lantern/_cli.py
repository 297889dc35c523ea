"""The ``lantern`` console script of the wheel: the Rust command line, run in-process."""

from __future__ import annotations

import signal
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``lantern`` with ``argv`` (default ``sys.argv``) and return its exit code."""
    from . import _native

    args = list(sys.argv if argv is None else argv)
    args[0] = "lantern"
    # Behave like the native binary: Ctrl-C ends the process (Python would only set a flag
    # that Rust never checks) and a closed pipe ends it quietly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
    return _native.run(args)


if __name__ == "__main__":
    sys.exit(main())
