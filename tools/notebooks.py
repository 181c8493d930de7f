"""Turn each chapter of the book into a Jupyter notebook, notebooks/<chapter>.ipynb.

`tools/tangle.py` calls this module: it writes the notebooks with the package, and `--check` fails
when one is stale, missing or orphaned. The notebooks are generated, like src/lama: never edit them,
change the chapter.

A chapter becomes a notebook when it has a Python block that runs. The notebook holds the page in
page order:

- the prose, the math and the tables are Markdown cells; Material's admonitions become block
  quotes, links to other pages and the site's files point at the published book;
- every block that the tests run is a code cell, a figure block included (it draws inline, and
  its `![...](figures/...)` image, which the site shows, is left out);
- a block exported to the package (`title="src/lama/..."`) is a listing in a Markdown cell under
  its file name: the package is installed, and the cells import it instead of defining it again.
  A block titled "Not run: ..." is a listing under that title, and so is every other block;
- an exercise's solution (`??? success "Solution"`) follows its question as a Markdown cell that
  says "Solution", with its code in cells of its own;
- a block of commands that wrote the page's committed results (`python -m lama.x ... --out
  docs/results/...`, in a shell block or in a text block the tests do not run) becomes a cell
  that runs them again into results/ when `RUN_EXPERIMENTS` is true, which the setup cell makes
  true on a GPU; such a notebook asks Colab for a GPU runtime.

The first code cell sets the notebook up: it installs lama where it is missing (and matplotlib,
in a notebook that draws figures) and says how tinygrad picks its device (`DEV`).
"""
from __future__ import annotations

import hashlib
import json
import re
import textwrap
from pathlib import Path

import tangle

SITE_URL = "https://dxlnr.github.io/lama/"  # mkdocs.yml's site_url (tests/test_notebooks.py checks)
REPOSITORY = "dxlnr/lama"                   # pyproject.toml's Source URL, on GitHub
BRANCH = "main"
FOLDER = "notebooks"

SHELL_LANGUAGES = {"bash", "sh", "shell"}
_ADMONITION = re.compile(r'^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]+(?P<type>[\w-]+)'
                         r'(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$')
_LIST_ITEM = re.compile(r"^(?:\d+[.)]|[*+-])[ \t]+(?=\S)")
_COMMAND = re.compile(r"^(?:\w+=\S+[ \t]+)*(?:python -m lama\.\w+\b|mkdir -p docs/results\b)")
_TEXT = r"(?:[^\[\]]|\[[^\[\]]*\])*"  # a link's text, which may hold [brackets] one level deep
_IMAGE = re.compile(rf"!\[(?P<alt>{_TEXT})\]\((?P<target>[^)\s]+)\)(?P<attrs>\{{[^}}\n]*\}})?")
_LINK = re.compile(rf"(?<!!)\[(?P<text>{_TEXT})\]\((?P<target>[^)\s]+)\)")
_HEADING_ATTRS = re.compile(r"^(?P<heading>#{1,6}[ \t].*?)[ \t]*\{[^}]*\}[ \t]*$", re.M)
_VIEW = re.compile(r'<div class="lama-attention"[^>]*>.*?</div>', re.S)


def colab_url(stem: str) -> str:
    """Where Colab opens the committed notebook of a chapter."""
    return (f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/"
            f"{FOLDER}/{stem}.ipynb")


def page_url(page: str) -> str:
    """The published address of a page of docs/ (`docs/tokens.md` -> .../tokens/)."""
    name = page.removeprefix("docs/").removesuffix(".md")
    if name == "index" or name.endswith("/index"):
        name = name[:-len("index")]
    else:
        name += "/"
    return SITE_URL + name


