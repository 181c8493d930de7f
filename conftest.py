"""Collects the book's code blocks as tests: every ```python block in docs/ that is not exported to
src/lama runs, in page order, in one namespace per chapter (as a reader running the page top to
bottom would). A block titled "Not run: <reason>" is reported as skipped with that reason; a figure
block (`data-figure="name.svg"`) runs alone in a fresh namespace, exactly as the site build runs it,
and must save its file. Tracebacks point at the chapter's own line numbers.

The chapters of Parts I to V are the exception: tests/test_notebooks.py and
tests/test_notebooks_training.py run their notebooks top to bottom in a fresh Jupyter kernel, and a notebook holds every block of its chapter that runs, in page
order (the same test file checks that, block by block). That run is their test; their blocks are
not run a second time here.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))
import tangle  # noqa: E402

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".md" and (ROOT / "docs") in file_path.parents:
        if file_path.stem in notebook_chapters():
            return None
        return Chapter.from_parent(parent, path=file_path)
    return None


@functools.cache
def notebook_chapters() -> tuple[str, ...]:
    """The chapters of Parts I to V in mkdocs.yml's navigation, in order: the tests run their
    notebooks (tests/test_notebooks.py checks that its list is this one)."""
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    parts = [next(iter(item.values())) for item in nav if isinstance(item, dict)
             and re.match(r"Part (I|II|III|IV|V) ", next(iter(item)))]
    return tuple(Path(page).stem for part in parts for entry in part for page in entry.values())


class Chapter(pytest.File):
    def collect(self):
        page = self.path.relative_to(ROOT).as_posix()
        self.namespace: dict = {"__name__": f"docs.{self.path.stem}"}
        self.failed_at: str | None = None
        self.workdir: Path | None = None
        for block in tangle.read_blocks(self.path.read_text(encoding="utf-8"), page):
            if block.language in tangle.RUNNABLE_LANGUAGES and block.export is None:
                yield CodeBlock.from_parent(self, name=f"line {block.line}", block=block)

    def setup(self):
        import tempfile

        self._tmp = tempfile.TemporaryDirectory(prefix=f"lama-{self.path.stem}-")
        self.workdir = Path(self._tmp.name)

    def teardown(self):
        with contextlib.suppress(Exception):
            import matplotlib.pyplot as plt

            plt.close("all")
        self._tmp.cleanup()


class CodeBlock(pytest.Item):
    def __init__(self, *, block: tangle.Block, **kwargs):
        super().__init__(**kwargs)
        self.block = block

    def runtest(self):
        chapter, block = self.parent, self.block
        if block.skip_reason:
            pytest.skip(f"not run: {block.skip_reason}")
        if chapter.failed_at:
            pytest.skip(f"an earlier block of this chapter failed ({chapter.failed_at})")
        namespace = {"__name__": "__main__"} if block.figure else chapter.namespace
        # Pad with blank lines so that a traceback's line numbers are the chapter's.
        # dont_inherit: the block runs as in a reader's session, without this file's __future__ imports.
        code = compile("\n" * (block.line - 1) + block.code, str(chapter.path), "exec",
                       dont_inherit=True)
        with contextlib.chdir(chapter.workdir):
            if block.figure and (chapter.workdir / block.figure).exists():
                (chapter.workdir / block.figure).unlink()
            try:
                exec(code, namespace)
            except BaseException:
                chapter.failed_at = self.name
                raise
            if block.figure:
                assert (chapter.workdir / block.figure).is_file(), f"the figure block did not save {block.figure}"

    def repr_failure(self, excinfo):
        frames = [f for f in traceback.extract_tb(excinfo.tb) if f.filename == str(self.parent.path) or "site-packages" not in f.filename and f.filename != __file__]
        text = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(excinfo.type, excinfo.value))
        return f"{self.block.page}:{self.block.line}: this block failed\n{text}"

    def reportinfo(self):
        return self.path, self.block.line - 1, f"{self.block.page}:{self.block.line}"


# The test files that take longest (minutes each on two cores), run first so that pytest-xdist, which
# hands out whole files in collection order (./dev test), does not leave one of them for the end.
LONGEST_FIRST = ["tests/test_site.py", "tests/test_notebooks.py", "tests/test_notebooks_training.py",
                 "tests/test_questions.py"]


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)          # stable: each file keeps its own order


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With LAMA_REQUIRE_ALL=1 (CI), a skipped test fails: a missing input must not pass silently.
    Blocks the book marks "Not run: <reason>" stay skipped (their reason is on the page), and so do
    tests marked `real_weights`, which need OpenAI's weights in the Hugging Face cache."""
    outcome = yield
    report = outcome.get_result()
    exempt = (isinstance(item, CodeBlock) and item.block.skip_reason) or item.get_closest_marker("real_weights")
    if os.environ.get("LAMA_REQUIRE_ALL") == "1" and report.skipped and not exempt:
        report.outcome = "failed"
        report.longrepr = f"skipped, but LAMA_REQUIRE_ALL=1 forbids skips: {report.longrepr}"
