"""A real HTTP receiver on loopback for webhook tests: scripted answers, every request recorded.

An answer's body may echo the request's path ("{path}"), and may be large: `size` bytes made of
the body repeated, generated as they are sent (a 400 MB body is never held), the first `first`
of them sent at once; then the receiver waits for the client to hang up (up to `wait_s`) before
it sends the rest. `Seen.sent` says how many bytes went out, `Seen.hung_up` whether the client
hung up before the whole body was sent: a client that reads a bounded part does, one that reads
it all cannot.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: object
    at: float
    sent: int = 0  # bytes of the answer's body sent
    hung_up: bool = False  # the client hung up before the whole body was sent
    answered: bool = False  # the handler is done with it (sent, or saw the client hang up)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    delay_s: float = 0.0
    size: int = 0  # > 0: a body of this many bytes, the body repeated
    first: int = 1 << 16  # of which these are sent before waiting for the client to hang up
    wait_s: float = 10.0


class Receiver:
    """`answers` are used in order; the last one repeats. `url` is http://127.0.0.1:PORT."""

    def __init__(self, *answers: Answer):
        self.answers = list(answers) or [Answer()]
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def _any(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                seen = Seen(self.command, self.path, dict(self.headers), body, time.monotonic())
                with receiver._lock:
                    receiver.seen.append(seen)
                    n = len(receiver.seen)
                    answer = receiver.answers[min(n - 1, len(receiver.answers) - 1)]
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                try:
                    self._answer(seen, answer)
                finally:
                    seen.answered = True

            def _answer(self, seen: Seen, answer: Answer) -> None:
                data = answer.body.replace("{path}", self.path).encode()
                size = answer.size or len(data)
                try:
                    self.send_response(answer.status)
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(size))
                    self.end_headers()
                    if not answer.size:
                        self.wfile.write(data)
                        seen.sent = len(data)
                        return
                    seen.sent = self._send(data, min(answer.first, size))
                    if seen.sent < size and self._hung_up(answer.wait_s):
                        seen.hung_up = True
                        return
                    seen.sent += self._send(data, size - seen.sent)
                except OSError:
                    seen.hung_up = seen.sent < size

            def _send(self, unit: bytes, n: int) -> int:
                """n bytes of `unit` repeated, 64 KB at a time: the count sent until the client hung up."""
                block = unit * (65536 // max(len(unit), 1) + 1)
                sent = 0
                try:
                    while sent < n:
                        chunk = block[: min(65536, n - sent)]
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        sent += len(chunk)
                except OSError:
                    pass
                return sent

            def _hung_up(self, wait_s: float) -> bool:
                """Whether the client closes its end within wait_s (it sends nothing more on this connection)."""
                try:
                    readable, _, _ = select.select([self.connection], [], [], wait_s)
                    return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            do_POST = do_PUT = do_GET = _any

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        deadline = time.monotonic() + 5.0  # a handler still sending or waiting for a hang-up says so first
        while time.monotonic() < deadline and not all(s.answered for s in list(self.seen)):
            time.sleep(0.01)
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list:
        return [s.body for s in self.seen]
