"""Serve requests for the sandbox origin in-process, so the real client code reaches the fake API.

The host `wechat-sandbox.invalid` is never resolved: a requests transport adapter mounted for that
origin hands each request to the app's WSGI callable and returns a real requests.Response.
"""
from __future__ import annotations

import io
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import EnvironBuilder, run_wsgi_app

SANDBOX_ORIGIN = "http://wechat-sandbox.invalid"


class InProcessAdapter(BaseAdapter):
    """A requests adapter that answers from a WSGI app instead of the network."""

    def __init__(self, app: Flask):
        super().__init__()
        self.app = app

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        """Run the prepared request through the app and wrap its answer as a requests.Response."""
        parts = urlsplit(request.url)
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        builder = EnvironBuilder(
            path=parts.path or "/", query_string=parts.query, method=request.method,
            base_url=f"{parts.scheme}://{parts.netloc}", headers=dict(request.headers),
            data=body or b"",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, headers = run_wsgi_app(self.app, environ, buffered=True)
        try:
            content = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()

        response = requests.Response()
        code, _, reason = status.partition(" ")
        response.status_code = int(code)
        response.reason = reason
        response.headers = CaseInsensitiveDict(headers.items())
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.raw = io.BytesIO(content)
        response._content = content
        response.url = request.url
        response.request = request
        response.connection = self
        return response

    def close(self):
        """Nothing to release: no sockets are opened."""


def mount_sandbox(session: requests.Session, app: Flask) -> None:
    """Route every request for SANDBOX_ORIGIN made through this session into the app, in-process."""
    session.mount(SANDBOX_ORIGIN + "/", InProcessAdapter(app))