def is_experiment(block: tangle.Block) -> bool:
    """A block of shell commands that each write a result the page reads from docs/results/: a
    shell block, or a text block that the tests do not run ("Not run: ...")."""
    if block.language in SHELL_LANGUAGES:
        if block.title and block.skip_reason is None:
            return False
    elif block.language != "text" or block.skip_reason is None:
        return False
    commands = re.sub(r"\\\n", " ", block.code).splitlines()
    commands = [c for c in commands if c.strip()]
    return bool(commands) and all(
        _COMMAND.match(c) and ("--out docs/results" in c or c.startswith("mkdir")) for c in commands)


def is_cell(block: tangle.Block) -> bool:
    """Whether a block becomes a code cell (else it is a listing in a Markdown cell)."""
    return block.runnable or is_experiment(block)


# -- Reading the page: containers that hold code cells are opened up -------------------------------

def _dedent(lines: list[str], width: int) -> list[str]:
    return [line[width:] if not line[:width].strip() else line.lstrip() for line in lines]


def _body(lines: list[str], start: int, width: int, lazy: bool) -> int:
    """The end (exclusive) of the indented body that follows lines[start - 1]; with `lazy`, a
    line right after a line of text continues the body even when it is not indented."""
    end = j = start
    while j < len(lines):
        line = lines[j]
        if line.strip() and len(line) - len(line.lstrip()) < width:
            after_text = j > 0 and lines[j - 1].strip()
            starts_block = re.match(r"[ \t]*(#|`{3}|~{3}|!!!|\?\?\?|\d+[.)] |[*+-] )", line)
            if not (lazy and after_text and not starts_block):
                break
        j += 1
        if line.strip():
            end = j
    return end


def _holds_cells(lines: list[str], page: str) -> bool:
    return any(is_cell(b) for b in tangle.read_blocks("\n".join(lines), page))


def _read(lines: list[str], page: str) -> list[tuple[str, str]]:
    """The cells of a run of Markdown lines: ("markdown", text) and ("code", source)."""
    fences = {start: (end, indent) for start, end, indent, _ in tangle._fences(lines)}
    cells: list[tuple[str, str]] = []
    text: list[str] = []

    def flush():
        if "".join(text).strip():
            cells.append(("markdown", "\n".join(text)))
        text.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if i in fences:
            end, indent = fences[i]
            block = tangle.read_blocks("\n".join(lines[i:end + 1]), page)[0]
            if is_cell(block):
                if block.skip_reason:
                    text.extend([f"*The tests do not run this: {block.skip_reason}.*", ""])
                elif block.title:
                    text.extend([f"*{block.title}:*", ""])
                flush()
                cells.append(("code", _code(block)))
            else:
                text.extend(lines[i:end + 1])
            i = end + 1
            continue
        admonition = _ADMONITION.match(line)
        item = _LIST_ITEM.match(line)
        if admonition and not admonition["indent"]:
            end = _body(lines, i + 1, 4, lazy=False)
            body = _dedent(lines[i + 1:end], 4)
            if _holds_cells(body, page):
                title = admonition["title"] or admonition["type"].capitalize()
                flush()
                inner = _read(body, page)
                if inner and inner[0][0] == "markdown":
                    inner[0] = ("markdown", f"**{title}**\n\n" + inner[0][1])
                else:
                    inner.insert(0, ("markdown", f"**{title}**"))
                cells.extend(inner)
                i = end
                continue
        elif item:
            width = item.end()
            end = _body(lines, i + 1, width, lazy=True)
            # The item's content is indented as its first indented line is (4 spaces, usually).
            width = min((len(x) - len(x.lstrip()) for x in lines[i + 1:end]
                         if x.strip() and len(x) - len(x.lstrip()) >= width), default=width)
            body = [line[item.end():]] + _dedent(lines[i + 1:end], width)
            if _holds_cells(body, page):
                # An exercise, say: the question stays with the text before it, in one cell.
                inner = _read(body, page)
                marker = item.group().rstrip() + " "
                if inner and inner[0][0] == "markdown":
                    text.append(marker + inner.pop(0)[1].lstrip())
                flush()
                cells.extend(inner)
                i = end
                continue
        text.append(line)
        i += 1
    flush()
    return cells


