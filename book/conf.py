"""Sphinx configuration of the course book, driven by book.toml (through book/manifest.py).

Layout of a build (see book/build.py, which is the entry point):

* confdir  = book/               (this file, _static/, package.json)
* srcdir   = book/_generated/    (generated here, gitignored):
    index.md                     the root page: title, intro, one toctree per part
    chapters -> ../../chapters   one relative symlink, so a notebook's page URL mirrors its path in
                                 the repository: chapters/01_x/01_y.ipynb -> chapters/01_x/01_y.html
* outdir   = book/_build/html/

Only index.md and the notebooks listed in book.toml are read (include_patterns). The notebooks are
committed executed: nothing is executed here, stored outputs are rendered (nb_execution_mode="off").

Offline: MathJax 4 + its font and the ipywidgets embed manager + RequireJS are vendored from npm
(book/package.json, installed into book/node_modules by `npm ci`), copied by this file into
book/_vendor/ and from there into the build's _static/. No page loads anything from another host.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
GENERATED = BOOK / "_generated"
VENDOR = BOOK / "_vendor"
NODE_MODULES = BOOK / "node_modules"

sys.path.insert(0, str(BOOK))
import manifest  # noqa: E402  (book/manifest.py)

_DATA = manifest.load()
_NOTEBOOKS = manifest.notebooks(_DATA)
_REPO_URL, _BRANCH = manifest.repository(_DATA)


# --------------------------------------------------------------------------------------------------
# The generated source tree
# --------------------------------------------------------------------------------------------------
def _root_page() -> str:
    book = _DATA["book"]
    lines = [
        f"# {book['title']}",
        "",
        "A hands-on course on diffusion models, written as Jupyter notebooks. Every page of this book "
        "is one notebook, rendered with the outputs it had when it was last run: the math, the code, "
        "the checks and the figures. To run a notebook yourself, use the rocket button at the top of "
        "its page to open it in Google Colab, or clone the "
        f"[repository]({_REPO_URL}) and open it in Jupyter.",
        "",
    ]
    for part in _DATA.get("part", []):
        lines += [f"## {part['title']}", ""]
        entries = []
        for chapter in part.get("chapter", []):
            lines.append(f"**Chapter {int(chapter['number'])}. {chapter['title']}**")
            lines.append("")
            for nb in chapter.get("notebooks", []):
                doc = nb[: -len(".ipynb")]
                entries.append(doc)
                lines.append(f"- {{doc}}`/{doc}`")
            lines.append("")
        lines += [
            "```{toctree}",
            ":hidden:",
            ":maxdepth: 2",
            f":caption: {part['title']}",
            "",
            *entries,
            "```",
            "",
        ]
    return "\n".join(lines)


def _write_if_changed(path: Path, text: str) -> None:
    # Keep the mtime of an unchanged file, so Sphinx's incremental build does not re-read it.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _generate_tree() -> None:
    GENERATED.mkdir(exist_ok=True)
    _write_if_changed(GENERATED / "index.md", _root_page())
    link = GENERATED / "chapters"
    target = os.path.relpath(ROOT / "chapters", GENERATED)  # "../../chapters"
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.symlink_to(target, target_is_directory=True)


# --------------------------------------------------------------------------------------------------
# Vendored JavaScript: node_modules -> book/_vendor/npm/ (html_static_path) -> _build/html/_static/npm/
# --------------------------------------------------------------------------------------------------
# (source in node_modules, destination under _static/npm/, ignore patterns)
_VENDORED = [
    # MathJax 4 components. The combined tex-mml-chtml.js loads a few more on demand (TeX packages,
    # the a11y/speech extensions and their worker in sre/, the menu), all from next to itself.
    (
        "mathjax",
        "mathjax",
        ("node-main*", "*.cjs", "*.mjs", "*svg*.js", "mml-*", "*.md", "LICENSE"),
    ),
    # MathJax 4's default font, loaded from loader.paths.fonts (a CDN by default): only the CHTML part.
    ("@mathjax/mathjax-newcm-font/chtml.js", "@mathjax/mathjax-newcm-font/chtml.js", ()),
    ("@mathjax/mathjax-newcm-font/chtml", "@mathjax/mathjax-newcm-font/chtml", ()),
    ("@mathjax/mathjax-newcm-font/package.json", "@mathjax/mathjax-newcm-font/package.json", ()),
    # The ipywidgets 8 embed manager (AMD build, with base/controls/output built in) + its icon fonts.
    (
        "@jupyter-widgets/html-manager/dist",
        "@jupyter-widgets/html-manager/dist",  # the layout RequireJS module ids map to
        ("embed.js", "embed.js.map", "libembed-amd.js", "*.LICENSE.txt"),
    ),
    ("requirejs/require.js", "requirejs/require.js", ()),
    # Font Awesome 4, for the play/pause buttons of matplotlib's JavaScript animation player.
    ("font-awesome/css", "font-awesome/css", ()),
    ("font-awesome/fonts", "font-awesome/fonts", ()),
]

# Stored outputs that link a CDN themselves, and the vendored file each link is rewritten to
# (relative to _static/) when the page is written. matplotlib's Animation.to_jshtml() emits the first.
book_cdn_rewrites = {
    "https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/font-awesome.min.css":
        "npm/font-awesome/css/font-awesome.min.css",
}

_NPM_HINT = "run `.venv/bin/python book/build.py` (or `npm ci --ignore-scripts` in book/) first"


def _vendor() -> None:
    if not (NODE_MODULES / ".package-lock.json").exists():
        raise RuntimeError(f"book/node_modules is missing: {_NPM_HINT}")
    # Re-copy when the installed packages or the list above change.
    key = (NODE_MODULES / ".package-lock.json").read_text() + repr(_VENDORED)
    stamp = VENDOR / ".stamp"
    if stamp.exists() and stamp.read_text() == key:
        return
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for src, dst, ignore in _VENDORED:
        s, d = NODE_MODULES / src, VENDOR / "npm" / dst
        if not s.exists():
            raise RuntimeError(f"book/node_modules/{src} is missing: {_NPM_HINT}")
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d, ignore=shutil.ignore_patterns(*ignore))
        else:
            shutil.copy2(s, d)
    stamp.write_text(key)


_generate_tree()
_vendor()

# --------------------------------------------------------------------------------------------------
# Sphinx
# --------------------------------------------------------------------------------------------------
project = _DATA["book"]["title"]
author = _DATA["book"].get("author", "")
copyright = author
html_title = project

extensions = ["myst_nb"]
root_doc = "index"
include_patterns = ["index.md", *(nb.path for nb in _NOTEBOOKS)]
exclude_patterns = ["**/.ipynb_checkpoints", "**/.*"]
suppress_warnings: list[str] = []

# MyST / MyST-NB
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the notebooks are committed executed; render the stored outputs
nb_merge_streams = True
nb_ipywidgets_js = {
    "npm/requirejs/require.js": {},
    "widgets-offline.js": {},  # RequireJS baseUrl -> _static/npm/ (see the file)
    "npm/@jupyter-widgets/html-manager/dist/embed-amd.js": {},
}

# MathJax 4, vendored. Sphinx 9 emits `window.MathJax = <mathjax4_config>` before the script;
# MyST adds options.processHtmlClass to this same dict. The font is loaded separately by MathJax 4:
# point loader.paths.fonts at the vendored copy, relative to MathJax's own location ([mathjax]).
mathjax_path = "npm/mathjax/tex-mml-chtml.js"
mathjax4_config = {
    "loader": {"paths": {"fonts": "[mathjax]/../@mathjax"}},
}
# ... plus a bridge for ipywidgets, which calls the MathJax 2 API (MathJax.Hub.Queue): see the file.
mathjax_config_path = "_static/mathjax-config.js"

# HTML: sphinx-book-theme
html_theme = "sphinx_book_theme"
html_static_path = ["_static", str(VENDOR.relative_to(BOOK))]
html_css_files = ["book.css"]
html_copy_source = True  # the .ipynb download button serves _sources/
html_theme_options = {
    "repository_url": _REPO_URL,
    "repository_branch": _BRANCH,
    # Page names mirror paths in the repository (chapters/...), so the docs live at its root.
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "home_page_in_toc": True,
    "show_toc_level": 2,
    # pydata-sphinx-theme 0.20 adds a search field in a top navbar unless this is set explicitly;
    # the book theme already has one in the sidebar (and Ctrl+K).
    "navbar_persistent": [],
}
html_last_updated_fmt = None


def _rewrite_cdn_links(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if not body:
        return
    for url, static in app.config.book_cdn_rewrites.items():
        if url in body:
            body = body.replace(url, context["pathto"]("_static/" + static, 1))
    context["body"] = body


def setup(app):
    # A config value, so that changing the rewrites makes Sphinx write every page again.
    app.add_config_value("book_cdn_rewrites", {}, "html", types=frozenset({dict}))
    app.connect("html-page-context", _rewrite_cdn_links)
