"""What both sandboxes share: a threaded HTTP server for a WSGI app, and a notification courier that
posts on the provider's retry schedule and can be told to lose, duplicate or delay deliveries."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import certifi
import httpx

logger = logging.getLogger(__name__)


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's own default trust store, loaded once: loading it for every notification cost more
    CPU than everything else the sandbox does for a payment."""
    return ssl.create_default_context(cafile=certifi.where())


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # Never the query string: OAuth calls carry the AppSecret there.
        logger.debug("sandbox %s %s", self.command, self.path.split("?", 1)[0])


class SandboxServer:
    """Serve a WSGI app on host:port in a background thread (port 0 picks a free one)."""

    def __init__(self, app: WsgiApp, host: str = "127.0.0.1", port: int = 0):
        self._httpd = make_server(
            host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        # A short poll interval keeps stop() quick (tests start and stop many servers).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-http", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class NotifyFault:
    NONE = "none"
    LOST = "lost"  # never delivered (the cloud must recover by querying)
    DUPLICATE = "duplicate"  # delivered twice at once, even after the first was acknowledged
    DELAYED = "delayed"  # first attempt only after `delay_s`


@dataclass
class Delivery:
    """One notification and what happened to it; tests read these."""

    url: str
    headers: dict[str, str]
    body: bytes
    schedule_s: tuple[float, ...]
    is_ack: Callable[[int, bytes], bool]
    fault: str = NotifyFault.NONE
    delay_s: float = 0.0
    attempts: list[tuple[float, int]] = field(default_factory=list)  # (time, http status or 0)
    # Re-sign each attempt (fresh timestamp/nonce headers): a retry hours later must not carry a
    # timestamp the receiver rightly rejects as stale.
    sign: Callable[[bytes], dict[str, str]] | None = None
    acknowledged: bool = False
    finished: threading.Event = field(default_factory=threading.Event)


class Courier:
    """Posts notifications until the receiver acknowledges or the schedule runs out.

    `time_scale` shrinks the provider's real schedule (minutes to hours) so tests and the demo can
    watch retries happen: 0.001 turns WeChat's 15 s first retry into 15 ms.
    """

    def __init__(self, time_scale: float = 1.0, timeout_s: float = 10.0):
        self.time_scale = time_scale
        self.timeout_s = timeout_s
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> Delivery:
        with self._lock:
            self.deliveries.append(delivery)
        if delivery.fault == NotifyFault.LOST:
            delivery.finished.set()
            return delivery
        threading.Thread(target=self._run, args=(delivery,), name="sandbox-notify", daemon=True).start()
        return delivery

    def _run(self, delivery: Delivery) -> None:
        if delivery.fault == NotifyFault.DELAYED:
            time.sleep(delivery.delay_s * self.time_scale)
        if delivery.fault == NotifyFault.DUPLICATE:
            twins = [threading.Thread(target=self._post, args=(delivery,)) for _ in range(2)]
            for twin in twins:
                twin.start()
            for twin in twins:
                twin.join()
        waits = (0.0, *delivery.schedule_s)
        for wait in waits:
            if delivery.acknowledged:
                break
            time.sleep(wait * self.time_scale)
            self._post(delivery)
        delivery.finished.set()

    def _post(self, delivery: Delivery) -> None:
        status, body = 0, b""
        try:
            headers = (
                {**delivery.headers, **delivery.sign(delivery.body)} if delivery.sign else delivery.headers
            )
            response = httpx.post(
                delivery.url,
                content=delivery.body,
                headers=headers,
                timeout=self.timeout_s,
                verify=_tls_context(),
            )
            status, body = response.status_code, response.content
        except httpx.HTTPError as exc:
            logger.info("sandbox notification not delivered: %s", exc)
        with self._lock:
            delivery.attempts.append((time.monotonic(), status))
            if status and delivery.is_ack(status, body):
                delivery.acknowledged = True

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until every delivery so far has finished (acknowledged, lost or given up)."""
        deadline = time.monotonic() + timeout_s
        for delivery in list(self.deliveries):
            if not delivery.finished.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True
