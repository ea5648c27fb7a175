"""A real local highlighting service: the seed app's "external service", on loopback.

POST /highlight with {"language": ..., "code": ...} -> 200 {"html": ...}; with probability
`failure_rate` (seeded) -> 503 {"error": ...}. Every request first waits `latency_ms`.
GET /health -> 200. Run it alone:

    python -m workloads.highlight_service --port 0 --latency-ms 50 --failure-rate 0

It prints `listening on http://127.0.0.1:PORT` once ready. ServiceProcess starts it as a child
that dies with its parent.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core.procs import die_with_parent
from workloads.highlight import render


def make_server(port: int, latency_ms: float, failure_rate: float, seed: int) -> ThreadingHTTPServer:
    rng = random.Random(seed)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def _reply(self, status: int, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(200, {"status": "ok"})
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path != "/highlight":
                self._reply(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length))
                language, code = body["language"], body["code"]
            except (ValueError, KeyError, TypeError):
                self._reply(400, {"error": "expected JSON {\"language\": ..., \"code\": ...}"})
                return
            if latency_ms:
                time.sleep(latency_ms / 1000)
            with lock:
                fail = rng.random() < failure_rate
            if fail:
                self._reply(503, {"error": "injected failure"})
                return
            try:
                html = render(language, code)
            except Exception as exc:  # unknown lexer and the like
                self._reply(422, {"error": str(exc)})
                return
            self._reply(200, {"html": html})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


class ServiceProcess:
    """The service as a child process; `url` once started."""

    def __init__(self, latency_ms: float = 50, failure_rate: float = 0.0, seed: int = 1) -> None:
        self.args = [str(latency_ms), str(failure_rate), str(seed)]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> ServiceProcess:
        latency, failure, seed = self.args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workloads.highlight_service", "--port", "0",
             "--latency-ms", latency, "--failure-rate", failure, "--seed", seed],
            stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"highlighting service failed to start: {line!r}")
        self.url = line.split()[-1]
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workloads.highlight_service")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 0 <= args.failure_rate <= 1:
        parser.error("--failure-rate must be between 0 and 1")
    server = make_server(args.port, args.latency_ms, args.failure_rate, args.seed)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
