"""Static files: pages name them by a hash of their content, those names are cached for a year as immutable,
a browser that accepts gzip gets the pre-compressed copy, a changed file gets a new URL, and every file carries
the same security headers as the pages."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest

from portal import create_app
from tests.conftest import base_config

STATIC = Path(__file__).resolve().parent.parent / "portal" / "static"
HASHED = r"[0-9a-f]{12}"


def asset_urls(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/assets/[^"]+)"', page)


def url_of(page: str, pattern: str) -> str:
    found = [url for url in asset_urls(page) if re.fullmatch(pattern, url)]
    assert len(found) == 1, asset_urls(page)
    return found[0]


def assert_security_headers(response) -> None:
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_name_every_static_file_by_its_hash(client, two_orgs, login):
    for page in (client.get("/sign-in").text, _signed_in_home(client, two_orgs, login)):
        urls = asset_urls(page)
        assert urls, page
        for url in urls:
            assert re.search(rf"\.{HASHED}\.(css|js|svg)$", url), url
    url_of(page, rf"/assets/css/portal\.{HASHED}\.css")
    url_of(page, rf"/assets/js/session-timeout\.{HASHED}\.js")


def _signed_in_home(client, two_orgs, login) -> str:
    login(client, two_orgs["partner_a"])
    return client.get("/partner/").text


def test_a_hashed_file_is_cached_for_a_year_as_immutable_and_a_plain_name_briefly(client):
    url = url_of(client.get("/sign-in").text, rf"/assets/css/portal\.{HASHED}\.css")
    hashed = client.get(url)
    assert hashed.status_code == 200
    assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert hashed.headers["Content-Type"].startswith("text/css")
    assert hashed.data == (STATIC / "css" / "portal.css").read_bytes()
    plain = client.get("/assets/css/portal.css")
    assert plain.status_code == 200 and plain.data == hashed.data
    assert "immutable" not in plain.headers["Cache-Control"]
    assert "max-age=3600" in plain.headers["Cache-Control"]


@pytest.mark.parametrize("name", ["vendor/govuk-frontend/govuk-frontend.min.css", "vendor/htmx/htmx.min.js"])
def test_a_browser_that_accepts_gzip_gets_the_compressed_copy(client, name):
    stem, suffix = name.rsplit(".", 1)
    url = url_of(client.get("/sign-in").text, rf"/assets/{re.escape(stem)}\.{HASHED}\.{suffix}")
    original = (STATIC / name).read_bytes()
    zipped = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert len(zipped.data) < len(original) / 2
    assert gzip.decompress(zipped.data) == original
    assert_security_headers(zipped)
    plain = client.get(url)
    assert "Content-Encoding" not in plain.headers and plain.data == original


def test_static_files_carry_the_security_headers(client):
    page = client.get("/sign-in")
    for url in [*asset_urls(page.text), "/assets/css/portal.css", "/assets/js/init.js"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_security_headers(response)
    missing = client.get("/assets/css/missing.css")
    assert missing.status_code == 404
    assert_security_headers(missing)


@pytest.fixture
def own_static(tmp_path, database_url):
    """An app made from a copy of the static files (to change one), built into its own folder."""
    source = tmp_path / "static"
    shutil.copytree(STATIC, source)

    def make():
        return create_app(
            {**base_config(database_url), "ASSETS_SOURCE": str(source), "ASSETS_DIR": str(tmp_path / "built")}
        )

    return source, make


def test_a_changed_file_gets_a_new_url_and_the_old_one_still_works(own_static):
    source, make = own_static
    before_page = make().test_client().get("/sign-in").text
    css_before = url_of(before_page, rf"/assets/css/portal\.{HASHED}\.css")
    init_before = url_of(before_page, rf"/assets/js/init\.{HASHED}\.js")
    htmx_before = url_of(before_page, rf"/assets/vendor/htmx/htmx\.min\.{HASHED}\.js")

    (source / "css" / "portal.css").write_text((source / "css" / "portal.css").read_text() + "\n.new { color: red }\n")
    # A module init.js imports: init.js's own URL changes with it, as the import now names the new file.
    (source / "js" / "year-to-date.js").write_text((source / "js" / "year-to-date.js").read_text() + "\n// new\n")
    client = make().test_client()
    after_page = client.get("/sign-in").text
    css_after = url_of(after_page, rf"/assets/css/portal\.{HASHED}\.css")
    init_after = url_of(after_page, rf"/assets/js/init\.{HASHED}\.js")
    assert css_after != css_before and init_after != init_before
    assert url_of(after_page, rf"/assets/vendor/htmx/htmx\.min\.{HASHED}\.js") == htmx_before  # unchanged file
    assert b".new { color: red }" in client.get(css_after).data
    assert b".new" not in client.get(css_before).data  # a page loaded before the change still gets its files
    init = client.get(init_after).data.decode()
    year_to_date = re.search(rf'import "\./(year-to-date\.{HASHED}\.js)"', init)
    assert year_to_date, init
    assert b"// new" in client.get(f"/assets/js/{year_to_date.group(1)}").data
