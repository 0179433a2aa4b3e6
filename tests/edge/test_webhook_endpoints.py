"""`--post` against endpoints that misbehave, each a real local HTTP server: an endless or huge answer is read only
as far as a status line needs, credentials in the URL go in an Authorization header and never into a warning, a
redirect is not a delivery, and a URL with spaces or line breaks is refused before the run."""

from __future__ import annotations

import base64
import socket
import threading

import pytest

from edge.errors import UserError
from edge.outputs import Poster


class _Endpoint:
    """A raw TCP server answering each request with ANSWER (bytes, then STREAM bytes more if given, as fast as the
    client takes them); it records the requests and counts what it managed to send."""

    def __init__(self, answer: bytes, stream: int = 0):
        self.answer, self.stream, self.sent, self.requests = answer, stream, 0, []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with client:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += client.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length")), b"0"))
                while len(body) < length:
                    body += client.recv(65536)
                self.requests.append(head.decode())
                try:
                    client.sendall(self.answer)
                    block = b"x" * 1_000_000
                    while self.sent < self.stream:
                        client.sendall(block)
                        self.sent += len(block)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def _post_once(url: str, timeout: float = 2.0) -> dict:
    poster = Poster(url, timeout=timeout)
    poster.send({"label": "muffin"})
    return poster.close(wait=timeout + 3)


def test_a_huge_or_endless_answer_is_not_read_whole():
    """A proxy's error page, or a hostile endpoint declaring 16 GiB and sending as fast as it can: the poster reads
    the status line and a bounded head of the body, then hangs up; the POST counts as delivered (status 200)."""
    endpoint = _Endpoint(b"HTTP/1.1 200 OK\r\nContent-Length: 17179869184\r\n\r\n", stream=2_000_000_000)
    try:
        counters = _post_once(f"http://{endpoint.url}/events")
    finally:
        endpoint.close()
    assert counters == {"posted": 1, "post_failed": 0, "post_dropped": 0}, counters
    assert endpoint.sent < 100_000_000, f"the poster took {endpoint.sent / 1e6:.0f} MB of an answer it does not need"


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_printed(capsys):
    endpoint = _Endpoint(b"HTTP/1.1 204 No Content\r\n\r\n")
    try:
        assert _post_once(f"http://alice:s3cr%40t@{endpoint.url}/events")["posted"] == 1
    finally:
        endpoint.close()
    expected = base64.b64encode(b"alice:s3cr@t").decode()
    assert f"Authorization: Basic {expected}" in endpoint.requests[0], endpoint.requests[0]
    assert "alice" not in endpoint.requests[0].splitlines()[0], "not in the request line"
    counters = _post_once("http://alice:s3cr%40t@127.0.0.1:9/events", timeout=1.0)  # nothing listens there
    warning = capsys.readouterr().err
    assert counters["post_failed"] == 1 and "s3cr" not in warning and "http://alice:***@127.0.0.1:9/events" in warning


def test_a_redirect_is_not_a_delivery(capsys):
    endpoint = _Endpoint(b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n")
    try:
        counters = _post_once(f"http://{endpoint.url}/events")
    finally:
        endpoint.close()
    assert counters == {"posted": 0, "post_failed": 1, "post_dropped": 0}
    assert "HTTP 302" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["http://host/my events", "http://host/events\r\nX-Injected: 1", "http://ho st/",
                                 "http://host/\tevents"])
def test_a_url_with_spaces_or_line_breaks_is_refused_before_the_run(url):
    with pytest.raises(UserError, match=r"--post .*: a URL cannot hold spaces or control characters"):
        Poster(url)
