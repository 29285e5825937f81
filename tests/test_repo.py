"""Repository rules from DESIGN.md: the fixed top level, Colab-safe requirements, a light library."""
import re
import subprocess
import tomllib

from conftest import ROOT

REQUIRED = {"README.md", "requirements.txt", "chapters", "lib", "data", "tests", "book.toml"}
ALLOWED = REQUIRED | {"pyproject.toml", "Makefile", ".ci", "book", "bench", "requirements-dev.txt",
                      "constraints-cpu.txt", "jupytext.toml", ".gitignore"}


def test_top_level_is_fixed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    top = {line.split("/")[0] for line in tracked.splitlines() if line}
    if not top:  # not a git checkout (e.g. an sdist): fall back to the directory listing
        top = {p.name for p in ROOT.iterdir() if not p.name.startswith(".") or p.name in ALLOWED}
    assert REQUIRED <= top, f"missing at top level: {sorted(REQUIRED - top)}"
    assert top <= ALLOWED, f"unexpected at top level: {sorted(top - ALLOWED)}"


def test_runtime_requirements_are_lower_bounds_only():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+>=[0-9.]+", line), f"requirements.txt: {line!r} is not a lower bound"


def test_library_never_pulls_torch_and_cpu_constraint_pins_it():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if d.lower().startswith("torch")], "the library must not declare torch"
    assert re.search(r"^torch==\d", (ROOT / "constraints-cpu.txt").read_text(), re.M)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
