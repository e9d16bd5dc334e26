"""Tests import the package from this checkout (python/), not an installed copy."""

import os
import sys

_PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != _PYTHON_DIR:
    sys.path.insert(0, _PYTHON_DIR)
