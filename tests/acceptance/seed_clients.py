"""Run the seed documents' own example code (curl, Python, Node, Go, Ruby) against a real server.

The snippets are cut out of the seed documents (``$DLSERVE_SEEDS_DIR/*.txt``, by default
``../shared/seeds`` beside the repository) as they are; only the host, the path id and
the credentials are substituted, as a user would. The server speaks HTTPS with a throw-away
certificate so that snippets written for ``https://`` (Ruby's ``use_ssl = true``) run unchanged;
each client is told to trust it through its usual environment variable.

Without the seed documents (a fresh clone alone) the tests that need them skip with a one-line
reason; under ``CI=true`` a missing seeds directory fails them instead, so CI cannot pass by
silently running less.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DATAFINITI = "https://api.datafiniti.co"
LANGUAGES = ("curl", "python", "node", "go", "ruby")
_STARTS = {
    "curl": "curl -X",
    "python": "import requests",
    "node": "const response",
    "go": "package main",
    "ruby": "require 'net/http'",
}


def seeds_dir() -> Path:
    """``DLSERVE_SEEDS_DIR``, else ``../shared/seeds`` relative to the repository root."""
    configured = os.environ.get("DLSERVE_SEEDS_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "seeds"


def require_seeds() -> Path:
    """The seeds directory; skips the calling test when it is absent (fails it under ``CI=true``)."""
    directory = seeds_dir()
    if not directory.is_dir():
        reason = f"seed documents not found at {directory} (set DLSERVE_SEEDS_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return directory


def seed_path(prefix: str) -> Path:
    directory = require_seeds()
    matches = sorted(directory.glob(f"{prefix}_*.txt"))
    if not matches:
        raise FileNotFoundError(f"no seed {prefix}_*.txt in {directory}")
    return matches[0]


def snippets(seed: Path) -> dict[str, str]:
    """The five example programs of a seed document, in the order the document gives them."""
    lines = seed.read_text(encoding="utf-8").splitlines()
    starts = {
        lang: next(i for i, line in enumerate(lines) if line.startswith(marker))
        for lang, marker in _STARTS.items()
    }
    order = sorted(starts, key=starts.__getitem__)
    found: dict[str, str] = {}
    for index, lang in enumerate(order):
        begin = starts[lang]
        end = starts[order[index + 1]] if index + 1 < len(order) else len(lines)
        body = lines[begin:end]
        if lang == order[-1]:  # the last snippet runs until the example response starts
            body = body[: next(i for i, line in enumerate(body) if line.startswith(("{", "[")))]
        found[lang] = "\n".join(body) + "\n"
    return found


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass(frozen=True)
class ClientRun:
    language: str
    returncode: int
    stdout: str
    stderr: str


def run_snippet(language: str, code: str, cert: Path, workdir: Path) -> ClientRun:
    env = {
        **os.environ,
        "CURL_CA_BUNDLE": str(cert),
        "REQUESTS_CA_BUNDLE": str(cert),
        "NODE_EXTRA_CA_CERTS": str(cert),
        "SSL_CERT_FILE": str(cert),  # Go and Ruby (OpenSSL) both honour it
    }
    folder = Path(tempfile.mkdtemp(prefix=f"{language}-", dir=workdir))
    if language == "curl":
        command = ["bash", "-c", code]
    elif language == "python":
        (folder / "client.py").write_text(code, encoding="utf-8")
        command = [sys.executable, "client.py"]
    elif language == "node":
        (folder / "client.mjs").write_text(code, encoding="utf-8")  # top-level await: an ES module
        command = ["node", "client.mjs"]
    elif language == "go":
        (folder / "main.go").write_text(code, encoding="utf-8")
        command = ["go", "run", "main.go"]
    else:
        (folder / "client.rb").write_text(code, encoding="utf-8")
        command = ["ruby", "client.rb"]
    done = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    return ClientRun(language, done.returncode, done.stdout, done.stderr)
