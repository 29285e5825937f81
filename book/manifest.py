"""Read book.toml, the course manifest, and derive what depends on it.

One place for: the ordered list of notebooks, each notebook's chapter, its "Open in Colab" URL, and
the canonical set-up cell every notebook starts with. Used by book/conf.py, the tests and bench/.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "book.toml"

SETUP_TAGS = ["setup", "hide-cell"]
BADGE_TAGS = ["colab-badge", "remove-cell"]

_SETUP_TEMPLATE = '''\
# Set-up (the same in every notebook). On Colab: install the course library from the repository
# (it never reinstalls Colab's torch). Everywhere: import it, seed, use the house plot style.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{pip_url}"], check=True)

import diffusionlab as dl

generator = dl.setup(seed=0)'''

_BADGE_TEMPLATE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


@dataclass(frozen=True)
class Notebook:
    path: str  # relative to the repository root, e.g. "chapters/01_x/01_y.ipynb"
    part: str
    chapter_number: int
    chapter_title: str

    @property
    def py_path(self) -> str:
        return self.path[: -len(".ipynb")] + ".py"


def load(path: Path = MANIFEST) -> dict:
    with open(path, "rb") as f:
        data = tomllib.load(f)
    for key in ("title", "repository", "branch"):
        if key not in data.get("book", {}):
            raise ValueError(f"book.toml: [book] needs '{key}'")
    return data


def notebooks(data: dict | None = None) -> list[Notebook]:
    """Every notebook listed in book.toml, in reading order."""
    data = data or load()
    out = []
    for part in data.get("part", []):
        for chapter in part.get("chapter", []):
            for nb in chapter.get("notebooks", []):
                out.append(Notebook(nb, part["title"], int(chapter["number"]), chapter["title"]))
    return out


def repository(data: dict | None = None) -> tuple[str, str]:
    data = data or load()
    return data["book"]["repository"].rstrip("/"), data["book"]["branch"]


def colab_url(notebook_path: str, data: dict | None = None) -> str:
    repo, branch = repository(data)
    slug = repo.split("github.com/", 1)[1]
    return f"https://colab.research.google.com/github/{slug}/blob/{branch}/{notebook_path}"


def badge_markdown(notebook_path: str, data: dict | None = None) -> str:
    return _BADGE_TEMPLATE.format(url=colab_url(notebook_path, data))


def setup_cell_source(data: dict | None = None) -> str:
    repo, branch = repository(data)
    return _SETUP_TEMPLATE.format(pip_url=f"diffusionlab @ git+{repo}@{branch}")
