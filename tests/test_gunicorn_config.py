"""`make run` serves through gunicorn.conf.py, which keeps gunicorn from naming itself (finding S15)."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

GUNICORN = Path(sys.executable).with_name("gunicorn")


def server_header(project_root: Path, tmp_path: Path, config: Path) -> str | None:
    """Start gunicorn with this config file on a free port, and the Server header of one response."""
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": "a-test-secret-that-is-long-enough-for-the-check",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    command = [str(GUNICORN), "--config", str(config), "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"]
    server = subprocess.Popen(command, cwd=project_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/accessibility")
                response = connection.getresponse()
                response.read()
                connection.close()
                return response.getheader("Server")
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else "gunicorn stopped"
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this environment")
def test_the_run_config_sends_no_server_header(project_root, tmp_path):
    plain = tmp_path / "plain.conf.py"
    plain.write_text("")
    assert server_header(project_root, tmp_path, plain) == "gunicorn"  # what gunicorn does by itself
    assert server_header(project_root, tmp_path, project_root / "gunicorn.conf.py") is None


def test_make_run_uses_the_config(project_root):
    run = [line for line in (project_root / "Makefile").read_text().splitlines() if "bin/gunicorn" in line]
    assert run and all("--config gunicorn.conf.py" in line for line in run)
