"""The same data set over HTTP: gunicorn on a free port, a few concurrent clients (threads + http.client).

- Latency: each client signs in as its own partner. Page by page (partner home, outputs, return overview, and
  the CSU overview with the CSU's session), bursts of every client asking for /healthz alternate with bursts of
  every client asking for the page (twice each); the page's p95 is set against /healthz's, at the same
  concurrency.
- Throughput: windows of a few seconds, alternately every client asking for /healthz and every client autosaving
  its own draft (the outputs form's htmx POST); autosaves a second against healthz a second.
- First page: the sign-in page as a new visitor gets it (HTML, stylesheets, scripts, icons), in bytes on the wire
  without compression and with gzip: the server's own encoding where it sends one, otherwise compressed here at
  level 6, as a reverse proxy would (the app itself does not compress HTML: BREACH).
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from .build import BenchData, bench_config
from .pages import SAVED_VERSION, p95, section_form

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.environ.get("BENCH_VENV_BIN", str(ROOT / ".venv" / "bin")))
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# What a JavaScript module loads in turn (init.js imports GOV.UK Frontend's module).
IMPORTS = re.compile(r"""(?:\bfrom|^import)\s*["']([^"']+)["']""", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Gunicorn:
    """`gunicorn wsgi:app` from the project folder (so gunicorn.conf.py applies) on the bench database."""

    def __init__(self, data: BenchData, folder: Path, workers: int) -> None:
        self.port, self.workers, self.log = free_port(), workers, folder / "gunicorn.log"
        self.env = {k: v for k, v in os.environ.items() if k not in ("FLASK_DEBUG", "FLASK_ENV", "DEMO_PASSWORD")}
        self.env.update(
            DATABASE_URL=data.url,
            SECRET_KEY=bench_config(data.url)["SECRET_KEY"],
            PORTAL_INSTANCE_PATH=str(folder / "instance"),
            MFA_REQUIRED_ROLES="none",
        )
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        command = [str(VENV_BIN / "gunicorn"), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", str(self.workers), "--no-control-socket", "wsgi:app"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            if Client(self.port).get("/healthz").status == 200:
                return self
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def __exit__(self, *_exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Client:
    """One browser: its cookies, a new connection a request (as the reliability harness does)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> Answer:
        sent = {"Host": f"127.0.0.1:{self.port}", "User-Agent": "portal-bench"}
        body = urlencode(data) if data is not None else None
        if body is not None:
            sent |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://127.0.0.1:{self.port}",
                "Sec-Fetch-Site": "same-origin",
            }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        sent |= headers or {}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=sent)
            raw = connection.getresponse()
            content = raw.read()
        except (OSError, http.client.HTTPException):
            # No answer (refused, reset, a worker killed at its timeout): status 0, counted as not answered.
            return Answer(0, {}, b"", time.perf_counter() - started)
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        for name, value in raw.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.partition(";")[0]
        return Answer(raw.status, {k.lower(): v for k, v in raw.getheaders()}, content, seconds)

    def get(self, path: str, headers: dict | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: dict, headers: dict | None = None) -> Answer:
        return self.request("POST", path, data, headers)


def sign_in(port: int, email: str, password: str) -> Client:
    client = Client(port)
    page = client.get("/sign-in")
    token = CSRF.search(page.text)
    if token is None:
        raise RuntimeError(f"no CSRF token on the sign-in page (status {page.status})")
    answer = client.post("/sign-in", {"csrf_token": token.group(1), "email": email, "password": password})
    if answer.status != 302:
        raise RuntimeError(f"signing in {email} answered {answer.status}")
    return client


# -- latency ------------------------------------------------------------------------------------------


def latency(port: int, data: BenchData, partners: list[Client], csu: Client, rounds: int) -> list[dict]:
    """Each page in its own phase: every client asks for /healthz, then every client for the page, and again; the
    page's p95 is set against the p95 of that phase's /healthz, both at the same concurrency."""
    kinds = {
        "partner home": lambda index: (partners[index], f"/partner/{data.current_year}/"),
        "partner outputs": lambda index: (
            partners[index],
            _own(data, index, data.autosavers[index]["quarter"]) + "outputs",
        ),
        "partner return overview": lambda index: (partners[index], _own(data, index, data.overview_quarter)),
        "CSU overview": lambda index: (Client(port, dict(csu.cookies)), f"/csu/{data.busy_year}/"),
    }
    return [_phase(port, name, ask, len(partners), rounds) for name, ask in kinds.items()]


