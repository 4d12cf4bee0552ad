"""The security log: one JSON line per event, with the request's context and nothing typed."""

import json
import logging

import pytest

from portal.security_log import security_event


def _lines(caplog):
    return [json.loads(record.getMessage()) for record in caplog.records if record.name == "portal.security"]


def test_an_event_is_one_json_line_with_the_request_context(app, caplog):
    caplog.set_level(logging.WARNING, logger="portal.security")
    with app.test_request_context("/sign-in", method="POST", environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        security_event("sign_in.failed", outcome="failure")
    (line,) = _lines(caplog)
    assert line["event"] == "sign_in.failed"
    assert line["client"] == "203.0.113.9"
    assert line["path"] == "/sign-in"
    assert line["outcome"] == "failure"
    assert line["user_id"] is None
    assert len(line["request_id"]) == 16


def test_a_field_it_does_not_know_is_refused(app):
    with app.test_request_context("/"), pytest.raises(ValueError):
        security_event("sign_in.failed", email="someone@example.org")


def test_every_response_names_its_request_id(client):
    response = client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert response.headers["X-Request-Id"] == "abc123"
    assert len(client.get("/healthz").headers["X-Request-Id"]) == 16


class _BrokenPipe:
    """Where the logs go when the collector has gone away: every write fails."""

    writes = 0

    def write(self, _text):
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_with_the_log_sink_broken_requests_still_succeed(app, client, two_orgs, login, monkeypatch):
    sink = _BrokenPipe()
    handler = logging.StreamHandler(sink)
    root = logging.getLogger()
    root.addHandler(handler)
    monkeypatch.setattr(root, "level", logging.INFO)
    monkeypatch.setattr("sys.stderr", sink)  # logging's own complaint about the handler fails too
    try:
        refused = client.post("/sign-in", data={"email": "a@davss.example", "password": "wrong password 4711"})
        assert refused.status_code == 422 and "Enter a correct email address and password" in refused.text
        login(client, two_orgs["partner_a"])
        page = client.get("/partner/")
        assert page.status_code == 200
        project = two_orgs["davss_project"]
        saved = client.post(
            f"/partner/projects/{project.id}/q1/narrative",
            data={"version": "0", "progress": "Saved while the log was down", "save_later": "Save"},
        )
        assert saved.status_code == 302
    finally:
        root.removeHandler(handler)
    assert sink.writes > 0  # the log was written to, and failed, during those requests
