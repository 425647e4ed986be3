"""A WSGI application served over HTTP/1.1 with keep-alive, as real model endpoints serve: the demo server's.

One thread runs an ``asyncio`` loop for the sockets; ``httptools`` (the C
parser uvicorn uses) reads the requests; each request's application call runs
in a worker thread, because the demo server's handlers sleep (latency, stalls)
and wait for each other (``gather``). An answer without a length (a stream) is
sent chunked as it is made. Workers are daemon threads kept for the next request, so a handler still
sleeping when the server stops never holds up the interpreter's exit.

A connection stays open for the client's next request. werkzeug's development
server, which pytest-httpserver starts, closes every connection and starts a
thread for each: on a machine shared with the clients under test that cost
1.7 ms of CPU a request (``h11``, pure Python, still 1.3 ms), most of the
demo server's share of a benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import queue
import socket
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import httptools

log = logging.getLogger(__name__)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
RESET = "promptdrift.reset"  # environ key: a callable that drops the connection with a TCP reset, no answer


class KeepAliveServer:
    """``start()`` binds and serves in a thread of its own; ``stop()`` closes every connection."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.workers = _Workers()
        self.connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, failure), name="promptdrift-demo-server", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._loop is not None and self._stopped is not None
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join()
        self._thread = None

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        async def main() -> None:
            loop = self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            server = await loop.create_server(lambda: _Connection(self, loop), self.host, self.port, backlog=1024)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stopped.wait()
            server.close()
            for connection in list(self.connections):
                connection.transport.close()  # open keep-alive connections: closed with the server
            await server.wait_closed()

        try:
            asyncio.run(main())
        except BaseException as exc:
            if ready.is_set():  # while serving: nobody waits for it
                log.exception("the demo server stopped")
            else:  # could not start (the port is taken, say): start() raises it
                failure.append(exc)
        finally:
            ready.set()


@dataclass
class _Request:
    url: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    method: bytes = b"GET"
    version: str = "1.1"
    keep_alive: bool = True


class _Connection(asyncio.Protocol):
    """One client connection: its requests parsed as they arrive and answered one after another."""

    transport: asyncio.Transport

    def __init__(self, server: KeepAliveServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        self.parser = httptools.HttpRequestParser(self)
        self.request = _Request()
        self.waiting: deque[_Request] = deque()  # parsed while an earlier one is being answered
        self.answering: _Request | None = None
        self.chunked = False

    # -- the socket ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    # -- httptools' callbacks ------------------------------------------------------

    def on_message_begin(self) -> None:
        self.request = _Request()

    def on_url(self, url: bytes) -> None:
        self.request.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.request.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.request.body.append(body)

    def on_message_complete(self) -> None:
        request = self.request
        request.method = self.parser.get_method()
        request.version = self.parser.get_http_version()
        request.keep_alive = self.parser.should_keep_alive()
        self.waiting.append(request)
        if self.answering is None:
            self._answer_next()

    # -- answers ---------------------------------------------------------------------

    def _answer_next(self) -> None:
        request = self.answering = self.waiting.popleft()

        def put(item: tuple[Any, ...]) -> None:  # from the worker
            with contextlib.suppress(RuntimeError):  # the server stopped meanwhile: its loop is closed
                self.loop.call_soon_threadsafe(self._sent, item)

        environ = _environ(request, self.transport, self.server.host, self.server.port)
        environ[RESET] = lambda: self.loop.call_soon_threadsafe(self._reset)
        self.server.workers.run(_call, self.server.app, environ, put)

    def _reset(self) -> None:
        """The client sees its connection drop with no answer (a TCP reset)."""
        raw = self.transport.get_extra_info("socket")
        if raw is not None:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _sent(self, item: tuple[Any, ...]) -> None:
        """What the worker has of the answer: its head, a piece of its body, its end, or a failure."""
        request = self.answering
        if request is None or self.transport.is_closing():
            return
        kind = item[0]
        if kind == "head":
            self.transport.write(self._head(item[1], item[2], request))
        elif kind == "data":
            data = item[1]
            self.transport.write(b"%x\r\n%b\r\n" % (len(data), data) if self.chunked else data)
        elif kind == "end":
            if self.chunked:
                self.transport.write(b"0\r\n\r\n")
            self.answering = None
            if not request.keep_alive:
                self.transport.close()
            elif self.waiting:
                self._answer_next()
        else:  # the application failed: no answer, or the rest of one cut short
            self.transport.close()

    def _head(self, status: str, headers: list[tuple[str, str]], request: _Request) -> bytes:
        code = int(status.split(" ", 1)[0])
        sized = any(name.lower() == "content-length" for name, _ in headers)
        self.chunked = not sized and code >= 200 and code not in (204, 304) and request.version == "1.1"
        if not sized and not self.chunked:
            request.keep_alive = False  # an HTTP/1.0 stream ends when the connection does
        lines = [f"HTTP/{request.version} {status}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if self.chunked:
            lines.append("Transfer-Encoding: chunked")
        if not request.keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _call(app: WSGIApp, environ: dict[str, Any], put: Callable[[tuple[Any, ...]], None]) -> None:
    """In a worker: the application's answer, as ("head", status, headers), ("data", bytes)..., ("end",)."""
    head: list[Any] = []
    sent = False

    def send(chunk: bytes) -> None:  # the head goes before the first piece of the body, or alone
        nonlocal sent
        if not sent:
            put(("head", *head))
            sent = True
        if chunk:
            put(("data", chunk))

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        head[:] = [status, headers]
        return send  # WSGI's write(), for applications that push their body

    try:
        result = app(environ, start_response)
        try:
            for chunk in result:
                send(chunk)
            send(b"")
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        put(("end",))
    except Exception as exc:  # the application's own failure (pytest-httpserver answers its handlers' errors)
        log.exception("the demo server's application failed; the connection is closed without an answer")
        put(("error", exc))


def _environ(request: _Request, transport: asyncio.Transport, host: str, port: int) -> dict[str, Any]:
    body = b"".join(request.body)
    path, _, query = request.url.partition(b"?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method.decode("ascii"),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": f"HTTP/{request.version}",
        "REMOTE_ADDR": (transport.get_extra_info("peername") or ("127.0.0.1", 0))[0],
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in request.headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name not in ("content-length", "transfer-encoding"):  # the body is read whole: its own length
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class _Workers:
    """Daemon threads that run the application, each kept for the next request once done."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def run(self, job: Callable[..., None], *args: Any) -> None:
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        self._jobs.put((job, args))
        if spawn:
            threading.Thread(target=self._work, name="promptdrift-demo-handler", daemon=True).start()

    def _work(self) -> None:
        while True:
            job, args = self._jobs.get()
            job(*args)
            with self._lock:
                self._idle += 1
