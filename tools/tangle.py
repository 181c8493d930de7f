#!/usr/bin/env python3
"""Tangle the book into the package: every code block in docs/ titled `src/lama/<module>.py` (or
`src/lama/<name>.js`, a script the package ships) is written, in page order, into that file.

    python tools/tangle.py           write src/lama/ and notebooks/ from docs/ (and delete orphans)
    python tools/tangle.py --check   change nothing; exit 1 and list every stale or orphaned file

The rules (see docs/about.md):
- A fenced block whose title is a path under src/lama/ is exported to that path. All blocks of one
  module must come from one chapter; a module exported by two chapters is refused.
- The generated file starts with one header line naming its chapter. The blocks follow in page order,
  separated by one blank line, so the page can show each block with the file's own line numbers
  (the MkDocs hook stamps them with `block_start_lines`).
- Material's annotation markers (`# (1)!`) are stripped from the exported code.
- Every other ```python block is run by the test suite (tests/conftest.py), in page order, in one
  namespace per page. A block titled "Not run: <reason>" is shown but not run; the title tells the
  reader why. A block with `data-figure="name.svg"` draws a figure: it must be self-contained, and
  the MkDocs hook runs it at build time and puts the file it saves beside the page.
- Every chapter with a block that runs is also written as a notebook, notebooks/<chapter>.ipynb,
  by tools/notebooks.py; the check covers the notebooks too.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORT_PREFIX = "src/lama/"
NOT_RUN_PREFIX = "Not run:"
RUNNABLE_LANGUAGES = {"python", "py"}
HEADER = "Generated from {chapter} by tools/tangle.py. Do not edit: change the chapter.\n"
COMMENT = {".py": "# ", ".js": "// "}  # the files the package may hold, with their line-comment marker

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_OPTION = re.compile(r"""([A-Za-z_][\w-]*)=(?:"([^"]*)"|'([^']*)'|(\S+))""")
_ANNOTATION = re.compile(r"[ \t]*#[ \t]*\(\d+\)!?[ \t]*$")


class TangleError(Exception):
    """The chapters break a rule of the literate contract."""


@dataclass
class Block:
    """One fenced code block of a chapter."""

    page: str  # path of the chapter relative to the project root, e.g. "docs/tokens.md"
    line: int  # line number (1-based) in the chapter of the block's first code line
    language: str
    options: dict[str, str] = field(default_factory=dict)
    code: str = ""

    @property
    def title(self) -> str:
        return self.options.get("title", "")

    @property
    def export(self) -> str | None:
        """The package file this block is exported to, or None."""
        return self.title if self.title.startswith(EXPORT_PREFIX) else None

    @property
    def skip_reason(self) -> str | None:
        """Why the tests do not run this block, or None when they do."""
        return self.title[len(NOT_RUN_PREFIX):].strip() if self.title.startswith(NOT_RUN_PREFIX) else None

    @property
    def figure(self) -> str | None:
        """The file name of the figure this block draws, or None."""
        return self.options.get("data-figure")

    @property
    def runnable(self) -> bool:
        return self.language in RUNNABLE_LANGUAGES and self.export is None and self.skip_reason is None


def _parse_info(info: str) -> tuple[str, dict[str, str]]:
    """Split a fence's info string (`python title="x"` or `{.python title="x"}`) into language and options."""
    info = info.strip()
    if info.startswith("{") and info.endswith("}"):
        info = info[1:-1].strip()
    words = info.split(None, 1)
    language = words[0].lstrip(".") if words and "=" not in words[0] else ""
    options = {m.group(1): next(g for g in m.groups()[1:] if g is not None) for m in _OPTION.finditer(info)}
    return language, options


def _fences(lines: list[str]):
    """Yield (open_index, close_index, indent, info) for each fenced block, outermost only."""
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m or (m["fence"][0] == "`" and "`" in m["info"]):
            i += 1
            continue
        fence, indent = m["fence"], m["indent"]
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        yield i, j, indent, m["info"]
        i = j + 1


def read_blocks(text: str, page: str) -> list[Block]:
    """All fenced code blocks of one chapter, in page order."""
    lines = text.splitlines()
    blocks = []
    for start, end, indent, info in _fences(lines):
        language, options = _parse_info(info)
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[start + 1:end]]
        blocks.append(Block(page, start + 2, language, options, "\n".join(body) + "\n" if body else ""))
    return blocks


