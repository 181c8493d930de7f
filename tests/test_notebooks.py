"""The chapters as notebooks (tools/notebooks.py): what a chapter becomes, that every committed
notebook is a valid one, and that the core chapters' notebooks run top to bottom in a fresh kernel:
Parts I to III here, Parts IV and V in tests/test_notebooks_training.py (a file of its own, so that
`./dev test` runs the two halves on two workers).
"""
import re
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import notebooks  # noqa: E402
import tangle  # noqa: E402

FENCE = "```"
# The core, Parts I to V: the chapters whose notebooks the tests run, Parts I to III in this file.
CORE = ["tokens", "embeddings", "tinygrad", "attention", "self-attention", "multi-head", "block",
        "gpt2", "generation", "gpt-one-page"]
TRAINING = ["data", "training", "shakespeare", "classifier", "encoder-decoder", "attention-maps",
            "grokking", "questions"]


def chapter(body: str) -> str:
    return textwrap.dedent(body).replace("~~~", FENCE)


CHAPTER = chapter('''\
    # 3. One { #one }

    Text with $x_1$, a [link](two.md#there), an [anchor](#here) and [a paper](https://example.org).

    ~~~python title="src/lama/one.py"
    def f(x):
        return x + 1  # (1)!
    ~~~

    1.  An annotation.

    ~~~python
    from lama.one import f
    print(f(1))
    ~~~

    !!! note "A note"
        Inside a note.

    ~~~python title="Draw it" data-figure="it.svg"
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    fig.savefig("it.svg")
    ~~~

    ![A picture of [it],
    over two lines](figures/it.svg)

    The rest of the paragraph.

    ~~~python title="Not run: needs the internet"
    download()
    ~~~

    ~~~bash
    python -m lama.one --steps 3 \\
        --out docs/results/one
    ~~~

    ~~~bash
    ./dev test
    ~~~

    ## Exercises

    1. **Predict.** What does `f(2)` give?

        ??? success "Solution"

            Three.

            ~~~python
            assert f(2) == 3
            ~~~

            And more prose.

    2. **Again.** And `f(3)`?

        ??? success "Solution"

            ~~~python
            assert f(3) == 4
            ~~~

    ## Where next

    The end.
    ''')


def sources(nb: dict) -> list[tuple[str, str]]:
    return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


def test_a_chapter_becomes_cells_in_page_order():
    cells = sources(notebooks.notebook(CHAPTER, "docs/one.md"))
    kinds = [kind for kind, _ in cells]
    assert kinds == ["markdown", "code",                   # the title, the setup cell
                     "markdown", "code",                   # prose and listing, an example
                     "markdown", "code",                   # the note, the figure
                     "markdown", "code",                   # prose and listing, the experiment
                     "markdown", "markdown", "code", "markdown",   # exercise 1, its solution
                     "markdown", "markdown", "code",       # exercise 2, its solution
                     "markdown"]
    assert cells[0][1].startswith("# 3. One\n\n*A chapter of [lama]")   # no { #one }
    assert "`src/lama/one.py`" in cells[0][1]
    prose = cells[2][1]
    assert "[link](https://dxlnr.github.io/lama/two/#there)" in prose
    assert "[anchor](https://dxlnr.github.io/lama/one/#here)" in prose
    assert "[a paper](https://example.org)" in prose and "$x_1$" in prose
    # The exported block is a listing under its file name, its annotation marker a plain comment.
    assert "**src/lama/one.py**\n\n```python\ndef f(x):\n    return x + 1  # (1)\n```" in prose
    assert cells[3][1] == "from lama.one import f\nprint(f(1))"
    assert cells[4][1] == "> **A note**\n>\n> Inside a note.\n\n*Draw it:*"
    # The figure's code runs inside a function, so that its names stay its own, as on the site.
    assert cells[5][1].startswith("def draw_it():") and cells[5][1].endswith("\n\n\ndraw_it()")
    assert '\n    fig.savefig("it.svg")\n' in cells[5][1]
    # The cell draws the figure, so the image the site shows is left out; the paragraph stays.
    assert "figures/it.svg" not in cells[6][1] and cells[6][1].startswith("The rest of the paragraph.")
    assert "**Not run: needs the internet**\n\n```python\ndownload()\n```" in cells[6][1]
    assert cells[7][1].splitlines()[-3:] == [
        "if RUN_EXPERIMENTS:",
        "    !{sys.executable} -m lama.one --steps 3 \\",
        "        --out results/one"]
    assert cells[8][1].startswith("```bash\n./dev test\n```\n\n## Exercises\n\n1. **Predict.**")
    assert cells[9][1] == "**Solution**\n\nThree."
    assert cells[10][1] == "assert f(2) == 3"
    assert cells[11][1] == "And more prose."
    assert cells[12][1] == "2. **Again.** And `f(3)`?"
    assert (cells[13][1], cells[14][1]) == ("**Solution**", "assert f(3) == 4")
    assert cells[15][1] == "## Where next\n\nThe end."


def test_a_long_run_that_the_tests_skip_is_rerun_on_a_gpu():
    cells = sources(notebooks.notebook(chapter('''\
        # Two

        ~~~python
        print(2)
        ~~~

        ~~~text title="Not run: an hour of training"
        python -m lama.two --out docs/results/two --steps 10
        ~~~

        ~~~text title="Not run: for show"
        python -m lama.two --help
        ~~~
        '''), "docs/two.md"))
    assert cells[2] == ("code", "print(2)")
    assert cells[3] == ("markdown", "*The tests do not run this: an hour of training.*")
    assert cells[4][1].endswith(
        "if RUN_EXPERIMENTS:\n    !{sys.executable} -m lama.two --out results/two --steps 10")
    assert cells[5] == ("markdown", "**Not run: for show**\n\n```text\npython -m lama.two --help\n```")
    assert len(cells) == 6


