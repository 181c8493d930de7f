"""The tangle script: docs/ is the source of src/lama, and any difference is caught."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import tangle  # noqa: E402

FENCE = "```"


def run_tangle(*args, root=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "tangle.py"), "--root", str(root), *args],
                          capture_output=True, text=True)


def chapter(body: str) -> str:
    return textwrap.dedent(body).replace("~~~~", FENCE + "`").replace("~~~", FENCE)


@pytest.fixture
def project(tmp_path):
    """A small book: one chapter exporting two blocks to one module and one to another."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "src" / "lama").mkdir(parents=True)
    (tmp_path / "docs" / "one.md").write_text(chapter('''\
        # One

        ~~~python title="src/lama/one.py"
        def f(x):
            return x + 1  # (1)!
        ~~~

        1.  An annotation: shown on the page, stripped from the package.

        An example, run by the tests and not exported:

        ~~~python
        print(f(1))
        ~~~

        !!! note "Inside an admonition"

            ~~~python title="src/lama/one.py"
            def g(x):
                return f(x) * 2
            ~~~

        ~~~python title="src/lama/two.py"
        TWO = 2
        ~~~
        '''))
    assert run_tangle(root=tmp_path).returncode == 0
    return tmp_path


def test_the_repository_is_tangled():
    result = run_tangle("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_file_layout(project):
    text = (project / "src" / "lama" / "one.py").read_text()
    assert text == textwrap.dedent('''\
        # Generated from docs/one.md by tools/tangle.py. Do not edit: change the chapter.
        def f(x):
            return x + 1

        def g(x):
            return f(x) * 2
        ''')
    assert (project / "src" / "lama" / "two.py").read_text().splitlines()[1:] == ["TWO = 2"]


def test_check_passes_on_a_tangled_project(project):
    assert run_tangle("--check", root=project).returncode == 0


def test_editing_a_generated_file_fails_the_check(project):
    module = project / "src" / "lama" / "one.py"
    module.write_text(module.read_text().replace("x + 1", "x + 2"))
    result = run_tangle("--check", root=project)
    assert result.returncode == 1
    assert "stale: src/lama/one.py" in result.stdout
    assert "edit the chapter" in result.stderr
    assert module.read_text().count("x + 2") == 1  # --check changes nothing
    assert run_tangle(root=project).returncode == 0
    assert "x + 1" in module.read_text()


def test_missing_and_orphaned_files(project):
    (project / "src" / "lama" / "two.py").unlink()
    orphan = project / "src" / "lama" / "ghost.py"
    orphan.write_text("GHOST = True\n")
    result = run_tangle("--check", root=project)
    assert result.returncode == 1
    assert "missing: src/lama/two.py" in result.stdout
    assert "orphaned: src/lama/ghost.py" in result.stdout
    result = run_tangle(root=project)
    assert "removed src/lama/ghost.py" in result.stdout
    assert not orphan.exists() and (project / "src" / "lama" / "two.py").exists()


def test_a_module_exported_by_two_chapters_is_refused(project):
    (project / "docs" / "other.md").write_text(chapter('''\
        ~~~python title="src/lama/two.py"
        THREE = 3
        ~~~
        '''))
    result = run_tangle(root=project)
    assert result.returncode == 2
    assert "src/lama/two.py is exported by two chapters, docs/one.md and docs/other.md" in result.stderr
    assert "Traceback" not in result.stderr


def test_line_numbers_match_the_generated_file(project):
    """What the page shows as line N of a module is line N of the generated file."""
    for name, blocks in tangle.collect(project).items():
        lines = (project / name).read_text().splitlines()
        for block, start in zip(blocks, tangle.block_start_lines(blocks)):
            code = tangle.strip_annotations(block.code).splitlines()
            assert lines[start - 1:start - 1 + len(code)] == code


def test_line_numbers_of_the_real_book():
    for name, blocks in tangle.collect(ROOT).items():
        lines = (ROOT / name).read_text().splitlines()
        for block, start in zip(blocks, tangle.block_start_lines(blocks)):
            code = tangle.strip_annotations(block.code).splitlines()
            assert lines[start - 1:start - 1 + len(code)] == code, f"{block.page}:{block.line}"


def test_block_kinds():
    blocks = tangle.read_blocks(chapter('''\
        ~~~python title="src/lama/x.py"
        X = 1
        ~~~
        ~~~python
        run_me()
        ~~~
        ~~~python title="Not run: needs OpenAI's weights"
        download()
        ~~~
        ~~~python title="Draw it" data-figure="it.svg"
        draw()
        ~~~
        ~~~~markdown
        ~~~python
        this is an example of a fence inside a fence, not a block
        ~~~
        ~~~~
        ~~~bash
        ./dev test
        ~~~
        '''), "docs/x.md")
    assert [b.language for b in blocks] == ["python", "python", "python", "python", "markdown", "bash"]
    assert [b.export for b in blocks][:2] == ["src/lama/x.py", None]
    assert [b.runnable for b in blocks] == [False, True, False, True, False, False]
    assert blocks[2].skip_reason == "needs OpenAI's weights"
    assert blocks[3].figure == "it.svg"
    assert blocks[1].line == 5 and blocks[1].code == "run_me()\n"


def test_annotation_markers_are_stripped():
    assert tangle.strip_annotations("x = 1  # (1)!\ny = 2 # (12)\nz = '# (3)!' + s\n") == "x = 1\ny = 2\nz = '# (3)!' + s\n"


def test_bad_export_path_is_refused(project):
    (project / "docs" / "bad.md").write_text(chapter('''\
        ~~~python title="src/lama/../evil.py"
        X = 1
        ~~~
        '''))
    result = run_tangle("--check", root=project)
    assert result.returncode == 2 and "cannot export" in result.stderr


def test_a_script_is_exported_with_its_own_comment(project):
    """A .js block becomes a file of the package, headed by a // comment; a stray .js is an orphan."""
    (project / "docs" / "view.md").write_text(chapter('''\
        ~~~javascript title="src/lama/view.js"
        const x = 1;
        ~~~
        '''))
    assert run_tangle(root=project).returncode == 0
    lines = (project / "src" / "lama" / "view.js").read_text().splitlines()
    assert lines[0].startswith("// Generated from docs/view.md") and lines[1:] == ["const x = 1;"]
    (project / "docs" / "view.md").unlink()
    result = run_tangle("--check", root=project)
    assert result.returncode == 1 and "orphaned: src/lama/view.js" in result.stdout


def test_each_chapter_with_code_is_a_notebook(project):
    """notebooks/ is generated like src/lama: a stale, missing or orphaned notebook fails the check."""
    notebook = project / "notebooks" / "one.ipynb"
    assert sorted(p.name for p in (project / "notebooks").iterdir()) == ["one.ipynb"]
    assert '"print(f(1))"' in notebook.read_text()
    notebook.write_text(notebook.read_text().replace("print(f(1))", "print(f(2))"))
    ghost = project / "notebooks" / "ghost.ipynb"
    ghost.write_text("{}\n")
    result = run_tangle("--check", root=project)
    assert result.returncode == 1
    assert "stale: notebooks/one.ipynb (differs from docs/one.md)" in result.stdout
    assert "orphaned: notebooks/ghost.ipynb" in result.stdout
    assert "notebooks/" in result.stderr and "edit the chapter" in result.stderr
    result = run_tangle(root=project)
    assert "wrote notebooks/one.ipynb" in result.stdout and "removed notebooks/ghost.ipynb" in result.stdout
    assert not ghost.exists() and '"print(f(1))"' in notebook.read_text()
    notebook.unlink()
    assert "missing: notebooks/one.ipynb" in run_tangle("--check", root=project).stdout
