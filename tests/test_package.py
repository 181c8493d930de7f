"""The package as a user installs it."""
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_lama_is_cheap():
    """`import lama` loads neither tinygrad nor numpy: the command line and tools start fast."""
    code = "import sys, lama; print(sorted(m for m in ('tinygrad', 'numpy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_version_matches_pyproject():
    import lama

    assert lama.__version__ == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_every_module_names_its_chapter():
    for module in (ROOT / "src" / "lama").rglob("*.py"):
        first = module.read_text().splitlines()[0]
        assert first.startswith("# Generated from docs/") and "Do not edit" in first, module
        chapter = first.split()[3]
        assert (ROOT / chapter).is_file(), f"{module} names {chapter}, which does not exist"


def test_tinygrad_is_pinned():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("tinygrad==0.13.0") for d in deps)


def test_the_wheel_holds_the_package(tmp_path):
    """A non-editable install has every module and the attention view's script, and makes a
    standalone view page from the installed files alone."""
    import shutil
    import zipfile

    src = tmp_path / "src"                    # build from a copy: setuptools writes build/ beside the sources
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("lama-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src" / "lama").rglob("*") if p.suffix in (".py", ".js")}
    assert "lama/attention_view.js" in sources and sources <= names, sorted(sources - names)

    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import lama.viewer as v; assert v.SCRIPT.is_relative_to(v.Path(v.__file__).parent), v.SCRIPT; "
            "page = v.to_html({'model': 'm', 'format': v.FORMAT, 'examples': []}); "
            "assert 'document$' in page and 'lama-attention' in page; print(v.__file__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == str(site / "lama" / "viewer.py")
    # the book's trained models stay in the source checkout: an installed lama says so in one line
    viz = subprocess.run([sys.executable, "-m", "lama.viz", "--model", "classifier", "--text", "()", "--out",
                          str(tmp_path / "view.html")], capture_output=True, text=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site)})
    assert viz.returncode == 2 and len(viz.stderr.strip().splitlines()) == 1 and "--weights" in viz.stderr, viz.stderr
