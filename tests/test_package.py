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
    assert any(d.replace(" ", "").startswith("tinygrad==0.14.0") for d in deps)
