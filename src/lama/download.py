# Generated from docs/files.md by tools/tangle.py. Do not edit: change the chapter.
"""Files fetched once into a data directory, verified by their SHA-256, and never left half-written:

    path = fetch("tinyshakespeare/input.txt", url, sha256)   # downloads only if not there yet

A failed or damaged download raises DataError (an OSError) with one line that says what to do.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from lama.cli import atomic_save

class DataError(OSError):
    """A data file is missing, could not be downloaded, or is not the file it should be.
    The message says which file and what to do."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: `data_dir` if given, else $LAMA_DATA_DIR if set, else
    ~/.cache/lama/data."""
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get("LAMA_DATA_DIR"):
        return Path(os.environ["LAMA_DATA_DIR"])
    return Path.home() / ".cache" / "lama" / "data"

def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _receive(url: str, tmp: Path, dest: Path, sha256: str, timeout: float,
             progress: bool) -> None:
    """Write the body of `url` into `tmp`; raise DataError unless it is complete and its
    SHA-256 is `sha256`."""
    digest, received, expected = hashlib.sha256(), 0, None
    with open(tmp, "wb") as f:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                if response.headers.get("Content-Length"):
                    expected = int(response.headers["Content-Length"])
                while chunk := response.read(1 << 16):
                    f.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if progress:
                        total = f" / {expected / 1024:,.0f}" if expected else ""
                        print(f"\rdownloading {url}: {received / 1024:,.0f}{total} KiB", end="",
                              file=sys.stderr)
        except (OSError, http.client.HTTPException) as e:  # URLError, HTTPError, timeouts, resets
            reason = e if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", None) or e
            raise DataError(f"could not download {url} ({reason}): check your connection and the "
                            f"URL, or put the file at {dest} yourself (or set LAMA_DATA_DIR to a "
                            f"folder that has it)") from e
        finally:
            if progress and received:
                print(file=sys.stderr)
    if expected is not None and received != expected:
        raise DataError(f"the download of {url} was cut short ({received:,} of {expected:,} "
                        f"bytes): run again to retry")
    if digest.hexdigest() != sha256:
        raise DataError(f"{url} sent {received:,} bytes with sha256 {digest.hexdigest()}, "
                        f"expected {sha256}: the download is corrupted or the file has changed; "
                        f"run again to retry")


def download(url: str, dest: str | os.PathLike, sha256: str, timeout: float = 30.0,
             progress: bool = True) -> Path:
    """Download `url` to `dest`, atomically: the bytes go to a temporary file beside `dest`, which
    is renamed to `dest` only when its length and SHA-256 are right. Raises DataError otherwise,
    and leaves no partial file behind. Progress goes to stderr."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return atomic_save(dest, lambda tmp: _receive(url, tmp, dest, sha256, timeout, progress))

def fetch(relpath: str, url: str, sha256: str, data_dir: str | os.PathLike | None = None,
          progress: bool = True) -> Path:
    """The path of data file `relpath` inside the data directory, downloaded from `url` first if it
    is not there. Either way its SHA-256 must equal `sha256`, or DataError says what to do."""
    path = resolve_data_dir(data_dir) / relpath
    if not path.exists():
        return download(url, path, sha256, progress=progress)
    if (found := sha256_file(path)) != sha256:
        raise DataError(f"{path} has sha256 {found}, expected {sha256}: it is not the right file; "
                        f"delete it to download it again")
    return path
