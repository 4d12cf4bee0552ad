"""Static files under fingerprinted names, pre-compressed, served by WhiteNoise before the app is reached.

At start the app copies portal/static into ASSETS_DIR (instance/assets unless set): each file under its own
name and under a name with a hash of its content (`css/portal.3f2a9c1b7d4e.css`), with a `.gz` beside each one
that compresses. Templates ask `asset_url("css/portal.css")` for the hashed name, so a changed file gets a new
URL and a hashed one may be cached for a year as immutable. A stylesheet's `url(...)` and a module's `import`
of another static file are rewritten to that file's hashed name first, so its own hash changes with theirs.

Hashed copies are named by their content, so a second start writes nothing new, and the copies an older release
made stay (a page loaded before a deploy still finds its files). WhiteNoise answers with the `.gz` to a browser
that accepts gzip, and sets the security headers (portal/security.py) on every file it serves.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import posixpath
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, url_for
from whitenoise import WhiteNoise

HASH_LENGTH = 12
# A name that carries a content hash: such a file never changes, so it may be cached for good.
HASHED_NAME = re.compile(rf"\.[0-9a-f]{{{HASH_LENGTH}}}\.[A-Za-z0-9]+$")
ONE_YEAR = 365 * 24 * 60 * 60
# Text formats worth compressing (images other than SVG and fonts are compressed already).
COMPRESSIBLE = {".css", ".js", ".mjs", ".svg", ".json", ".map", ".txt", ".md", ".html", ".xml"}
MIN_COMPRESS_BYTES = 256
# References to other static files that are rewritten to hashed names.
CSS_URL = re.compile(rb"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)""")
JS_IMPORT = re.compile(rb"""(\bimport\b[^'";()]*?\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"]+)\2""")


@dataclass(frozen=True)
class Manifest:
    """Each static file's path (as under portal/static) to its hashed path."""

    hashed: dict[str, str]

    def name(self, filename: str) -> str:
        return self.hashed.get(filename, filename)


def _resolve(reference: str, referrer: str, url_prefix: str) -> str | None:
    """The static path a reference in `referrer` points at, or None for one outside the static files."""
    if re.match(r"^[a-z][a-z0-9+.-]*:|^//|^#", reference, re.IGNORECASE):
        return None
    path = reference.split("?", 1)[0].split("#", 1)[0]
    if path.startswith(url_prefix + "/"):
        return posixpath.normpath(path[len(url_prefix) + 1 :])
    if path.startswith("/"):
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(referrer), path))


def _rewrite(data: bytes, referrer: str, url_prefix: str, hashed: Callable[[str], str | None]) -> bytes:
    """The file with each reference to another static file pointing at that file's hashed name."""

    def replace(match: re.Match[bytes], group: int) -> bytes:
        reference = match.group(group).decode("utf-8", "replace")
        target = _resolve(reference, referrer, url_prefix)
        new_name = hashed(target) if target else None
        if new_name is None:
            return match.group(0)
        if reference.startswith("/"):
            new_reference = f"{url_prefix}/{new_name}"
        else:
            new_reference = posixpath.relpath(new_name, posixpath.dirname(referrer) or ".")
            if not new_reference.startswith("."):
                new_reference = "./" + new_reference
        start, end = match.span(group)
        whole_start = match.start(0)
        text = match.group(0)
        return text[: start - whole_start] + new_reference.encode() + text[end - whole_start :]

    if referrer.endswith(".css"):
        return CSS_URL.sub(lambda match: replace(match, 2), data)
    if referrer.endswith((".js", ".mjs")):
        return JS_IMPORT.sub(lambda match: replace(match, 3), data)
    return data


