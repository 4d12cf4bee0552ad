"""A small browser: one cookie jar, the forms of the last page, and every request's status and time recorded.

Standard library only (http.client and html.parser): the harness needs no package the portal does not.
Redirects are not followed, so each response's status is seen; the caller follows them as a browser would.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

TIMEOUT_SECONDS = 60.0
# An htmx response's out-of-band version input: the form moves on to the saved version.
OOB_VERSION = re.compile(r'name="version" value="(\d+)"')


class ConnectionLost(Exception):
    """No HTTP answer at all: the connection was refused, reset or closed (a killed worker)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str
    seconds: float

    @property
    def location(self) -> str:
        return urlsplit(self.headers.get("location", "")).path


@dataclass
class Recorder:
    """Every answered request of a scenario: its status and how long it took. Thread-safe."""

    statuses: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)  # time.monotonic() when each answer came
    lost_connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, response: Response) -> None:
        with self.lock:
            self.statuses.append(response.status)
            self.seconds.append(response.seconds)
            self.answered_at.append(time.monotonic())

    def connection_lost(self) -> None:
        with self.lock:
            self.lost_connections += 1

    @property
    def server_errors(self) -> int:
        return sum(1 for status in self.statuses if status >= 500)

    def percentile(self, share: float, between: tuple[float, float] | None = None) -> float | None:
        """The share-th latency, of every answer or of those that came between two time.monotonic() moments."""
        with self.lock:
            pairs = list(zip(self.answered_at, self.seconds, strict=True))
        chosen = [seconds for at, seconds in pairs if between is None or between[0] <= at < between[1]]
        if not chosen:
            return None
        ordered = sorted(chosen)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class _Forms(HTMLParser):
    """Every <form> of a page: its action and the values a browser would send (submit buttons aside)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": attributes.get("action", ""), "fields": {}, "radios": {}})
        elif not self.forms:
            return
        elif tag == "input" and attributes.get("name"):
            kind = attributes.get("type", "text")
            name = attributes["name"]
            if kind == "radio":
                self.forms[-1]["radios"].setdefault(name, []).append(attributes.get("value", ""))
                if "checked" in attributes:
                    self.forms[-1]["fields"][name] = attributes.get("value", "")
            elif kind not in ("submit", "button", "checkbox"):
                self.forms[-1]["fields"][name] = attributes.get("value", "")
        elif tag == "textarea" and attributes.get("name"):
            self._textarea = attributes["name"]
            self.forms[-1]["fields"][self._textarea] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None


def forms_of(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form_with(html: str, field_name: str) -> dict:
    """The page's form holding a field of this name (the sign-out form in the header also holds a token)."""
    for form in forms_of(html):
        if field_name in form["fields"] or field_name in form["radios"]:
            return form
    raise AssertionError(f"no form with a field {field_name!r} on the page")


class Browser:
    """One person's browser on one server (host:port): cookies kept across requests, redirects not followed."""

    def __init__(self, port: int, recorder: Recorder, host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self.recorder = recorder
        self.cookies: dict[str, str] = {}
        self.lock = threading.Lock()

    def on(self, port: int) -> Browser:
        """The same browser (same cookies) talking to another server: a second app instance."""
        other = Browser(port, self.recorder, self.host)
        other.cookies = self.cookies
        return other

    def _cookie_header(self) -> str:
        with self.lock:
            return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def _keep_cookies(self, headers: list[tuple[str, str]]) -> None:
        with self.lock:
            for name, value in headers:
                if name.lower() != "set-cookie":
                    continue
                pair, _, attributes = value.partition(";")
                key, _, content = pair.strip().partition("=")
                expired = "max-age=0" in attributes.lower().replace(" ", "") or "1970" in attributes
                if expired:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = content

    def request(
        self,
        method: str,
        path: str,
        data: dict | None = None,
        headers: dict | None = None,
        *,
        on_sent: Callable[[int], None] | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> Response:
        """One request; `on_sent(local_port)` runs once it is sent and before the answer is read."""
        body = urlencode(data or {}, doseq=True) if data is not None else None
        sent = {"Host": f"{self.host}:{self.port}", "User-Agent": "portal-reliability-harness"}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            # The browser's own same-origin marks, as Chromium sends them on a form post.
            sent["Origin"] = f"http://{self.host}:{self.port}"
            sent["Sec-Fetch-Site"] = "same-origin"
        if cookie := self._cookie_header():
            sent["Cookie"] = cookie
        sent.update(headers or {})
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=sent)
            if on_sent is not None and connection.sock is not None:
                on_sent(connection.sock.getsockname()[1])
            raw = connection.getresponse()
            content = raw.read().decode("utf-8", "replace")
        except (ConnectionError, http.client.HTTPException, TimeoutError, OSError) as error:
            self.recorder.connection_lost()
            raise ConnectionLost(f"{method} {path}: {error.__class__.__name__}") from error
        finally:
            connection.close()
        response = Response(
            raw.status, {k.lower(): v for k, v in raw.getheaders()}, content, time.perf_counter() - started
        )
        self._keep_cookies(raw.getheaders())
        self.recorder.add(response)
        return response

    def get(self, path: str, headers: dict | None = None, **options) -> Response:
        return self.request("GET", path, headers=headers, **options)

    def post(self, path: str, data: dict, headers: dict | None = None, **options) -> Response:
        return self.request("POST", path, data=data, headers=headers, **options)
