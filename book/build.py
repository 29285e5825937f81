"""Build the course book (HTML), offline. No shell needed:

    .venv/bin/python book/build.py            # npm ci if needed, then sphinx-build -W --keep-going
    .venv/bin/python book/build.py --clean    # start from an empty build folder

1. `npm ci --ignore-scripts` in book/ when book/node_modules is missing or was not installed from
   the current book/package-lock.json (the vendored MathJax 4 + font, ipywidgets embed manager, RequireJS).
2. sphinx-build -W --keep-going -b html -c book book/_generated book/_build/html
   (book/conf.py generates book/_generated/ from book.toml).
Exits non-zero on failure and prints the build time. The result is book/_build/html/index.html;
serve it with `python -m http.server -d book/_build/html` (search and MathJax's speech worker
need http://, not file://).
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

BOOK = Path(__file__).resolve().parent
GENERATED = BOOK / "_generated"
OUT = BOOK / "_build" / "html"


def _lock_digest() -> str:
    return hashlib.sha256((BOOK / "package-lock.json").read_bytes()).hexdigest()


def npm_ci_if_needed() -> None:
    """`npm ci` unless node_modules was installed from exactly this package-lock.json
    (recorded in node_modules/.book-lock-sha256 after a successful install; mtimes are not used,
    git checkouts make them meaningless)."""
    stamp = BOOK / "node_modules" / ".book-lock-sha256"
    digest = _lock_digest()
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("book/build.py: npm not found (needed once, to install the vendored JavaScript)")
    print("book/build.py: npm ci (vendored JavaScript) ...", flush=True)
    t = time.perf_counter()
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=BOOK, check=True
    )
    stamp.write_text(digest + "\n")
    print(f"book/build.py: npm ci took {time.perf_counter() - t:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clean", action="store_true", help="remove book/_build first")
    parser.add_argument("--builder", default="html", help="Sphinx builder (default: html)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    try:
        npm_ci_if_needed()
    except subprocess.CalledProcessError as e:
        print(f"book/build.py: npm ci failed ({e.returncode})", file=sys.stderr)
        return 1
    if args.clean:
        shutil.rmtree(BOOK / "_build", ignore_errors=True)
    GENERATED.mkdir(exist_ok=True)  # Sphinx checks srcdir exists before conf.py fills it
    out = BOOK / "_build" / args.builder
    cmd = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", args.builder,
        "-c", str(BOOK), str(GENERATED), str(out),
    ]
    rc = subprocess.run(cmd).returncode
    dt = time.perf_counter() - t0
    status = "ok" if rc == 0 else f"FAILED (sphinx-build exit {rc})"
    print(f"book/build.py: {status} in {dt:.1f} s -> {out.relative_to(BOOK.parent)}/index.html")
    return rc


if __name__ == "__main__":
    sys.exit(main())