def _write(path: Path, data: bytes, *, content_addressed: bool) -> None:
    """Write the file, and its .gz when that is smaller, unless they are there already (a hashed name is its
    content, so its file being there is enough)."""
    compress = path.suffix in COMPRESSIBLE and len(data) >= MIN_COMPRESS_BYTES
    zipped = path.with_name(path.name + ".gz")
    already = path.is_file() and (content_addressed or path.read_bytes() == data)
    if already and (not compress or zipped.is_file()):
        return
    copies = [(path, data)]
    if compress:
        compressed = gzip.compress(data, compresslevel=9, mtime=0)
        if len(compressed) < len(data):
            copies.append((zipped, compressed))
    for target, content in copies:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Another worker may be writing the same file: each writes a whole file and renames it into place.
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".tmp-", delete=False) as temporary:
            temporary.write(content)
        os.replace(temporary.name, target)


# Builds made by this process, by source, target and the source files' sizes and times: an app made again (each
# test makes one) reads nothing.
_BUILT: dict[tuple[Path, Path, str, tuple], Manifest] = {}


def build(source: Path, target: Path, url_prefix: str = "/assets") -> Manifest:
    """Copy every file under `source` into `target` under its own name and its hashed one, each with a .gz."""
    originals = {
        path.relative_to(source).as_posix(): path
        for path in sorted(source.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }
    signature = tuple((name, path.stat().st_size, path.stat().st_mtime_ns) for name, path in originals.items())
    key = (source, target, url_prefix, signature)
    if key in _BUILT and target.is_dir():
        return _BUILT[key]
    hashed: dict[str, str] = {}
    contents: dict[str, bytes] = {}

    def hashed_name(name: str, seen: tuple[str, ...] = ()) -> str | None:
        if name in hashed:
            return hashed[name]
        if name not in originals or name in seen:  # not a static file, or a cycle: left as it is
            return None
        data = _rewrite(originals[name].read_bytes(), name, url_prefix, lambda other: hashed_name(other, (*seen, name)))
        digest = hashlib.sha256(data).hexdigest()[:HASH_LENGTH]
        stem, dot, suffix = posixpath.basename(name).rpartition(".")
        base = f"{stem}.{digest}.{suffix}" if dot and stem else f"{posixpath.basename(name)}.{digest}"
        hashed[name] = posixpath.join(posixpath.dirname(name), base)
        contents[name] = data
        return hashed[name]

    for name in originals:
        hashed_name(name)
    for name, data in contents.items():
        _write(target / name, data, content_addressed=False)
        _write(target / hashed[name], data, content_addressed=True)
    _BUILT[key] = Manifest(hashed)
    return _BUILT[key]


def asset_url(filename: str) -> str:
    """The URL of a static file under its hashed name (its plain one when it is not a built file)."""
    manifest: Manifest | None = current_app.extensions.get("assets")
    return url_for("static", filename=manifest.name(filename) if manifest else filename)


def register(app: Flask, headers: Callable[[], dict[str, str]]) -> None:
    """Build the hashed copies and put WhiteNoise in front of the app; `headers` are set on every file served."""
    assert app.static_folder is not None and app.static_url_path is not None
    source = Path(app.config.get("ASSETS_SOURCE") or app.static_folder)
    target = Path(app.config.get("ASSETS_DIR") or Path(app.instance_path) / "assets")
    app.extensions["assets"] = build(source, target, app.static_url_path)
    app.jinja_env.globals["asset_url"] = asset_url

    def add_headers(response_headers, path: str, url: str) -> None:
        for name, value in headers().items():
            response_headers[name] = value
        if HASHED_NAME.search(url):  # a year, the longest a cache is asked to keep anything
            response_headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"

    app.wsgi_app = WhiteNoise(  # type: ignore[method-assign]
        app.wsgi_app,
        root=str(target),
        prefix=app.static_url_path,
        # A plain name may change with the next release: browsers check it again after an hour.
        max_age=60 * 60,
        allow_all_origins=False,
        add_headers_function=add_headers,
        immutable_file_test=lambda path, url: bool(HASHED_NAME.search(url)),
    )
