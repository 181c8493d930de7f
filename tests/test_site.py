"""The built book, as a reader's browser sees it: headless Chromium on a local copy of the site.

Every page: no request leaves 127.0.0.1 and none fails, no console error, every formula typeset
by KaTeX, every image loaded, and each code block's copy button yields exactly the block's code
(without line numbers or annotation markers).
"""
import functools
import http.server
import os
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
    text = page.locator("article").inner_text()
    for raw in ("$$", "\\(", "\\["):
        assert raw not in text, f"raw TeX {raw!r} left on the page"

    # Images (figures drawn at build time) loaded.
    for i in range(page.locator("article img").count()):
        img = page.locator("article img").nth(i)
        assert img.evaluate("el => el.complete && el.naturalWidth > 0"), f"image not loaded: {img.get_attribute('src')}"

    # Copy buttons: one per fenced block, each yielding the block's code exactly.
    blocks = tangle.read_blocks((ROOT / "docs" / doc).read_text(encoding="utf-8"), doc)
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
    for name in ("docs", "src", "tools"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    init = tmp_path / "src" / "lama" / "__init__.py"
    init.write_text(init.read_text() + "HAND_EDIT = True\n")
    result = build(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "src/lama does not match docs/" in result.stderr
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
