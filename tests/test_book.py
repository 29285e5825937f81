"""The book builds offline, and a real browser shows it right.

Builds the book once per session (book/build.py: sphinx-build -W --keep-going), serves
book/_build/html on a free localhost port, and opens it in headless Debian chromium through
playwright. For every notebook listed in book.toml, its page:

* makes no request to any host but localhost (every request is routed; others are aborted + recorded),
  and every localhost request succeeds (no 404 for a vendored file);
* has its math typeset by MathJax (every Sphinx math element holds an mjx-container, and no raw TeX
  delimiters are left in the prose);
* shows every image/png output of the notebook as an <img> that loaded (naturalWidth > 0);
* renders its widgets from the stored widget state (when the notebook has widget views).

And the search page finds a word that only chapter 1 uses, with a result linking to chapter 1.
A full-page screenshot of chapter 1's first page goes to book/_build/screenshots/.

Needs chromium (`apt-get install -y chromium`): without it the test skips, except under CI=true,
where a missing browser is a failure.

    .venv/bin/python -m pytest -m book tests/test_book.py
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
HTML = BOOK / "_build" / "html"
SCREENSHOTS = BOOK / "_build" / "screenshots"
sys.path.insert(0, str(BOOK))
import manifest  # noqa: E402

pytestmark = pytest.mark.book

NOTEBOOKS = manifest.notebooks()
TIMEOUT_MS = 30_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


# --------------------------------------------------------------------------------------------------
# What the notebook says should be on its page
# --------------------------------------------------------------------------------------------------
def _load_nb(path: str) -> dict:
    with open(ROOT / path, encoding="utf-8") as f:
        return json.load(f)


def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


_MATH_RE = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$|\\begin\{", re.S)


def _shown_markdown(nb: dict) -> list[str]:
    return [_src(c) for c in nb["cells"] if c["cell_type"] == "markdown" and "remove-cell" not in _tags(c)]


def _expected_pngs(nb: dict) -> int:
    n = 0
    for c in nb["cells"]:
        if c["cell_type"] != "code" or _tags(c) & {"remove-cell", "remove-output"}:
            continue
        n += sum("image/png" in o.get("data", {}) for o in c.get("outputs", []))
    return n


def _widget_views(nb: dict) -> int:
    state = nb.get("metadata", {}).get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}
    )
    if not state.get("state"):
        return 0
    n = 0
    for c in nb["cells"]:
        if c["cell_type"] != "code" or _tags(c) & {"remove-cell", "remove-output"}:
            continue
        n += sum(
            "application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in c.get("outputs", [])
        )
    return n


def _page_path(nb_path: str) -> str:
    return nb_path[: -len(".ipynb")] + ".html"


# --------------------------------------------------------------------------------------------------
# Fixtures: build once, serve, browser
# --------------------------------------------------------------------------------------------------
def _chromium() -> str | None:
    for cand in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and os.path.exists(cand):
            return cand
    return None


def _need_browser():
    """Skip (locally) or fail (CI=true) when chromium or playwright is missing."""
    in_ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
    exe = _chromium()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        exe, why = None, "the playwright python package is not installed"
    else:
        why = "chromium is not installed (apt-get install -y chromium)"
    if exe is None:
        if in_ci:
            pytest.fail(f"CI is set and {why}: the book's browser test cannot run", pytrace=False)
        pytest.skip(f"{why}; set CI=true to make this a failure")
    return exe


@pytest.fixture(scope="module")
def built_book():
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(BOOK / "build.py")], cwd=ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.fail(
            f"book build failed (exit {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}",
            pytrace=False,
        )
    print(f"book built in {time.perf_counter() - t:.1f} s")
    return HTML


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(built_book):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(built_book)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/index.html", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("could not start python -m http.server", pytrace=False)
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    exe = _need_browser()
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="book-test-home-")
    env = {**os.environ, "HOME": home}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, env=env, headless=True)
        try:
            yield b
        finally:
            b.close()
            shutil.rmtree(home, ignore_errors=True)


class Visit:
    """A fresh browser context + page that records every request leaving localhost (and aborts it),
    failed local requests, HTTP errors and uncaught page errors."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.external: list[str] = []
        self.failed: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} (HTTP {r.status})")
        )
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.page.on(
            "console", lambda m: m.type == "error" and self.console_errors.append(m.text)
        )

    def _route(self, route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            self.external.append(url)
            route.abort()
        else:
            route.continue_()

    def close(self):
        self.context.close()

    def assert_clean(self):
        assert not self.external, f"requests left localhost: {self.external}"
        failed = [f for f in self.failed if not f.startswith("http") or urlsplit(f).hostname in LOCAL_HOSTS]
        assert not failed, f"failed requests: {failed}"
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"


@pytest.fixture
def visit(browser, server):
    v = Visit(browser)
    yield v
    v.close()


# --------------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------------
_WAIT_MATHJAX = """async () => {
  if (!window.MathJax) return 'none';
  const t0 = Date.now();
  while (!(MathJax.startup && MathJax.startup.promise)) {
    if (Date.now() - t0 > 25000) return 'no startup';
    await new Promise(r => setTimeout(r, 50));
  }
  await MathJax.startup.promise;
  return 'ok';
}"""

# Prose of the page with code, outputs and typeset math taken out: raw TeX must not be left there.
_PROSE_TEXT = """() => {
  const art = document.querySelector('article') || document.querySelector('main') || document.body;
  const c = art.cloneNode(true);
  c.querySelectorAll('pre, code, .cell_input, .cell_output, .output, script, style, mjx-container,'
                     + ' mjx-assistive-mml, .headerlink').forEach(e => e.remove());
  return c.textContent;
}"""

_UNTYPESET = """() => [...document.querySelectorAll('span.math, div.math')]
  .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80))"""

_IMAGES = """() => [...document.querySelectorAll('article img')].map(i => ({
  src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0,
  output: !!i.closest('.cell_output'), inWidget: !!i.closest('.jupyter-widgets')}))"""

_WIDGETS = """() => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
  .map(s => !!(s.parentElement && s.parentElement.querySelector('.jupyter-widgets')))"""

_RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")


def _open(visit: Visit, url: str):
    page = visit.page
    page.goto(url, wait_until="load")
    assert page.evaluate(_WAIT_MATHJAX) in ("ok", "none"), "MathJax did not start"
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    return page


def test_build_is_self_contained(built_book):
    """Without a browser: every page exists and no page references a script, style or font elsewhere."""
    for nb in NOTEBOOKS:
        assert (built_book / _page_path(nb.path)).is_file(), f"no page for {nb.path}"
    assert (built_book / "_static/npm/mathjax/tex-mml-chtml.js").is_file()
    assert (built_book / "_static/npm/@mathjax/mathjax-newcm-font/chtml.js").is_file()
    remote = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["']((?:https?:)?//[^"']+)""")
    found = {}
    for html in built_book.rglob("*.html"):
        urls = remote.findall(html.read_text(encoding="utf-8"))
        if urls:
            found[str(html.relative_to(built_book))] = urls
    assert not found, f"pages load resources from other hosts: {found}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.path for n in NOTEBOOKS])
def test_notebook_page(nb, visit, server):
    notebook = _load_nb(nb.path)
    page = _open(visit, f"{server}/{_page_path(nb.path)}")

    # widgets: rendered from the stored state by the vendored embed manager
    n_views = _widget_views(notebook)
    if n_views:
        page.wait_for_selector(".cell_output .jupyter-widgets", state="attached")
        page.wait_for_function(f"() => ({_WIDGETS})().every(x => x)")
        rendered = page.evaluate(_WIDGETS)
        assert len(rendered) >= n_views and all(rendered), f"widget views not rendered: {rendered}"
        page.wait_for_function("() => [...document.images].every(i => i.complete)")

    # math: typeset everywhere, no raw TeX left in the prose
    has_math = any(_MATH_RE.search(md) for md in _shown_markdown(notebook))
    n_math = page.locator("mjx-container").count()
    if has_math:
        assert n_math > 0, "the notebook has math but the page has no MathJax output (mjx-container)"
    untypeset = page.evaluate(_UNTYPESET)
    assert not untypeset, f"math elements left untypeset: {untypeset[:5]}"
    raw = _RAW_TEX.findall(page.evaluate(_PROSE_TEXT))
    assert not raw, f"raw TeX left in the rendered text: {raw[:10]}"

    # figures: every image/png output is an <img> that loaded
    images = page.evaluate(_IMAGES)
    broken = [i["src"][:120] for i in images if not i["ok"]]
    assert not broken, f"images that did not load: {broken}"
    n_png = _expected_pngs(notebook)
    shown = sum(1 for i in images if i["output"] and not i["inWidget"])
    assert shown >= n_png, f"{n_png} image/png outputs in the notebook, {shown} output images on the page"

    visit.assert_clean()

    first_of_ch1 = next((n for n in NOTEBOOKS if n.chapter_number == 1), NOTEBOOKS[0])
    if nb.path == first_of_ch1.path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / (Path(nb.path).stem + ".png")), full_page=True)