# -- Writing cells ------------------------------------------------------------------------------

def _annotations(code: str) -> str:
    """Material's `# (1)!` markers become plain `# (1)` comments: the numbered notes follow."""
    return re.sub(r"#[ \t]*\((\d+)\)!?[ \t]*$", r"# (\1)", code, flags=re.M)


def _code(block: tangle.Block) -> str:
    if block.figure:
        return _figure(block)
    if not is_experiment(block):
        return _annotations(block.code).rstrip("\n")
    several = len(re.sub(r"\\\n", " ", block.code).strip().splitlines()) > 1
    command, it = ("commands", "they run") if several else ("command", "it runs")
    source = [f"# The {command} below wrote this page's results. With RUN_EXPERIMENTS (the setup cell",
              f"# sets it on a GPU) {it} again here, into results/; the other cells read the",
              "# committed results in docs/results/ either way.",
              "if RUN_EXPERIMENTS:"]
    continued = False
    for line in block.code.rstrip("\n").splitlines():
        line = line.replace("docs/results", "results")
        if not continued:
            line = "!" + re.sub(r"\bpython -m ", "{sys.executable} -m ", line, count=1)
        source.append("    " + line)
        continued = line.rstrip().endswith("\\")
    return "\n".join(source)


def _figure(block: tangle.Block) -> str:
    """A figure block as a function that the cell calls: on the site and in the tests it runs in a
    namespace of its own, so in a notebook too its names (a `T` of its own, say) stay out of the
    chapter's later cells."""
    name = "draw_" + re.sub(r"\W", "_", Path(block.figure).stem)
    body = textwrap.indent(_annotations(block.code).rstrip("\n"), "    ")
    return (f"def {name}():  # the figure's names stay inside, as on the site\n{body}\n\n\n"
            f"{name}()")


def _listing(lines: list[str], page: str) -> list[str]:
    """A fenced block as a plain listing: its language only, under its title if it has one."""
    block = tangle.read_blocks("\n".join(lines), page)[0]
    indent = re.match(r"[ \t]*", lines[0]).group()
    fence = re.match(r"[ \t]*(`{3,}|~{3,})", lines[0]).group(1)
    head = [f"{indent}**{block.title}**", ""] if block.title else []
    code = _annotations("\n".join(lines[1:-1])).split("\n") if len(lines) > 2 else []
    return head + [f"{indent}{fence}{block.language}"] + code + [lines[-1]]


def _admonitions(lines: list[str], in_fence: set[int]) -> list[str]:
    """`!!! note "Title"` with its indented body becomes a block quote headed by the title."""
    out = []
    i = 0
    while i < len(lines):
        m = None if i in in_fence else _ADMONITION.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m["indent"]
        end = _body(lines, i + 1, len(indent) + 4, lazy=False)
        title = m["title"] if m["title"] is not None else m["type"].capitalize()
        if title:
            out.extend([f"{indent}> **{title}**", f"{indent}>"])
        for line in _admonitions(_dedent(lines[i + 1:end], len(indent) + 4), set()):
            out.append(f"{indent}> {line}".rstrip())
        i = end
    return out


