"""MkDocs hooks that hold the book to its literate contract (see docs/about.md).

- Before a build, src/lama must match docs/: `mkdocs build` fails on a stale package, while
  `mkdocs serve` re-tangles, so an edited chapter is the package at once.
- Exported blocks are shown with the generated file's own line numbers.
- Blocks marked `data-figure="name.svg"` are run (each alone, in a fresh interpreter) and the file
  they save is published as `figures/name.svg`.
- KaTeX is copied from the npm package into `assets/katex/`, so math renders with no network.
- The package's scripts (`src/lama/<name>.js`, exported by their chapters) are published as the
  site's `javascripts/<name with dashes>.js`, the same file that lama inlines in standalone pages.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tangle  # noqa: E402

ROOT = tangle.ROOT
KATEX = ROOT / "node_modules" / "katex" / "dist"
KATEX_FILES = ["katex.min.js", "katex.min.css", "contrib/auto-render.min.js"]
_command = "build"


def on_startup(command, dirty):
    global _command
    _command = command


def on_pre_build(config):
    try:
        if _command == "serve":
            for line in tangle.tangle(ROOT):
                print(f"tangle: {line}", file=sys.stderr)
            return
        found = tangle.problems(ROOT)
    except tangle.TangleError as error:
        raise PluginError(f"tangle: {error}") from None
    if found:
        raise PluginError("src/lama does not match docs/ (run python tools/tangle.py): " + "; ".join(found))


def _run_figure(block: tangle.Block) -> bytes:
    """Run one figure block alone and return the bytes of the file it saves."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([sys.executable, "-c", block.code], cwd=tmp, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            tail = " | ".join(result.stderr.strip().splitlines()[-3:])
            raise PluginError(f"{block.page}:{block.line}: the figure block failed: {tail}")
        out = Path(tmp) / block.figure
        if not out.is_file():
            raise PluginError(f"{block.page}:{block.line}: the figure block ran but did not save {block.figure}")
        return out.read_bytes()


def on_files(files, config):
    if not KATEX.is_dir():
        raise PluginError(f"KaTeX is missing ({KATEX.relative_to(ROOT)}): run `npm ci` in the project root")
    for name in KATEX_FILES + [f"fonts/{p.name}" for p in sorted((KATEX / "fonts").iterdir())]:
        files.append(File.generated(config, f"assets/katex/{name}", abs_src_path=str(KATEX / name)))
    for script in sorted((ROOT / "src" / "lama").glob("*.js")):
        files.append(File.generated(config, f"javascripts/{script.name.replace('_', '-')}", abs_src_path=str(script)))
    seen: dict[str, str] = {}
    for path in sorted(Path(config["docs_dir"]).rglob("*.md")):
        page = path.relative_to(ROOT).as_posix()
        for block in tangle.read_blocks(path.read_text(encoding="utf-8"), page):
            if block.figure is None:
                continue
            if block.figure in seen:
                raise PluginError(f"{page}:{block.line}: figure {block.figure} is also drawn by {seen[block.figure]}")
            seen[block.figure] = f"{page}:{block.line}"
            files.append(File.generated(config, f"figures/{block.figure}", content=_run_figure(block)))
    return files


def _set_fence_option(line: str, option: str) -> str:
    """Add ` option` to a fence's opening line, inside the braces of the `{.python ...}` form."""
    line = line.rstrip()
    return f"{line[:-1].rstrip()} {option}}}" if line.endswith("}") else f"{line} {option}"


def on_page_markdown(markdown, page, config, files):
    """Stamp each exported block with the line number its code has in the generated file, drop
    `data-figure` from figure blocks (the build has used it; superfences would not parse it) and fold
    each figure block, collapsed, under the figure it draws."""
    lines = markdown.split("\n")
    blocks = tangle.read_blocks(markdown, page.file.src_uri)
    for block in blocks:
        if block.figure is not None:
            opening = block.line - 2
            lines[opening] = re.sub(r"""\s+data-figure=(?:"[^"]*"|'[^']*'|\S+?)(?=\s|}|$)""", "", lines[opening])
    modules: dict[str, list[tangle.Block]] = {}
    for block in blocks:
        if block.export:
            modules.setdefault(block.export, []).append(block)
    for module_blocks in modules.values():
        for block, start in zip(module_blocks, tangle.block_start_lines(module_blocks)):
            opening = block.line - 2
            lines[opening] = _set_fence_option(lines[opening], f'linenums="{start}"')
    for block in sorted((b for b in blocks if b.figure is not None), key=lambda b: -b.line):
        lines = _fold_under_figure(lines, block)
    return "\n".join(lines)


def _fold_under_figure(lines: list[str], block: tangle.Block) -> list[str]:
    """Move a figure block below the image it draws, folded into a collapsed "???" block: the
    reader sees the figure first and opens its code on demand. The code still runs in the tests."""
    opening = block.line - 2
    fence = re.match(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})", lines[opening])
    if fence is None or fence["indent"]:
        return lines                                   # inside a list or admonition: leave it
    closing = next((i for i in range(opening + 1, len(lines))
                    if lines[i].strip() == fence["fence"]), None)
    if closing is None:
        return lines
    code = lines[opening:closing + 1]
    # The title moves to the fold's summary line, so the open block does not repeat it.
    code[0] = re.sub(r"""\s+title=(?:"[^"]*"|'[^']*')""", "", code[0])
    image = next((i for i in range(closing + 1, len(lines)) if f"figures/{block.figure}" in lines[i]),
                 None)
    if image is None:                                  # no image line: fold it where it stands
        image = closing
    end = image
    while end + 1 < len(lines) and lines[end + 1].strip():   # the rest of the image's paragraph
        end += 1
    title = block.title.replace('"', "'") or "The code that draws this figure"
    folded = ["", f'??? example "{title}"', ""] + [("    " + c).rstrip() for c in code] + [""]
    rest = lines[closing + 1:end + 1]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return lines[:opening] + rest + folded + lines[end + 1:]
