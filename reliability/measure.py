"""What the harness measures beside the answers, while a scenario runs: the resident memory of gunicorn's workers
(VmRSS in /proc, Linux) and the latency of /healthz in the same run, the yardstick for the other requests' p95.

Both sample in a thread of their own, from `with` to the end of the block.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType

from .client import Browser, ConnectionLost, Recorder
from .servers import Gunicorn

MIB = 1024 * 1024


def rss_bytes(pid: int) -> int | None:
    """A process's resident set size, from /proc/PID/status; None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class _Sampling:
    """A thread that calls `sample()` every `every` seconds until the `with` block ends."""

    every = 0.2

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()


class Memory(_Sampling):
    """The workers' RSS: every worker's peak, and the sum over the workers at each moment. Sampled every 50 ms: an
    argon2 hash holds its 64 MiB for a few hundred milliseconds."""

    every = 0.05

    def __init__(self, server: Gunicorn) -> None:
        super().__init__()
        self.server = server
        self.samples: list[tuple[float, dict[int, int]]] = []  # (time.monotonic(), {worker pid: bytes})

    def sample(self) -> None:
        found = {pid: rss for pid in self.server.worker_pids() if (rss := rss_bytes(pid)) is not None}
        if found:
            self.samples.append((time.monotonic(), found))

    def peak_worker(self) -> int:
        return max((max(found.values()) for _at, found in self.samples), default=0)

    def peak_total(self, between: tuple[float, float] | None = None) -> int:
        chosen = [found for at, found in self.samples if between is None or between[0] <= at < between[1]]
        return max((sum(found.values()) for found in chosen), default=0)


class Health(_Sampling):
    """GET /healthz every half second, recorded on its own: how long the plainest request takes in this run, on
    this machine, under this load (it waits in the same queue for a worker as every other request)."""

    every = 0.5

    def __init__(self, server: Gunicorn) -> None:
        super().__init__()
        self.recorder = Recorder()
        self.browser = Browser(server.port, self.recorder)

    def sample(self) -> None:
        try:
            self.browser.get("/healthz")
        except ConnectionLost:
            self.recorder.connection_lost()


def mib(size: int) -> str:
    return f"{size / MIB:.0f} MiB"