_STOP = {"which", "their", "there", "these", "those", "where", "about", "would", "could", "should"}


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"(?<![\\\w])[A-Za-z]{6,}(?!\w)", text)]


def _unique_chapter_word(chapter: int) -> tuple[str, list[str]]:
    """A word in the prose of `chapter`'s notebooks that no other notebook contains: a word of the
    chapter's title if one qualifies (e.g. "schedules"), else the most frequent such word."""
    mine = [n for n in NOTEBOOKS if n.chapter_number == chapter]
    others = [n for n in NOTEBOOKS if n.chapter_number != chapter]
    counts = Counter()
    for n in mine:
        counts.update(_words("\n".join(_shown_markdown(_load_nb(n.path)))))
    elsewhere = set()
    for n in others:
        elsewhere |= set(_words("\n".join(_src(c) for c in _load_nb(n.path)["cells"])))
    candidates = sorted(
        (w for w in counts if w not in elsewhere and w not in _STOP), key=lambda w: (-counts[w], w)
    )
    if not candidates:
        pytest.fail(f"no word is unique to chapter {chapter}: cannot test search", pytrace=False)
    title = [w for w in _words(mine[0].chapter_title) if w in candidates]
    return (title or candidates)[0], [_page_path(n.path) for n in mine]


def test_search_finds_chapter_1(visit, server):
    chapter = 1 if any(n.chapter_number == 1 for n in NOTEBOOKS) else NOTEBOOKS[0].chapter_number
    word, pages = _unique_chapter_word(chapter)
    page = visit.page
    page.goto(f"{server}/search.html?q={quote(word)}", wait_until="load")
    page.wait_for_selector("#search-results ul.search li a", state="attached")
    hrefs = page.eval_on_selector_all(
        "#search-results ul.search li a", "els => els.map(a => a.href)"
    )
    paths = [urlsplit(h).path.lstrip("/") for h in hrefs]
    assert any(p in pages for p in paths), f"search for {word!r} gave {paths}, expected one of {pages}"
    visit.assert_clean()


def test_root_page_lists_every_notebook(visit, server):
    page = _open(visit, f"{server}/index.html")
    hrefs = page.eval_on_selector_all("article a", "els => els.map(a => a.href)")
    paths = {urlsplit(h).path.lstrip("/") for h in hrefs}
    missing = [_page_path(n.path) for n in NOTEBOOKS if _page_path(n.path) not in paths]
    assert not missing, f"the root page does not link to {missing}"
    visit.assert_clean()