def test_the_setup_cell():
    nb = notebooks.notebook(CHAPTER, "docs/one.md")
    setup = "".join(nb["cells"][1]["source"])
    assert setup.startswith("# Run this cell first")
    assert "https://github.com/dxlnr/lama" in setup and '"pip", "install"' in setup
    assert "DEV" in setup and "CUDA" in setup and "CPU" in setup
    assert "RUN_EXPERIMENTS = " in setup
    assert '"pip", "install", "-q", "matplotlib"' in setup     # the chapter draws a figure
    assert nb["metadata"]["accelerator"] == "GPU"              # Colab opens it on a GPU
    plain = notebooks.notebook(chapter('''\
        # Two

        ~~~python
        print(2)
        ~~~
        '''), "docs/two.md")
    assert "RUN_EXPERIMENTS" not in notebooks.dumps(plain) and "accelerator" not in plain["metadata"]
    assert "matplotlib" not in notebooks.dumps(plain)
    assert all(len(line) <= 100 for line in setup.splitlines())


def test_a_generated_notebook_runs_and_skips_the_experiments_on_a_cpu(tmp_path):
    """The synthetic chapter, package and all, in a fresh kernel: the `!` command inside
    `if RUN_EXPERIMENTS:` is valid IPython, and on a CPU it is skipped."""
    pytest.importorskip("nbclient")
    from nbclient import NotebookClient

    (tmp_path / "docs").mkdir()
    (tmp_path / "src" / "lama").mkdir(parents=True)
    (tmp_path / "docs" / "one.md").write_text(CHAPTER)
    tangle.tangle(tmp_path)
    (tmp_path / "src" / "lama" / "__init__.py").write_text("")  # this package, not the book's
    nb = nbformat.read(tmp_path / "notebooks" / "one.ipynb", as_version=4)
    env_path = f"{tmp_path / 'src'}"
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        f"import os, sys\nos.environ['DEV'] = 'CPU'\nsys.path.insert(0, {env_path!r})"))
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "RUN_EXPERIMENTS = False" in outputs and "2\n" in outputs
    assert (tmp_path / "it.svg").is_file() and not (tmp_path / "results").exists()


def test_every_chapter_with_code_has_a_valid_notebook():
    expected = notebooks.expected_files(ROOT)
    assert {p.stem for p in expected} >= set(CORE + TRAINING)
    assert sorted(expected) == notebooks.generated(ROOT), "run python tools/tangle.py"
    for path, (page, text) in expected.items():
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run tools/tangle.py"
        assert nb.metadata["lama"]["generated_from"] == page
        code = [c for c in nb.cells if c.cell_type == "code"]
        blocks = tangle.read_blocks((ROOT / page).read_text(encoding="utf-8"), page)
        runnable = [b for b in blocks if b.runnable]
        experiments = [b for b in blocks if notebooks.is_experiment(b)]
        assert len(code) == 1 + len(runnable) + len(experiments), f"{page}: a cell is missing"
        # Every block that runs is its cell's code, in page order (a figure's indented in a
        # function): running a core chapter's notebook runs all of the chapter's examples.
        cells = iter("".join(c.source) for c in code[1:])
        for block in (b for b in blocks if notebooks.is_cell(b)):
            cell = next(cells)
            if block.runnable:
                src = tangle.strip_annotations(block.code).rstrip("\n")
                assert src in cell or textwrap.indent(src, "    ") in cell, f"{page}:{block.line}"
        assert all(not c.outputs and c.execution_count is None for c in code)


def test_the_tests_run_the_whole_core():
    """CORE and TRAINING are the chapters of Parts I to V in mkdocs.yml's navigation, in order: the
    chapters whose examples conftest.py leaves to their notebooks."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("book_conftest", ROOT / "conftest.py")
    book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book)
    assert list(book.notebook_chapters()) == CORE + TRAINING and len(CORE + TRAINING) == 18


def test_the_addresses_are_the_projects():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^site_url: (\S+)$", config, re.M)[1] == notebooks.SITE_URL
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["urls"]["Source"] == f"https://github.com/{notebooks.REPOSITORY}"
    assert notebooks.colab_url("tokens") == \
        "https://colab.research.google.com/github/dxlnr/lama/blob/main/notebooks/tokens.ipynb"


def run_notebook(stem: str, folder: Path) -> None:
    """A fresh kernel runs the committed notebook, every cell in order, offline: the data comes
    from the environment (TIKTOKEN_CACHE_DIR, LAMA_DATA_DIR), as for the chapters' own tests. The
    experiments' commands are skipped on any device: the tests read the committed results."""
    pytest.importorskip("nbclient")
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    experiments = "RUN_EXPERIMENTS" in "".join(nb.cells[1].source)
    if experiments:
        nb.cells.insert(2, nbformat.v4.new_code_cell("RUN_EXPERIMENTS = False"))
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    setup = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert f"lama: {ROOT / 'src' / 'lama'}\n" in setup          # this checkout's package
    assert not (folder / "results").exists()                    # no experiment ran again


@pytest.mark.parametrize("stem", CORE)
def test_core_notebook_runs_top_to_bottom(stem, tmp_path):
    run_notebook(stem, tmp_path)
