"""A pytest plugin loaded before any other (`-p tests.early` in pyproject.toml): makes every test process start faster.

`rfc3987_syntax` builds an Earley parser when it is imported: 1.5-1.75 s of CPU (measured), in each of the run's
pytest processes (the controller, every xdist worker, the child runs of test_notebook_checks), because nbmake imports
nbformat, nbformat imports jsonschema, and jsonschema imports it for its "iri" format checks, which no test uses.
Here the module is a stand-in whose `is_valid_syntax` imports the real module on its first call, so a check that
does use it behaves exactly as before.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

NAME = "rfc3987_syntax"


def _is_valid_syntax(*args: Any, **kwargs: Any) -> Any:
    """The real `rfc3987_syntax.is_valid_syntax`, imported on first use."""
    if sys.modules.get(NAME) is _STAND_IN:
        del sys.modules[NAME]
    return importlib.import_module(NAME).is_valid_syntax(*args, **kwargs)


_STAND_IN = types.ModuleType(NAME, "Stand-in until first use (tests/early.py).")
_STAND_IN.is_valid_syntax = _is_valid_syntax  # type: ignore[attr-defined]
if NAME not in sys.modules:
    sys.modules[NAME] = _STAND_IN