def _own(data: BenchData, index: int, quarter: int) -> str:
    return f"/partner/projects/{data.autosavers[index]['project']}/q{quarter}/"


def _phase(port: int, name: str, ask: Callable[[int], tuple[Client, str]], clients: int, rounds: int) -> dict:
    page: list[float] = []
    health: list[float] = []
    statuses: set[int] = set()
    lock = threading.Lock()

    def healthz_burst(_index: int) -> None:
        beat_client = Client(port)
        for _ in range(half):
            beat = beat_client.get("/healthz")
            with lock:
                health.append(beat.seconds)

    def page_burst(index: int) -> None:
        client, path = ask(index)
        for _ in range(half):
            answer = client.get(path)
            with lock:
                statuses.add(answer.status)
                if answer.status:
                    page.append(answer.seconds)

    # /healthz and the page alternately, every client at once: each p95 is taken at the same concurrency, and
    # neither waits in the queue behind the other.
    half = max(1, rounds // 2)
    for _ in range(2):
        _together(healthz_burst, clients)
        _together(page_burst, clients)
    if not page:
        return {"name": name, "statuses": sorted(statuses), "requests": 0}
    return {
        "name": name,
        "statuses": sorted(statuses),
        "median_ms": round(statistics.median(page) * 1000, 1),
        "p95_ms": round(p95(page) * 1000, 1),
        "healthz_p95_ms": round(p95(health) * 1000, 1),
        "ratio_p95": round(p95(page) / p95(health), 1),
        "requests": len(page),
    }


def _together(work: Callable[[int], None], count: int) -> None:
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            work(index)
        except BaseException as error:  # reported after every thread has finished
            failures.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


# -- throughput ---------------------------------------------------------------------------------------


class Saver:
    """One partner autosaving its own draft, as htmx would, moving on to each saved version."""

    def __init__(self, client: Client, path: str) -> None:
        self.client, self.path = client, path
        self.form = section_form(client.get(path).text)
        self.measure = next(name for name in self.form if re.fullmatch(r"m\d+", name))
        self.turn = 0

    def save(self) -> bool:
        self.turn += 1
        body = {**self.form, self.measure: str(10 + self.turn % 7), "autosave": "1"}
        answer = self.client.post(self.path, body, {"HX-Request": "true", "X-CSRFToken": self.form["csrf_token"]})
        if found := SAVED_VERSION.search(answer.text):
            self.form["version"] = found.group(1)
        return answer.status == 200


def throughput(port: int, savers: list[Saver], window: float, rounds: int) -> dict:
    """Requests a second: every client asking for /healthz, then every client autosaving, `rounds` times."""
    done = {"healthz": 0, "autosave": 0, "failed": 0, "healthz_seconds": 0.0, "autosave_seconds": 0.0}
    lock = threading.Lock()

    def burst(kind: str) -> None:
        stop = time.perf_counter() + window

        def loop(index: int) -> None:
            health = Client(port)
            while time.perf_counter() < stop:
                ok = health.get("/healthz").status == 200 if kind == "healthz" else savers[index].save()
                with lock:
                    done[kind if ok else "failed"] += 1

        started = time.perf_counter()
        _together(loop, len(savers))
        done[f"{kind}_seconds"] += time.perf_counter() - started

    for _ in range(rounds):
        burst("healthz")
        burst("autosave")
    healthz = done["healthz"] / done["healthz_seconds"]
    autosave = done["autosave"] / done["autosave_seconds"]
    return {
        "clients": len(savers),
        "healthz_per_s": round(healthz, 1),
        "autosave_per_s": round(autosave, 1),
        "share": round(autosave / healthz, 3),
        "autosaves": done["autosave"],
        "failed": done["failed"],
    }


# -- the first page -----------------------------------------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        rel = attributes.get("rel", "")
        if (tag == "link" and ("stylesheet" in rel or "icon" in rel)) or tag in ("script", "img"):
            target = attributes.get("href") if tag == "link" else attributes.get("src")
            if target and not urlsplit(target).netloc:
                self.paths.append(target)


def first_page(port: int) -> dict:
    """The sign-in page and what it loads, as a first visit fetches them: bytes without and with gzip."""
    plain, squeezed = Client(port).get("/sign-in"), Client(port).get("/sign-in", {"Accept-Encoding": "gzip"})
    parser = _Assets()
    parser.feed(plain.text)
    rows = [("/sign-in", plain, squeezed)]
    queue, seen = list(parser.paths), set()
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        raw = Client(port).get(path)
        if raw.status != 200:
            continue
        rows.append((path, raw, Client(port).get(path, {"Accept-Encoding": "gzip"})))
        if path.endswith(".js"):
            queue += [urljoin(path, found) for found in IMPORTS.findall(raw.text)]
    items, identity, with_gzip = [], 0, 0
    for path, raw, packed in rows:
        served_gzip = packed.headers.get("content-encoding") == "gzip"
        wire = len(packed.body) if served_gzip else len(gzip.compress(raw.body, 6))
        identity += len(raw.body)
        with_gzip += wire
        items.append({"path": path, "bytes": len(raw.body), "gzip_bytes": wire, "served_gzip": served_gzip})
    return {"identity_bytes": identity, "gzip_bytes": with_gzip, "items": items}


# -- the raw throughput baseline (RELIABILITY L7) ------------------------------------------------------

WRK_REQUESTS = re.compile(r"Requests/sec:\s+([0-9.]+)")
WRK_TOTAL = re.compile(r"([0-9]+) requests in ([0-9.]+)(m?s)")
WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def wrk_baseline(port: int, seconds: int) -> dict:
    """`wrk -t2 -c50 -d<seconds>s` against the sign-in page, as the bar's L7 asks: capacity and no errors.
    Skipped, with the reason, when wrk is not installed (`make bench` installs Debian's where it can)."""
    wrk = shutil.which("wrk")
    if wrk is None or seconds <= 0:
        return {"skipped": "wrk is not installed" if wrk is None else "not asked for"}
    command = [wrk, "-t2", "-c50", f"-d{seconds}s", f"http://127.0.0.1:{port}/sign-in"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout  # noqa: S603
    rate, total, errors = WRK_REQUESTS.search(out), WRK_TOTAL.search(out), WRK_ERRORS.search(out)
    non_2xx = WRK_NON_2XX.search(out)
    return {
        "command": " ".join(["wrk", *command[1:]]),
        "requests_per_s": float(rate.group(1)) if rate else None,
        "requests": int(total.group(1)) if total else None,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "non_2xx_3xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


# -- all of it ----------------------------------------------------------------------------------------


def run_http(
    data: BenchData,
    folder: Path,
    *,
    clients: int,
    rounds: int,
    window: float,
    echo=print,
    workers: int = 2,
    wrk_seconds: int = 30,
) -> dict:
    clients = max(1, min(clients, len(data.autosavers)))
    with Gunicorn(data, folder, workers) as server:
        port = server.port
        partners = [sign_in(port, saver["email"], data.password) for saver in data.autosavers[:clients]]
        csu = sign_in(port, data.emails["csu"], data.password)
        echo(f"  gunicorn on port {port}, {workers} workers, {clients} clients signed in")
        pages = latency(port, data, partners, csu, rounds)
        for row in pages:
            echo(f"  {row['name']:<28} p95 {row.get('p95_ms')} ms  × healthz p95 {row.get('ratio_p95')}")
        savers = [
            Saver(partner, f"/partner/projects/{saver['project']}/q{saver['quarter']}/outputs")
            for partner, saver in zip(partners, data.autosavers, strict=False)
        ]
        rates = throughput(port, savers, window, max(1, rounds // 4))
        echo(f"  autosave {rates['autosave_per_s']}/s against healthz {rates['healthz_per_s']}/s")
        first = first_page(port)
        echo(f"  first page {first['identity_bytes']:,} bytes, {first['gzip_bytes']:,} with gzip")
        baseline = wrk_baseline(port, wrk_seconds)
        echo(f"  wrk baseline: {baseline}")
    return {
        "workers": workers,
        "clients": clients,
        "pages": pages,
        "throughput": rates,
        "first_page": first,
        "wrk": baseline,
    }
