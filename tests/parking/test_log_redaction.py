"""httpcore's DEBUG trace of a real HTTP exchange keeps its lines but never the values of credential headers."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI, Response

import parking.log  # importing it puts the filter in place
from tests.services import serving

SECRET = "sess-5f0c2b9e7d4a4e61b3a8"


def test_cookies_set_by_a_server_do_not_reach_the_debug_trace(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()

    @app.get("/sign-in")
    def sign_in(response: Response) -> dict[str, bool]:
        response.set_cookie("session", SECRET)
        response.headers["Authorization"] = f"Bearer {SECRET}"
        return {"ok": True}

    caplog.set_level(logging.DEBUG)
    for name in parking.log.HTTP_TRACE_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    with serving(app) as url, httpx.Client(base_url=url, headers={"Cookie": f"old={SECRET}"}) as client:
        assert client.get("/sign-in").cookies["session"] == SECRET
    trace = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("httpcore"))
    assert "receive_response_headers.complete" in trace
    assert "(b'set-cookie', b'<redacted>')" in trace
    assert SECRET not in trace
