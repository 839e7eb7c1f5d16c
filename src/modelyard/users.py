"""Who acts in this process: the name in-process callers give the services as ``user``."""

from __future__ import annotations

import functools
import getpass


@functools.cache
def local_user() -> str:
    """The operating-system login name (as the SDK records on runs); "unknown" if there is none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
