"""`make run`'s server starts quietly: the development-key warning once, with what to do, and none
of kombu's "No hostname was supplied", Django's "StreamingHttpResponse must consume synchronous
iterators" for static files under ASGI, or a logged 404 for /favicon.ico.

Starts the real ``manage.py run_embedded`` (uvicorn + Celery worker + beat in one process) in a
subprocess, embedded mode, in a temp OCX_VAR_DIR; the full minute of beat on a migrated database
is scripts/ci/runtime_smoke.sh's job."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUIET = [
    "No hostname was supplied",
    "StreamingHttpResponse must consume",
    "Not Found: /favicon.ico",
    "System check identified",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,), {
        "redirect_request": lambda self, *args, **kwargs: None})())  # fmt: skip
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:  # the 301 of /favicon.ico, not followed
        return exc.code, b""


@pytest.fixture
def embedded_output(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "OCX_SECRET_KEY"}}
    env.update(DJANGO_SETTINGS_MODULE="ocx.settings", OCX_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_embedded", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while "Uvicorn running" not in log.read_text():  # a subprocess's start: nothing to await but its log
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        answers = {
            path: _get(base + path)
            for path in ("/static/admin/css/base.css", "/static/ocx/dashboard.css", "/favicon.ico")
        }
        answers["HEAD /static/ocx/dashboard.css"] = _get(base + "/static/ocx/dashboard.css", method="HEAD")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return answers, log.read_text()


def test_embedded_start_up_prints_the_dev_key_warning_once_and_none_of_the_noise(embedded_output):
    answers, output = embedded_output

    # static files are served whole, streamed asynchronously under ASGI (and HEAD without a body)
    assert answers["/static/admin/css/base.css"][0] == 200
    assert answers["/static/ocx/dashboard.css"] == (200, (ROOT / "static/ocx/dashboard.css").read_bytes())
    assert answers["HEAD /static/ocx/dashboard.css"] == (200, b"")
    assert answers["/favicon.ico"][0] in {204, 301}
    assert output.count("OCX_SECRET_KEY is not set") == 1, output
    assert "set OCX_SECRET_KEY" in output
    for noise in QUIET:
        assert noise not in output, output
    assert "stopped." in output
