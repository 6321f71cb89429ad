"""`python -m tests.cluster.fake_wechat ADDRESS PORT LOG`: WeChat's API as far as pushes go.

Hands out access tokens and appends every template or subscribe message it is sent to LOG (one
JSON object a line, written and flushed before it answers), so the test counts what "WeChat"
received, however many processes sent it.
"""
from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main(address: str, port: int, log_path: str) -> None:
    lock = threading.Lock()
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the server
    counter = [0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):  # noqa: N802
            if "/token" in self.path:
                return self._answer({"access_token": "fake-token-" + "x" * 20,
                                     "expires_in": 7200})
            return self._answer({"errcode": 0, "errmsg": "ok"})

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) or b"{}"
            if "/token" in self.path:  # stable_token
                return self._answer({"access_token": "fake-token-" + "y" * 20,
                                     "expires_in": 7200})
            if "message/template/send" in self.path or "message/subscribe/send" in self.path:
                with lock:
                    counter[0] += 1
                    msgid = 3_000_000_000 + counter[0]
                    log.write(json.dumps({"path": self.path.split("?")[0], "msgid": msgid,
                                          "body": json.loads(raw)}, ensure_ascii=False) + "\n")
                    log.flush()
                return self._answer({"errcode": 0, "errmsg": "ok", "msgid": msgid})
            return self._answer({"errcode": 0, "errmsg": "ok"})

    ThreadingHTTPServer((address, port), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
