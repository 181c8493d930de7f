# Generated from docs/cli.md by tools/tangle.py. Do not edit: change the chapter.
"""What every `python -m lama.…` command shares: one-line errors with exit status 2, options
built from a configuration dataclass, the recorded command line, and atomic file writes."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import tempfile
import types
import typing
from pathlib import Path
from typing import Any, Callable


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def fail(prog: str, message: str) -> int:
    """Report a mistake found after parsing (a missing file, a bad checkpoint) in the same one-line
    form, and return the exit status 2 for main() to return."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2

def _option_type(hint: Any) -> Any:
    """The type an option converts its text to, from a field's annotation: int for `int` and for
    `int | None`, bool for `bool`."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        kinds = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(kinds) != 1:
            raise TypeError(f"cannot make an option of type {hint}")
        return kinds[0]
    return hint


def add_config_options(parser: argparse.ArgumentParser, cls: type, *, exclude: tuple = (),
                       aliases: dict[str, str] | None = None) -> None:
    """Add one --field-name option per field of the dataclass cls, except those in exclude.
    aliases maps a field to an extra spelling, e.g. {"weight_decay": "--wd"}."""
    hints = typing.get_type_hints(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.init:
            continue
        names = [f"--{f.name.replace('_', '-')}"]
        if aliases and f.name in aliases:
            names.append(aliases[f.name])
        kind, default = _option_type(hints[f.name]), getattr(defaults, f.name)
        help_text = f.metadata.get("help", f.name.replace("_", " ")) + " (default: %(default)s)"
        if kind is bool:
            parser.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=default, help=help_text)
        else:
            parser.add_argument(*names, dest=f.name, type=kind, default=default, help=help_text,
                                metavar=f.name.upper())


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace, cls: type,
                     **overrides: Any) -> Any:
    """cls built from the parsed options of its fields (and overrides). The configuration checks
    itself; its ValueError becomes the parser's one-line error."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
              if f.init and hasattr(args, f.name)}
    try:
        return cls(**{**values, **overrides})
    except ValueError as e:
        parser.error(str(e))

def recorded_command(prog: str, argv: list[str] | None = None) -> str:
    """The command line that ran: prog ("python -m lama.x") and the arguments, shell-quoted.
    argv None means this process's own arguments."""
    return " ".join([prog, *map(shlex.quote, sys.argv[1:] if argv is None else argv)])

def atomic_save(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call write(tmp) to write a temporary file beside path, then rename it to path: path is the
    old file or the new one, never half of one. For writers that take a file name (safe_save)."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))   # mkstemp makes 0600; keep the usual permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _new_file_mode(path: Path) -> int:
    """The permissions path keeps, or has as a new file: 0666 less the process's umask."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to path atomically."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return atomic_save(path, lambda tmp: tmp.write_bytes(raw))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write obj as indented JSON (one trailing newline) to path atomically."""
    return atomic_write(path, json.dumps(obj, indent=1) + "\n")