def _url(target: str, page: str, drawn: set[str]) -> str | None:
    """A link's target, made absolute: pages and files of the book point at the published site.
    None for an image that a cell of this notebook draws."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):
        return target
    path, _, anchor = target.partition("#")
    if not path:
        return page_url(page) + "#" + anchor
    if path.startswith("figures/") and path[len("figures/"):] in drawn:
        return None
    if path.endswith(".md"):
        address = page_url("docs/" + path)
    else:
        address = SITE_URL + path
    return address + ("#" + anchor if anchor else "")


def _markdown(text: str, page: str, drawn: set[str]) -> str:
    lines = text.split("\n")
    for start, end, _, _ in sorted(tangle._fences(lines), reverse=True):
        lines[start:end + 1] = _listing(lines[start:end + 1], page)
    in_fence = {j for start, end, _, _ in tangle._fences(lines) for j in range(start, end + 1)}
    lines = _admonitions(lines, in_fence)
    fenced = {j for start, end, _, _ in tangle._fences(lines) for j in range(start, end + 1)}
    # Rewrite the prose between listings, never the code in them.
    parts, run, kind = [], [], None
    for j, line in enumerate(lines):
        if (j in fenced) != kind:
            if run:
                parts.append((kind, "\n".join(run)))
            run, kind = [], j in fenced
        run.append(line)
    parts.append((kind, "\n".join(run)))

    def image(m):
        url = _url(m["target"], page, drawn)
        return "" if url is None else f"![{m['alt']}]({url})"

    def prose(s: str) -> str:
        s = _IMAGE.sub(image, s)
        s = _LINK.sub(lambda m: f"[{m['text']}]({_url(m['target'], page, drawn)})", s)
        s = _HEADING_ATTRS.sub(r"\g<heading>", s)
        return _VIEW.sub(f"*The interactive view is on [the book's page]({page_url(page)}).*", s)

    text = "\n".join(p if fence else prose(p) for fence, p in parts)
    text = re.sub(r"\n[ \t]*(\n[ \t]*)+\n", "\n\n", text)
    return text.strip("\n")


# -- The notebook -------------------------------------------------------------------------------

def _setup(experiments: bool, figures: bool = False) -> str:
    lines = [
        "# Run this cell first: it sets up what the chapter's cells need.",
        "#",
        "# lama: where it is not installed (on Colab, say), the cell clones the book's repository,",
        "# whose docs/results/ some chapters read, and installs the package from it.",
    ]
    if figures:
        lines += ["# matplotlib, which draws the figures, is installed too where it is missing."]
    lines += [
        "#",
        "# tinygrad's device: the environment variable DEV names it: CUDA or NV (NVIDIA GPUs), AMD,",
        "# METAL (Apple), or CPU, which compiles its kernels with clang. Unset, tinygrad takes the",
        "# first device that works. This cell sets DEV=CUDA where an NVIDIA GPU is present, and",
        "# installs clang for the CPU where it is missing and apt-get can. To choose, set DEV before",
        "# this cell runs: os.environ[\"DEV\"] = \"CPU\".",
        "import importlib.util",
        "import os",
        "import shutil",
        "import subprocess",
        "import sys",
        "",
        'if importlib.util.find_spec("lama") is None:',
        '    if not os.path.isdir("lama"):',
        f'        subprocess.run(["git", "clone", "--depth", "1", "https://github.com/{REPOSITORY}"],',
        "                       check=True)",
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "lama"], check=True)',
        '    sys.path.insert(0, os.path.abspath("lama/src"))  # this kernel started before the install',
    ]
    if figures:
        lines += [
            'if importlib.util.find_spec("matplotlib") is None:',
            '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"], check=True)',
            "    importlib.invalidate_caches()",
        ]
    lines += [
        'if "DEV" not in os.environ and shutil.which("nvidia-smi"):',
        '    os.environ["DEV"] = "CUDA"',
        'if (os.environ.get("DEV", "CPU").startswith("CPU") and not shutil.which("clang")',
        '        and shutil.which("apt-get") and os.geteuid() == 0):',
        '    subprocess.run("apt-get update -qq && apt-get install -y -qq clang", shell=True, check=True)',
        "",
        "from tinygrad import Device",
        "",
        'print("lama:", os.path.dirname(importlib.util.find_spec("lama").origin))',
        'print("tinygrad device:", Device.DEFAULT)',
    ]
    if experiments:
        lines += [
            "",
            "# This chapter's results come from training runs of minutes to an hour on a two-core",
            "# CPU. On a GPU, the cells that start with `if RUN_EXPERIMENTS:` run those commands",
            "# again, at the size the page reports, into results/; on a CPU they are skipped. Either",
            "# way the other cells read the results committed in docs/results/. Set it to choose.",
            'RUN_EXPERIMENTS = not Device.DEFAULT.startswith("CPU")',
            'print("RUN_EXPERIMENTS =", RUN_EXPERIMENTS)',
        ]
    return "\n".join(lines)


def _introduction(title: str, page: str, module: str | None) -> str:
    text = (f"*A chapter of [lama]({SITE_URL}), a transformer built from scratch in tinygrad, as a "
            f"notebook generated from `{page}`: [the chapter on the site]({page_url(page)}). Run "
            "the setup cell first, then the cells in order.")
    if module:
        text += (f" A listing under a file name such as `{module}` is the package's own code: the "
                 "setup cell installs the package, and the cells import it.")
    return f"{title}\n\n{text}*"


def _cell_id(source: str, seen: set[str]) -> str:
    base = hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]
    cell_id, n = base, 1
    while cell_id in seen:
        n += 1
        cell_id = f"{base}-{n}"
    seen.add(cell_id)
    return cell_id


def _source(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def notebook(text: str, page: str) -> dict:
    """The notebook of one chapter, as nbformat 4.5 JSON data."""
    blocks = tangle.read_blocks(text, page)
    drawn = {b.figure for b in blocks if b.figure and b.runnable}
    experiments = any(is_experiment(b) for b in blocks)
    lines = text.split("\n")
    title = next((j for j, line in enumerate(lines) if line.startswith("# ")), None)
    heading = lines[title] if title is not None else f"# {Path(page).stem}"
    heading = _HEADING_ATTRS.sub(r"\g<heading>", heading)
    rest = lines[title + 1:] if title is not None else lines
    module = next((b.export for b in blocks if b.export), None)
    figures = any(b.figure for b in blocks if b.runnable)
    cells = [("markdown", _introduction(heading, page, module)),
             ("code", _setup(experiments, figures))]
    cells += [(kind, _markdown(body, page, drawn) if kind == "markdown" else body)
              for kind, body in _read(rest, page)]
    seen: set[str] = set()
    out = []
    for kind, body in cells:
        if kind == "markdown" and not body.strip():
            continue
        cell = {"cell_type": kind, "id": _cell_id(body, seen), "metadata": {},
                "source": _source(body)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "lama": {"generated_from": page},
    }
    if experiments:  # Colab opens it on a GPU runtime
        metadata.update(accelerator="GPU", colab={"gpuType": "T4", "provenance": []})
    return {"cells": out, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def dumps(nb: dict) -> str:
    """A notebook's file text, as Jupyter writes it (one-space indent, sorted keys)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def pages(root: Path) -> list[Path]:
    """The chapters that get a notebook: those with a Python block that runs."""
    found = []
    for path in sorted((root / "docs").rglob("*.md")):
        page = path.relative_to(root).as_posix()
        if any(b.runnable for b in tangle.read_blocks(path.read_text(encoding="utf-8"), page)):
            found.append(path)
    return found


def expected_files(root: Path) -> dict[Path, tuple[str, str]]:
    """Every notebook with its chapter and the text it must have."""
    files: dict[Path, tuple[str, str]] = {}
    for path in pages(root):
        page = path.relative_to(root).as_posix()
        target = root / FOLDER / f"{path.stem}.ipynb"
        if target in files:
            raise tangle.TangleError(f"{page} and {files[target][0]} would both be {target.name}")
        files[target] = (page, dumps(notebook(path.read_text(encoding="utf-8"), page)))
    return files


def generated(root: Path) -> list[Path]:
    """The files under notebooks/ that the generator owns."""
    return sorted((root / FOLDER).glob("*.ipynb"))
