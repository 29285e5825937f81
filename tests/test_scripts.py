"""Every notebook's .py runs as a plain script with the Agg backend: how GPU machines run them."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, manifest

NOTEBOOKS = manifest.notebooks()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[nb.py_path for nb in NOTEBOOKS])
def test_notebook_runs_as_plain_script(nb, tmp_path):
    script = ROOT / nb.py_path
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore::UserWarning")
    proc = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{nb.py_path} failed as a script:\n{proc.stderr[-4000:]}"
