"""Shared test set-up: the repository root and the book manifest (book/manifest.py)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / "book", ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import manifest  # noqa: E402,F401  (re-exported for the tests)
