"""Time every notebook of the course: execute each one (listed in book.toml) top to bottom.

    .venv/bin/python bench/time_notebooks.py                 # all notebooks
    .venv/bin/python bench/time_notebooks.py --only 01_      # those whose path contains "01_"
    .venv/bin/python bench/time_notebooks.py --write         # also save the executed outputs

Each notebook runs in a fresh kernel (nbclient, per-cell timeout 600 s by default), with the notebook's
folder as working directory, exactly as a learner runs it. The wall time includes starting the kernel
and the imports. Writes bench/results/notebook_times.md (a table) and bench/results/notebook_times.json.
The notebooks are left untouched unless --write is given (then outputs and widget state are saved).
Timings are measurements, never assertions; the exit status is non-zero only when a notebook fails.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "book"))
import manifest  # noqa: E402  (book/manifest.py)


def machine_info() -> dict:
    info = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception as e:  # torch missing or broken: still time the notebooks
        info["torch"] = f"unavailable ({type(e).__name__})"
    return info


def run_one(path: Path, timeout: int, kernel: str | None, write: bool) -> dict:
    nb = nbformat.read(path, as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    kernel_name = kernel or nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
    )
    t0 = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as e:  # CellExecutionError, timeouts, dead kernels
        error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
        traceback.print_exc(limit=1)
    seconds = time.perf_counter() - t0
    if write and error is None:
        nbformat.write(nb, path)
    return {
        "notebook": str(path.relative_to(ROOT)),
        "seconds": round(seconds, 2),
        "cells": len(nb.cells),
        "code_cells": n_code,
        "ok": error is None,
        "error": error,
    }


def write_results(rows: list[dict], info: dict, only: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    total = round(sum(r["seconds"] for r in rows), 2)
    data = {"machine": info, "only": only, "total_seconds": total, "notebooks": rows}
    (RESULTS / "notebook_times.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    lines = [
        "# Notebook execution times",
        "",
        "Wall time to execute each notebook top to bottom in a fresh kernel (kernel start and imports",
        "included), measured by `bench/time_notebooks.py`. A measurement, not a test.",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['cpu_count']} CPUs, {info['platform']} ({info['processor']})",
        f"- python {info['python']}, torch {info.get('torch')}"
        + (f", {info.get('torch_threads')} torch threads" if info.get("torch_threads") else "")
        + (f", GPU: {info['cuda']}" if info.get("cuda") else ", no GPU"),
    ]
    if only:
        lines.append(f"- subset: notebooks whose path contains {' or '.join(repr(o) for o in only)}")
    lines += ["", "| notebook | seconds | cells (code) | status |", "|---|---:|---:|---|"]
    for r in rows:
        status = "ok" if r["ok"] else f"FAILED: {r['error']}".replace("|", "\\|")
        lines.append(
            f"| `{r['notebook']}` | {r['seconds']:.1f} | {r['cells']} ({r['code_cells']}) | {status} |"
        )
    lines += [f"| **total** | **{total:.1f}** | | |", ""]
    (RESULTS / "notebook_times.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", action="append", default=[], metavar="SUBSTRING",
        help="time only notebooks whose path contains SUBSTRING (repeatable)",
    )
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout, seconds")
    parser.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    parser.add_argument(
        "--write", action="store_true", help="write the executed outputs back into the notebooks"
    )
    args = parser.parse_args(argv)

    notebooks = [n for n in manifest.notebooks() if not args.only or any(o in n.path for o in args.only)]
    if not notebooks:
        print("no notebook matches", args.only, file=sys.stderr)
        return 2
    info = machine_info()
    rows = []
    for nb in notebooks:
        path = ROOT / nb.path
        if not path.exists():
            rows.append({"notebook": nb.path, "seconds": 0.0, "cells": 0, "code_cells": 0,
                         "ok": False, "error": "file not found"})
            print(f"{nb.path}: missing", flush=True)
            continue
        print(f"{nb.path} ...", end=" ", flush=True)
        row = run_one(path, args.timeout, args.kernel, args.write)
        rows.append(row)
        print(f"{row['seconds']:.1f} s" + ("" if row["ok"] else f"  FAILED ({row['error']})"), flush=True)
        write_results(rows, info, args.only)  # partial results survive an interruption
    total = sum(r["seconds"] for r in rows)
    print(f"total {total:.1f} s for {len(rows)} notebooks -> {(RESULTS / 'notebook_times.md').relative_to(ROOT)}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