def strip_annotations(code: str) -> str:
    """Remove Material's code-annotation markers (`# (1)!`) from the ends of lines."""
    return "\n".join(_ANNOTATION.sub("", line) for line in code.split("\n"))


def block_start_lines(blocks: list[Block]) -> list[int]:
    """The line, in the generated file, on which each of one module's blocks starts."""
    starts, line = [], 2  # line 1 is the header
    for block in blocks:
        starts.append(line)
        line += block.code.count("\n") + 1  # the block, then one blank line
    return starts


def render(chapter: str, blocks: list[Block]) -> str:
    """The text of one generated file: the header, as a comment of the file's language, then the blocks."""
    header = COMMENT[Path(blocks[0].export).suffix] + HEADER.format(chapter=chapter)
    return header + "\n".join(strip_annotations(b.code) for b in blocks)


def generated(root: Path) -> list[Path]:
    """The files under src/lama/ that tangling owns: every .py and .js file."""
    return sorted(p for suffix in COMMENT for p in (root / "src" / "lama").rglob(f"*{suffix}"))


def collect(root: Path = ROOT) -> dict[str, list[Block]]:
    """Map each exported path (relative to root) to its blocks, in page order."""
    modules: dict[str, list[Block]] = {}
    for path in sorted((root / "docs").rglob("*.md")):
        page = path.relative_to(root).as_posix()
        for block in read_blocks(path.read_text(encoding="utf-8"), page):
            if block.export is None:
                continue
            if not re.fullmatch(r"src/lama/(\w+/)*\w+\.(py|js)", block.export):
                raise TangleError(f"{page}:{block.line}: cannot export to {block.export!r}: expected src/lama/<name>.py or .js")
            if "linenums" in block.options:
                raise TangleError(f"{page}:{block.line}: remove linenums from this exported block; the build stamps them")
            others = modules.setdefault(block.export, [block])
            if others[0] is not block:
                if others[0].page != page:
                    raise TangleError(
                        f"{block.export} is exported by two chapters, {others[0].page} and {page}: "
                        "one module, one chapter")
                others.append(block)
    return modules


def expected_files(root: Path = ROOT) -> dict[Path, tuple[str, str]]:
    """Every generated file (package files and notebooks) with its chapter and the text it must have."""
    import notebooks

    files = {root / name: (blocks[0].page, render(blocks[0].page, blocks)) for name, blocks in collect(root).items()}
    return files | notebooks.expected_files(root)


def generated_files(root: Path) -> list[Path]:
    """Every file that tangling owns, whether or not a chapter still makes it."""
    import notebooks

    return generated(root) + notebooks.generated(root)


def problems(root: Path = ROOT) -> list[str]:
    """What differs between src/lama and docs/: stale, missing and orphaned files."""
    expected = expected_files(root)
    found = []
    for path, (chapter, text) in sorted(expected.items()):
        name = path.relative_to(root).as_posix()
        if not path.exists():
            found.append(f"missing: {name} (exported by {chapter})")
        elif path.read_text(encoding="utf-8") != text:
            found.append(f"stale: {name} (differs from {chapter})")
    for path in generated_files(root):
        if path not in expected:
            found.append(f"orphaned: {path.relative_to(root).as_posix()} (no chapter makes it)")
    return found


def tangle(root: Path = ROOT) -> list[str]:
    """Write every generated file and delete orphans; return what changed."""
    expected = expected_files(root)
    changed = []
    for path, (_, text) in sorted(expected.items()):
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            changed.append(f"wrote {path.relative_to(root).as_posix()}")
    for path in generated_files(root):
        if path not in expected:
            path.unlink()
            changed.append(f"removed {path.relative_to(root).as_posix()} (no chapter makes it)")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export the code blocks of docs/ into src/lama/, and "
                                                 "each chapter into a notebook in notebooks/.")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if src/lama or notebooks/ differ from docs/")
    parser.add_argument("--root", type=Path, default=ROOT, help="project root (default: this checkout)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            found = problems(args.root)
            for line in found:
                print(line)
            if found:
                print("src/lama or notebooks/ do not match docs/: edit the chapter, then run "
                      "python tools/tangle.py", file=sys.stderr)
            return 1 if found else 0
        for line in tangle(args.root):
            print(line)
        return 0
    except TangleError as error:
        print(f"tangle: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
