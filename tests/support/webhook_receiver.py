"""A real HTTP receiver on 127.0.0.1 that records every webhook POST and answers as told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> object:
        """The JSON body, once ``standardwebhooks`` has checked the signature (raises otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Status codes to answer, in order; 200 once they are used up. ``answers_for``: per path.
    answers: list[int] = field(default_factory=list)
    answers_for: dict[str, list[int]] = field(default_factory=dict)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 30.0, path: str | None = None) -> list[Received]:
        """The first ``count`` requests (to ``path`` only, when given), once they have arrived."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.at(path)) >= count, timeout):
                raise AssertionError(f"{len(self.at(path))} webhooks arrived at {path}, {count} expected")
            return self.at(path)

    def at(self, path: str | None) -> list[Received]:
        return [r for r in self.received if path is None or r.path == path]


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handle(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with receiver.arrived:
                queue = receiver.answers_for.get(self.path, receiver.answers)
                status = queue.pop(0) if queue else 200
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                receiver.arrived.notify_all()
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
