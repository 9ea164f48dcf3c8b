"""A persistent child process that runs trafilatura, so that one page cannot hang or crash a worker.

Beam runs DoFns in threads, so ``signal.alarm`` cannot bound a call, and a thread cannot be killed.
The page is sent to a long-lived child instead; if no answer comes within the time limit the child is
killed (SIGKILL) and a fresh one is started for the next page. A child that dies on its own (a C stack
overflow in lxml, the OOM killer) is also replaced, and that page is counted as failed.

The child is a ``python -m filters.extract_worker`` process started with ``subprocess`` rather than a
``multiprocessing`` 'spawn' context: spawn re-imports the parent's ``__main__`` in the child (a Beam
worker entry point, a test runner, a user's script), while this child imports only trafilatura.
It does what a spawn/forkserver context would (a fresh interpreter, no forked threads or locks), and
the messages are plain length-prefixed bytes, so nothing is ever unpickled.

Protocol (big-endian): request = u32 len(url) u32 len(html) url html (UTF-8);
reply = u8 status, u32 len, payload (UTF-8). Status codes: see STATUS.
"""
from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
import weakref

STATUS = {0: "ok", 1: "parse_error"}
_READY = b"R"
_REQ = struct.Struct("!II")
_REP = struct.Struct("!BI")
STARTUP_TIMEOUT_S = 120.0  # importing trafilatura on a loaded machine; not a per-page limit


class Timeout(Exception):
    pass


class WorkerDied(Exception):
    pass


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for f in (proc.stdin, proc.stdout):
        try:
            f.close()
        except OSError:
            pass


class ExtractWorker:
    """``run(html, url) -> (status, text)``; raises Timeout or WorkerDied (the child is then replaced).

    Thread-safe (one request at a time). ``restarts`` counts children replaced after a timeout or crash.
    """

    def __init__(self, options: dict, timeout_s: float) -> None:
        self.options = dict(options)
        self.timeout_s = timeout_s
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._finalizer = None
        self._start()

    def _start(self) -> None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = subprocess.Popen(
            [sys.executable, "-m", "filters.extract_worker", json.dumps(self.options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
        self.proc = proc
        self._finalizer = weakref.finalize(self, _kill, proc)
        try:
            ready = self._read(1, time.monotonic() + STARTUP_TIMEOUT_S)
        except (Timeout, WorkerDied):
            self.close()
            raise RuntimeError("the trafilatura child process did not start: run "
                               f"`{sys.executable} -m filters.extract_worker '{{}}'` to see its error") from None
        if ready != _READY:
            self.close()
            raise RuntimeError(f"the trafilatura child process said {ready!r} instead of ready")

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self.proc = None

    def _read(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout()
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise Timeout()
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
            if not chunk:
                raise WorkerDied()
            buf += chunk
        return bytes(buf)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        fd = self.proc.stdin.fileno()
        while view:
            view = view[os.write(fd, view):]

    def run(self, html: str, url: str | None = None) -> tuple[str, str]:
        with self.lock:
            if self.proc is None:
                self._start()
            u = (url or "").encode("utf-8", "replace")
            h = html.encode("utf-8", "replace")
            deadline = time.monotonic() + self.timeout_s
            try:
                self._write(_REQ.pack(len(u), len(h)) + u + h)
                status, n = _REP.unpack(self._read(_REP.size, deadline))
                payload = self._read(n, deadline).decode("utf-8")
            except Timeout:
                self._replace()
                raise
            except (WorkerDied, BrokenPipeError, ConnectionResetError):
                self._replace()
                raise WorkerDied() from None
            return STATUS[status], payload

    def _replace(self) -> None:
        self.close()
        self.restarts += 1  # the next run() starts a fresh child


def _serve() -> None:
    """Child side: read requests from stdin, answer on the original stdout."""
    from filters.extract import extract_once  # imports trafilatura once, before saying ready

    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    out.write(_READY)
    codes = {v: k for k, v in STATUS.items()}
    while True:
        head = inp.read(_REQ.size)
        if len(head) < _REQ.size:
            return  # parent closed the pipe: exit quietly
        nu, nh = _REQ.unpack(head)
        url = inp.read(nu).decode("utf-8") or None
        html = inp.read(nh).decode("utf-8")
        status, text = extract_once(html, url, options)
        data = text.encode("utf-8", "replace")
        out.write(_REP.pack(codes[status], len(data)) + data)


if __name__ == "__main__":
    _serve()
