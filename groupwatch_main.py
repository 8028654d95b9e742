"""The ``groupwatch`` command's entry point, apart from the packages it starts.

groupwatch's top-level packages are called ``console`` and ``connectors``, names that unrelated
PyPI projects also use. Installed into a shared environment beside one of them, one would shadow
the other; this module has a name of its own, so it can say so in one line instead of a traceback.
"""
from __future__ import annotations

import importlib
import sys

FIX = "install groupwatch into an environment of its own: pipx install . (or uv tool install .)"


def clash() -> str | None:
    """The name of a package another project installed over one of ours, if any."""
    for name in ("console", "connectors"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            return f"the package {name!r} is missing: reinstall groupwatch"
        if not getattr(module, "GROUPWATCH_PACKAGE", False):
            where = getattr(module, "__file__", None) or "?"
            return f"another project's package {name!r} ({where}) shadows groupwatch's in this environment"
    return None


def main() -> int:
    problem = clash()
    if problem:
        print(f"groupwatch: error: {problem}: {FIX}", file=sys.stderr)
        return 2
    from console.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
