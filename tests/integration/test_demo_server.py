"""The demo server speaks HTTP/1.1 as model endpoints do: kept-alive connections, streamed answers, clean stops."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx2
import pytest

from promptdrift.testing.demo import DemoServer

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes the connection (or 5 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_a_client_keeps_its_connection_for_the_next_request() -> None:
    with DemoServer() as demo, httpx2.Client() as client:
        peers = set()
        for _ in range(3):
            with client.stream("POST", f"{demo.base_url}/chat/completions", json=CHAT) as response:
                response.read()
                assert response.status_code == 200 and response.headers.get("connection") != "close"
                peers.add(response.extensions["network_stream"].get_extra_info("client_addr"))
        assert len(peers) == 1  # one connection served all three
        assert len([r for r in demo.requests if r["path"] == "/v1/chat/completions"]) == 3


def test_a_streamed_answer_arrives_chunked_and_whole() -> None:
    with DemoServer() as demo, httpx2.Client() as client:
        body = {**CHAT, "stream": True}
        with client.stream("POST", f"{demo.base_url}/chat/completions", json=body) as response:
            text = response.read().decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert text.rstrip().endswith("data: [DONE]")
        again = client.post(f"{demo.base_url}/chat/completions", json=CHAT)  # the same connection, still in step
        assert again.status_code == 200 and again.json()["object"] == "chat.completion"


def test_an_http_1_0_client_gets_its_answer_and_the_connection_closes() -> None:
    with DemoServer() as demo:
        port = int(demo.base_url.rsplit(":", 1)[1].split("/")[0])
        answer = raw_exchange(port, b"GET /v1/models HTTP/1.0\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and b'"object": "list"' in body


def test_a_request_the_parser_refuses_closes_the_connection_and_the_server_goes_on() -> None:
    with DemoServer() as demo:
        port = int(demo.base_url.rsplit(":", 1)[1].split("/")[0])
        assert raw_exchange(port, b"NOT HTTP AT ALL\r\n\r\n") == b""
        assert httpx2.get(f"{demo.base_url}/models").status_code == 200


def test_stopping_closes_idle_connections_and_does_not_wait_for_a_stalled_answer() -> None:
    demo = DemoServer().start()
    client = httpx2.Client()
    client.post(f"{demo.base_url}/chat/completions", json=CHAT)  # leaves a kept-alive connection open
    demo.fault_next("stall", seconds=30)
    failed: list[BaseException] = []

    def stalled() -> None:
        try:
            client.post(f"{demo.base_url}/chat/completions", json=CHAT, timeout=20)
        except httpx2.HTTPError as exc:
            failed.append(exc)

    waiting = threading.Thread(target=stalled)
    waiting.start()
    assert demo.wait_in_flight(1)  # the stalled request is in its handler
    started = time.perf_counter()
    demo.stop()
    waiting.join(timeout=10)
    assert time.perf_counter() - started < 5
    assert not waiting.is_alive() and failed  # its connection was closed with the server
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(f"{demo.base_url}/models")


def test_a_port_already_taken_is_an_error_at_start() -> None:
    with DemoServer() as demo:
        port = int(demo.base_url.rsplit(":", 1)[1].split("/")[0])
        with pytest.raises(OSError, match="in use"):
            DemoServer(port=port).start()


def test_an_answer_without_a_length_is_sent_chunked_piece_by_piece() -> None:
    from promptdrift.testing.keepalive import KeepAliveServer

    def app(environ: dict, start_response) -> Iterator[bytes]:  # a stream: no content-length
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        for n in range(3):
            yield f"data: {n}\n\n".encode()

    server = KeepAliveServer(app)
    server.start()
    try:
        with httpx2.Client() as client:
            for _ in range(2):  # the connection is still in step after a chunked answer
                response = client.get(f"http://127.0.0.1:{server.port}/")
                assert response.headers["transfer-encoding"] == "chunked"
                assert response.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
        old = raw_exchange(server.port, b"GET / HTTP/1.0\r\n\r\n")  # HTTP/1.0: no chunks, the close ends it
        assert old.endswith(b"data: 2\n\n") and b"chunked" not in old and b"Connection: close" in old
    finally:
        server.stop()


def test_an_application_that_writes_its_body_or_fails_is_served_and_the_server_goes_on() -> None:
    from promptdrift.testing.keepalive import KeepAliveServer

    def app(environ: dict, start_response) -> list[bytes]:
        if environ["PATH_INFO"] == "/fail":
            raise RuntimeError("the application broke")
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"pushed, ")  # WSGI's write(): the head must still go first
        return [b"then returned"]

    server = KeepAliveServer(app)
    server.start()
    try:
        with httpx2.Client() as client:
            assert client.get(f"http://127.0.0.1:{server.port}/").text == "pushed, then returned"
            with pytest.raises(httpx2.RemoteProtocolError):  # no answer: the connection is closed
                client.get(f"http://127.0.0.1:{server.port}/fail")
            assert client.get(f"http://127.0.0.1:{server.port}/").text == "pushed, then returned"
    finally:
        server.stop()
