"""lama.download: the checked, atomic download against a local HTTP server on 127.0.0.1, the
cache that is verified on every use, and the data directory; and tiny Shakespeare through it."""
import hashlib
import http.server
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lama.data
from lama.data import SHAKESPEARE_BYTES, SHAKESPEARE_FILE, SHAKESPEARE_SHA256, tiny_shakespeare
from lama.download import DataError, download, fetch, resolve_data_dir

PAYLOAD = bytes(np.random.default_rng(0).integers(0, 256, size=300_000, dtype=np.uint8))
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


def shakespeare_dir() -> Path | None:
    """The folder with the real tiny Shakespeare, when LAMA_DATA_DIR points at one (CI does)."""
    root = os.environ.get("LAMA_DATA_DIR")
    return Path(root) if root and (Path(root) / SHAKESPEARE_FILE).is_file() else None


needs_shakespeare = pytest.mark.skipif(
    shakespeare_dir() is None,
    reason="needs the real tiny Shakespeare: set LAMA_DATA_DIR to a folder with "
           "tinyshakespeare/input.txt (CI uses ../shared/data)")


class Server:
    """An HTTP server on 127.0.0.1 at a random port, serving `routes`: path -> (body, header length,
    status). A header length larger than the body simulates a connection cut short."""

    def __init__(self):
        self.routes: dict[str, tuple[bytes, int | None, int]] = {}
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                body, length, status = server.routes.get(self.path, (b"not found", None, 404))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/input.txt"


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_download_writes_the_file_and_reports_progress_on_stderr(server, tmp_path, capsys):
    server.routes["/input.txt"] = (PAYLOAD, None, 200)
    dest = tmp_path / "sub" / "input.txt"
    assert download(server.url("/input.txt"), dest, PAYLOAD_SHA256) == dest
    assert dest.read_bytes() == PAYLOAD
    assert files_in(tmp_path) == ["sub/input.txt"]                    # no temporary file left
    out, err = capsys.readouterr()
    assert out == "" and "downloading" in err and "293 / 293 KiB" in err


# case: (what the server sends at /input.txt: body, announced length; what the error says)
FAILURES = {
    "truncated": ((PAYLOAD[:100_000], len(PAYLOAD)), r"cut short \(100,000 of 300,000 bytes\)"),
    "corrupted": ((PAYLOAD[:1234] + bytes([PAYLOAD[1234] ^ 1]) + PAYLOAD[1235:], None), "corrupted"),
    "wrong file": ((b"<html>a proxy's error page</html>", None), "corrupted"),
    "not found": (None, "HTTP Error 404"),
    "no server": (None, "check your connection"),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failed_download_raises_a_clear_error_and_leaves_nothing(server, tmp_path, case):
    response, message = FAILURES[case]
    if response is not None:
        server.routes["/input.txt"] = (*response, 200)
    url = dead_url() if case == "no server" else server.url("/input.txt")
    dest = tmp_path / "data" / "input.txt"
    with pytest.raises(DataError, match=message) as info:
        download(url, dest, PAYLOAD_SHA256, progress=False)
    assert isinstance(info.value, OSError)
    assert "\n" not in str(info.value)                                 # one line
    assert files_in(tmp_path) == []                                    # no partial, no temporary file


def test_fetch_downloads_once_then_reuses_the_verified_file(server, tmp_path):
    server.routes["/input.txt"] = (PAYLOAD, None, 200)
    url = server.url("/input.txt")
    path = fetch("corpus/input.txt", url, PAYLOAD_SHA256, tmp_path, progress=False)
    assert path == tmp_path / "corpus" / "input.txt" and path.read_bytes() == PAYLOAD
    assert server.hits == ["/input.txt"]
    # the second time no request is made: even an unreachable URL works
    assert fetch("corpus/input.txt", dead_url(), PAYLOAD_SHA256, tmp_path, progress=False) == path
    assert server.hits == ["/input.txt"]


def test_fetch_refuses_a_cached_file_with_the_wrong_checksum(tmp_path):
    path = tmp_path / "corpus" / "input.txt"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD[:-1])
    with pytest.raises(DataError, match="delete it to download it again"):
        fetch("corpus/input.txt", dead_url(), PAYLOAD_SHA256, tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD[:-1]                            # not ours to delete


def test_the_data_directory_defaults_and_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("LAMA_DATA_DIR", raising=False)
    assert resolve_data_dir() == Path.home() / ".cache" / "lama" / "data"
    monkeypatch.setenv("LAMA_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert resolve_data_dir(tmp_path / "explicit") == tmp_path / "explicit"   # an argument wins


def test_lama_data_dir_is_used_and_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("LAMA_DATA_DIR", str(tmp_path))
    path = tmp_path / "corpus" / "input.txt"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    assert fetch("corpus/input.txt", dead_url(), PAYLOAD_SHA256, progress=False) == path
    path.write_bytes(PAYLOAD[::-1])                                     # same size, wrong bytes
    with pytest.raises(DataError, match=str(path).replace("\\", "\\\\")):
        fetch("corpus/input.txt", dead_url(), PAYLOAD_SHA256, progress=False)


@needs_shakespeare
def test_tiny_shakespeare_downloads_from_a_configurable_url(server, tmp_path):
    real = (shakespeare_dir() / SHAKESPEARE_FILE).read_bytes()
    server.routes["/tinyshakespeare.txt"] = (real, None, 200)
    text = tiny_shakespeare(tmp_path, url=server.url("/tinyshakespeare.txt"), progress=False)
    assert len(text) == SHAKESPEARE_BYTES
    assert files_in(tmp_path) == [SHAKESPEARE_FILE]
    assert hashlib.sha256((tmp_path / SHAKESPEARE_FILE).read_bytes()).hexdigest() \
        == SHAKESPEARE_SHA256


def test_lama_data_keeps_the_names_its_callers_use():
    assert lama.data.DataError is DataError and issubclass(DataError, OSError)
    assert lama.data.resolve_data_dir is resolve_data_dir


def test_an_interrupted_download_leaves_neither_the_file_nor_a_temporary_one(
        server, tmp_path, monkeypatch):
    """Ctrl-C in the middle of the transfer (here: while the first progress line is printed)."""
    server.routes["/input.txt"] = (PAYLOAD, None, 200)

    class Interrupting:
        def write(self, text):
            raise KeyboardInterrupt

        def flush(self):
            pass

    monkeypatch.setattr("sys.stderr", Interrupting())
    with pytest.raises(KeyboardInterrupt):
        download(server.url("/input.txt"), tmp_path / "input.txt", PAYLOAD_SHA256)
    assert files_in(tmp_path) == []
