"""gunicorn settings for `make run`: the portal's own, beside the command line's bind and workers.

gunicorn writes `Server: gunicorn` into every response itself, outside the application's reach (the WSGI app
cannot remove a header it never sees). The header tells a scanner what to try and tells nobody else anything,
so the line is left out: this file is read by the arbiter before any worker starts, and every worker forked
from it inherits the change.
"""

from gunicorn.http import wsgi as _gunicorn_wsgi

_default_headers = _gunicorn_wsgi.Response.default_headers


def _without_server(self):
    return [line for line in _default_headers(self) if not line.lower().startswith("server:")]


_gunicorn_wsgi.Response.default_headers = _without_server  # type: ignore[method-assign]
