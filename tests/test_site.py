"""The built book, as a reader's browser sees it: headless Chromium on a local copy of the site.

Every page: no request leaves 127.0.0.1 and none fails, no console error, every formula typeset
by KaTeX, every image loaded, and each code block's copy button yields exactly the block's code
(without line numbers or annotation markers). Every notebook page (the chapters as notebooks,
rendered by mkdocs-jupyter) likewise, in the light and the dark scheme.
"""
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from html import escape
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import tangle  # noqa: E402

CHROMIUM = os.environ.get("LAMA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PAGES = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md"))
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


def build(root: Path, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"),
                           "-d", str(out)], cwd=root, capture_output=True, text=True, env=env)


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out)
    assert result.returncode == 0, "mkdocs build --strict failed:\n" + result.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def base_url(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


def page_url(base_url: str, doc: str) -> str:
    path = doc[:-3]
    if path == "index" or path.endswith("/index"):
        path = path[:-5]
    else:
        path += "/"
    return f"{base_url}/{path}"


def test_site_builds_with_every_page(site):
    for doc in PAGES:
        html = site / (doc[:-3] + "/index.html" if not doc.endswith("index.md") else doc[:-3] + ".html")
        assert html.is_file(), f"{doc} was not built"
    assert (site / "assets" / "katex" / "katex.min.js").is_file()


def test_figure_code_is_folded_under_its_figure(site):
    """Every figure block is published collapsed (<details>, not open) after the image it draws."""
    figures = [(doc, block) for doc in PAGES
               for block in tangle.read_blocks((ROOT / "docs" / doc).read_text(encoding="utf-8"), doc)
               if block.figure]
    assert figures, "no figure blocks found"
    for doc, block in figures:
        html = (site / (doc[:-3] + "/index.html")).read_text(encoding="utf-8")
        image = html.find(f'src="../figures/{block.figure}"')
        summary = block.title.replace('"', "'") or "The code that draws this figure"
        fold = html.find(f"<summary>{escape(summary, quote=False)}</summary>", image)
        assert image != -1 and fold != -1, f"{doc}:{block.line}: {block.figure} is not folded under its image"
        assert html.rfind("<details", 0, fold) > image, f"{doc}:{block.line}: the fold opens before the image"
        assert "<details open" not in html[image:fold]


def shown_at(source: str, block: tangle.Block) -> float:
    """Where a block appears on the built page, as a line of the chapter: its own line, or for a
    figure block (folded under its figure by tools/hooks.py) just after the image's line."""
    if block.figure is None:
        return block.line
    lines = source.split("\n")
    image = next((i + 1 for i in range(block.line, len(lines)) if f"figures/{block.figure}" in lines[i]),
                 block.line)
    return image + 0.5


@pytest.mark.browser
@pytest.mark.parametrize("doc", PAGES)
def test_page_in_browser(browser, base_url, doc):
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    problems = []
    page.on("request", lambda r: urlparse(r.url).scheme in ("http", "https") and not r.url.startswith(base_url)
            and problems.append(f"external request: {r.url}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(page_url(base_url, doc), wait_until="networkidle")

    # Math: every arithmatex span was typeset, and no raw TeX delimiters remain in the text.
    math = page.locator("article .arithmatex")
    for i in range(math.count()):
        assert math.nth(i).locator(".katex").count() > 0, f"formula {i} not typeset: {math.nth(i).inner_text()[:80]}"
    # Prose only: code blocks may hold backslashes of their own (a regex's "\\(" is no TeX), and a
    # typeset formula keeps its TeX source in a hidden MathML annotation.
    text = page.evaluate("""() => { const a = document.querySelector('article').cloneNode(true);
        a.querySelectorAll('pre, code, .katex').forEach(e => e.remove()); return a.textContent; }""")
    for raw in ("$$", "\\(", "\\["):
        assert raw not in text, f"raw TeX {raw!r} left on the page"

    # Images (figures drawn at build time) loaded.
    for i in range(page.locator("article img").count()):
        img = page.locator("article img").nth(i)
        assert img.evaluate("el => el.complete && el.naturalWidth > 0"), f"image not loaded: {img.get_attribute('src')}"

    # Copy buttons: one per fenced block, each yielding the block's code exactly. A figure's code is
    # folded under the figure: it comes after the image in the page, and is opened to be clicked.
    source = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    blocks = sorted(tangle.read_blocks(source, doc), key=lambda b: shown_at(source, b))
    page.evaluate("document.querySelectorAll('article details').forEach(d => { d.open = true; })")
    highlights = page.locator("article div.highlight")
    assert highlights.count() == len(blocks), "every fenced block is rendered as one code block"
    for i, block in enumerate(blocks):
        code = highlights.nth(i)
        code.hover()
        code.locator("button[data-md-type='copy'], button.md-clipboard").first.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        # Material leaves the spaces before an annotation marker: compare lines without trailing blanks.
        assert _lines(copied) == _lines(tangle.strip_annotations(block.code)), f"{doc}:{block.line}: copied text differs"
    # Exported blocks show the generated file's own line numbers.
    modules: dict[str, list[int]] = {}
    for i, block in enumerate(blocks):
        if block.export:
            modules.setdefault(block.export, []).append(i)
    for indices in modules.values():
        starts = tangle.block_start_lines([blocks[i] for i in indices])
        for i, start in zip(indices, starts):
            numbers = [t.strip() for t in highlights.nth(i).locator("td.linenos .normal").all_inner_texts()]
            n = blocks[i].code.count("\n")
            assert numbers == [str(k) for k in range(start, start + n)], f"{doc}:{blocks[i].line}: line numbers"

    assert not problems, "\n".join(problems)
    context.close()


def test_stale_package_fails_the_build(tmp_path):
    """`mkdocs build` refuses to publish a book whose package differs from its chapters."""
    for name in ("docs", "src", "tools", "notebooks"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    init = tmp_path / "src" / "lama" / "__init__.py"
    init.write_text(init.read_text() + "HAND_EDIT = True\n")
    result = build(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "src/lama or notebooks/ do not match docs/" in result.stderr
    assert "stale: src/lama/__init__.py" in result.stderr


@pytest.mark.browser
def test_search_and_colour_toggle(browser, base_url):
    """Search runs offline in the page (Material's worker) and the light/dark toggle switches schemes."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(base_url + "/", wait_until="networkidle")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    page.locator("input.md-search__input").press_sequentially("tiktoken")  # Material listens to key events
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=10_000)
    assert results.count() > 0
    assert "tokens" in page.locator(".md-search-result__item a").first.get_attribute("href")
    page.keyboard.press("Escape")
    before = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
    page.locator("form[data-md-component=palette] label:visible").first.click()
    after = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
    assert {before, after} == {"default", "slate"}
    assert not errors, errors
    page.close()


@pytest.mark.browser
def test_attention_views(browser, base_url):
    """The interactive attention views of the attention-maps page load their data from the site and
    follow the reader: heads, layers and hovered tokens (the page-wide checks above also apply)."""
    from test_viz import check_view
    page = browser.new_page()
    problems = []
    page.on("request", lambda r: not r.url.startswith(base_url) and problems.append(f"external request: {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(page_url(base_url, "attention-maps.md"), wait_until="networkidle")
    views = page.locator("article .lama-attention")
    assert views.count() >= 1
    for i in range(views.count()):
        view = check_view(page, f"article .lama-attention >> nth={i}")
        assert view.locator("[data-role=output]").inner_text()
    assert not problems, "\n".join(problems)
    page.close()


def test_notebook_pages(site):
    """Every chapter's notebook is a page of the site, its .ipynb beside it for download (the
    committed file), listed on the Notebooks page and offered under the chapter's title; the
    notebook pages load nothing from a CDN and stay out of the search index."""
    sys.path.insert(0, str(ROOT / "tools"))
    import notebooks

    assert NOTEBOOKS, "no notebooks/*.ipynb"
    listing = (site / "notebooks" / "index.html").read_text(encoding="utf-8")
    for stem in NOTEBOOKS:
        folder = site / "notebooks" / stem
        assert (folder / f"{stem}.ipynb").read_bytes() == (ROOT / "notebooks" / f"{stem}.ipynb").read_bytes()
        page = (folder / "index.html").read_text(encoding="utf-8")
        assert 'class="jupyter-wrapper"' in page
        for external in ("cdnjs", "mathjax", "mermaid", 'src=""', "require.js"):
            assert external not in page.lower(), f"notebooks/{stem}: {external}"
        assert "<style" not in page.split('class="md-content"')[1], f"notebooks/{stem}: inline styles"
        colab = escape(notebooks.colab_url(stem))
        assert colab in page and f'href="{stem}.ipynb" download' in page
        assert f'href="{stem}/"' in listing and colab in listing
        chapter = (site / stem / "index.html").read_text(encoding="utf-8")
        assert colab in chapter and f'href="../notebooks/{stem}/{stem}.ipynb" download' in chapter
    assert (site / "assets" / "notebook.css").stat().st_size > 0
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert not [d["location"] for d in index["docs"] if d["location"].startswith("notebooks/") and
                d["location"] != "notebooks/"], "notebook pages are in the search index"


def _contrast(page, selector: str) -> tuple[float, float]:
    """The contrast ratio (WCAG) of an element's text against the background it is drawn on, and
    that background's relative luminance (0 black, 1 white)."""
    return page.evaluate("""(selector) => {
        const rgba = s => s.match(/[\\d.]+/g).map(Number);
        const lum = ([r, g, b]) => {
            const f = c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
            return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        const el = document.querySelector(selector);
        const fg = rgba(getComputedStyle(el).color);
        let bg = [255, 255, 255];                  // the canvas, if nothing paints a background
        for (let e = el; e; e = e.parentElement) {
            const color = rgba(getComputedStyle(e).backgroundColor);
            if (color.length === 3 || color[3] > 0) { bg = color; break; }
        }
        const a = fg.length === 4 ? fg[3] : 1;   // text drawn with alpha over its background
        const text = [0, 1, 2].map(i => fg[i] * a + bg[i] * (1 - a));
        const [l1, l2] = [lum(text), lum(bg)].sort((x, y) => y - x);
        return [(l1 + 0.05) / (l2 + 0.05), lum(bg)];
    }""", selector)


@pytest.mark.browser
@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_notebook_page_in_browser(browser, base_url, stem):
    """A rendered notebook, in the light and the dark scheme: nothing leaves 127.0.0.1, no console
    error, every formula of its Markdown cells typeset by the site's KaTeX, the text and the code
    readable, and the download link serving the notebook."""
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        problems = []
        page.on("request", lambda r: urlparse(r.url).scheme in ("http", "https")
                and not r.url.startswith(base_url) and problems.append(f"external request: {r.url}"))
        page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
        page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto(f"{base_url}/notebooks/{stem}/", wait_until="networkidle")
        assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == \
            {"light": "default", "dark": "slate"}[scheme]
        cells = page.locator(".jupyter-wrapper .jp-RenderedMarkdown")
        assert cells.count() > 0 and page.locator(".jupyter-wrapper .jp-CodeCell").count() > 0
        # No TeX left raw outside code: each $ of the notebook's Markdown was typeset.
        raw = page.evaluate("""() => [...document.querySelectorAll('.jp-RenderedMarkdown')].map(el => {
            const copy = el.cloneNode(true);
            copy.querySelectorAll('pre, code, .katex').forEach(e => e.remove());
            return copy.textContent; }).join(' ')""")
        assert "$" not in raw, f"raw TeX on the page: {raw[raw.find('$') - 40:raw.find('$') + 40]!r}"
        notebook = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
        prose = [re.sub(r"```.*?```|`[^`\n]*`", "", "".join(c["source"]), flags=re.S)
                 for c in notebook["cells"] if c["cell_type"] == "markdown"]
        if any(re.search(r"\$\S", text) for text in prose):
            assert page.locator(".jp-RenderedMarkdown .katex").count() > 0
        for selector in (".jp-RenderedMarkdown p:not(.lama-notebook)", ".jp-RenderedMarkdown code",
                         ".jupyter-wrapper .highlight-ipynb pre"):
            ratio, background = _contrast(page, selector)
            assert ratio >= 4.5, f"{scheme}: {selector} is hard to read"
            if scheme == "dark":
                assert background < 0.1, f"dark: {selector} is drawn on a light background"
        if scheme == "light":
            link = page.locator(f'a[href="{stem}.ipynb"][download]')
            response = page.request.get(f"{base_url}/notebooks/{stem}/{link.get_attribute('href')}")
            assert response.ok and response.json()["nbformat"] == 4
        assert not problems, "\n".join(problems)
        context.close()
