"""The HTTP server: Sandbox serves an Account on 127.0.0.1 in a background thread, records every request,
lets its Faults have their say, routes, authenticates and runs the handler; the request handler encodes
the Reply as UTF-8 JSON (or as a fault mangles it) and, when asked, reports each answer as Served."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .account import Account
from .faults import Faults
from .messages import ApiError, ApiRequest, RecordedRequest, Reply
from .oauth import TOKEN_PATH, OAuthGrants
from .paging import given_query
from .routes import authenticate, find_route

API_PREFIX = "/api/v3.3"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
# How often the serving thread looks for stop(); the default 0.5 s made every stop() take that long.
SHUTDOWN_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Served:
    """One answered request, as the server saw it (for benchmarks: how long the server itself took)."""

    method: str
    path: str  # the API path, as RecordedRequest.path
    status: int  # 0 when reset_connection answered nothing
    started: float  # time.monotonic() when Sandbox.handle began
    handled_s: float  # routing, auth, handler and any latency fault: Sandbox.handle's duration
    encoded_s: float  # encoding the answer's body (0.0 where nothing was encoded; with cache_answers a GET
    # is encoded while it is handled, the first time, and sent as it was ever after)


def _request_path(target: str) -> tuple[str, bool]:
    """A request target's path, unquoted, as Sandbox.requests records it: after API_PREFIX when it is
    inside the API (True), else the whole path (False)."""
    path = unquote(urlsplit(target).path)
    inside = path.startswith(API_PREFIX + "/")
    return (path[len(API_PREFIX) :] if inside else path), inside


@dataclass(frozen=True)
class _Arrival:
    """One request as Sandbox.handle reads it."""

    method: str
    path: str  # as _request_path gives it
    in_api: bool
    sent: dict[str, str]  # the query as sent, recorded so (`date=` included)
    query: dict[str, str]  # as given_query() makes it: what routing and handlers see
    authorization: str | None
    document: Any  # the body decoded as UTF-8 JSON (a form for the token endpoint); None when empty or undecodable

    @classmethod
    def read(cls, method: str, target: str, authorization: str | None, body: bytes) -> _Arrival:
        """Split the request target into path and query and decode the body."""
        path, in_api = _request_path(target)
        sent = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
        document = _decode_form(body) if path == TOKEN_PATH and not in_api else _decode_body(body)
        return cls(method, path, in_api, sent, given_query(sent), authorization, document)

    def recorded(self, fault: str | None = None) -> RecordedRequest:
        """The request as Sandbox.requests keeps it."""
        return RecordedRequest(self.method, self.path, self.sent, self.document, fault)


def _decode_form(raw: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, as the token endpoint takes it."""
    return dict(parse_qsl(raw.decode("utf-8", errors="replace")))


def _decode_body(raw: bytes) -> Any:
    """A request body as UTF-8 JSON; None when empty or undecodable, and handlers that need one say so."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:  # also UnicodeDecodeError
        return None


class Sandbox:
    """Serves an Account on 127.0.0.1 in a background thread; use as a context manager or start()/stop().

    `on_served`, when given, is called by the server thread once per HTTP request, after the answer's body
    is encoded and before it is written, with what the server saw (Served); without it nothing is timed.

    `cache_answers` keeps each GET's encoded answer (by target, key and the account's now) until the next
    request that is not a GET, so a benchmark's server answers a page it has served before as fast as a
    plain server returning pre-built pages. Requests are recorded all the same. Latency and the window
    limiter only delay an answer or add headers to it, so cached answers go out under them too; an answer
    a fault gives or cuts, and every answer while insert_while_paging waits to change a list, is made
    afresh and not kept. Off by default: a test that changes the account's rows directly, without moving
    its now, would be served the old answer."""

    def __init__(
        self,
        account: Account,
        port: int = 0,
        on_served: Callable[[Served], None] | None = None,
        cache_answers: bool = False,
    ):
        self.account = account
        self.port = port
        self.on_served = on_served
        self._caching = cache_answers
        self._answers: dict[tuple, Reply] = {}
        self._answers_made = 0  # how many times the cache was emptied
        self.requests: list[RecordedRequest] = []
        self.faults = Faults()
        self.oauth = OAuthGrants()  # Bearer tokens: grant(), expire(), revoke()
        self._requests_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def api_key(self) -> str:
        """The administrator key, which sees every client."""
        return self.account.api_key

    @property
    def base_url(self) -> str:
        """The API base of the running server, e.g. http://127.0.0.1:54321/api/v3.3."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{API_PREFIX}"

    def start(self) -> Sandbox:
        """Bind (port 0 picks a free one) and serve in a daemon thread."""
        self._server = _Server(("127.0.0.1", self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="cm-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handle(self, method: str, target: str, authorization: str | None, body: bytes = b"") -> Reply:
        """Record the request with its query as sent, then route, authenticate and run its handler
        under the account's lock with the query as given_query() makes it (an empty parameter is one
        not sent); when a fault switch is on, let the faults have their say first."""
        arrival = _Arrival.read(method, target, authorization, body)
        key = (target, authorization, self.account.system_date)
        if self.faults.armed:
            return self._handle_with_faults(arrival, key)
        with self._requests_lock:
            self.requests.append(arrival.recorded())
        if not self._caching:
            return self._serve(arrival)
        return self._cached(arrival, key)

    def _cached(self, arrival: _Arrival, key: tuple) -> Reply:
        """The answer cache (``cache_answers``): a GET answered before is sent as it was encoded then;
        any other request empties the cache, since it may change what a GET answers."""
        if arrival.method != "GET":
            self._forget_answers()
            return self._serve(arrival)
        reply = self._answers.get(key)
        if reply is None:
            made = self._answers_made
            reply = self._serve(arrival)
            reply = replace(reply, body=_json_bytes(reply.payload))
            if made == self._answers_made:
                self._answers[key] = reply
        return reply

    def _forget_answers(self) -> None:
        """Empty the answer cache; a GET being answered meanwhile is not kept either."""
        self._answers_made += 1
        self._answers.clear()

    def _handle_with_faults(self, arrival: _Arrival, key: tuple) -> Reply:
        """handle() while a fault switch is on: decide and record in one step, so requests take faults in
        the order they are recorded; wait (holding no lock); then answer as the fault says (from the
        answer cache, when there is one, if no fault took the request and no list is about to change)."""
        with self._requests_lock:
            admission = self.faults.admit(arrival.path)
            self.requests.append(arrival.recorded(admission.fault))
        if admission.delay:
            time.sleep(admission.delay)
        if admission.reply is not None:
            return admission.reply
        if self._caching and admission.fault is None and not self.faults.changes_rows:
            reply = self._cached(arrival, key)
        else:
            if self._caching and self.faults.changes_rows:
                self._forget_answers()  # kept before the list changes: not what it will answer after
            reply = self._serve(arrival)
        if admission.fault is None:
            self.faults.served(self.account, arrival.method, arrival.path, arrival.query, reply.status)
        else:  # truncate
            reply = replace(reply, fault=admission.fault)
        if admission.headers:
            reply = replace(reply, headers={**reply.headers, **admission.headers})
        return reply

    def _serve(self, arrival: _Arrival) -> Reply:
        """Route, authenticate and run the handler, with the query given_query() made, under the
        account's lock."""
        try:
            if not arrival.in_api and arrival.path == TOKEN_PATH and arrival.method == "POST":
                return Reply(*self.oauth.refreshed(arrival.document))
            if not arrival.in_api:
                raise ApiError(404, 404, f"Unknown endpoint: {arrival.path}")
            handler, params, status = find_route(arrival.method, arrival.path)
            scope = authenticate(self.account, arrival.authorization, self.oauth)
            with self.account.lock:
                return Reply(status, handler(ApiRequest(self.account, scope, params, arrival.query, arrival.document)))
        except ApiError as error:
            return Reply(error.status, error.payload(), error.headers)


def _json_bytes(payload: Any) -> bytes:
    """A payload as compact UTF-8 JSON (non-ASCII as is, not \\u escapes); None is no body at all."""
    if payload is None:
        return b""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _encoded(reply: Reply) -> tuple[str, bytes] | None:
    """The Content-Type and body an answer goes out with; None for reset_connection, which sends nothing.
    garbage's payload is an HTML page; every other answer is JSON (truncate's is cut when sent)."""
    if reply.fault == "reset_connection":
        return None
    if reply.fault == "garbage":
        return HTML_CONTENT_TYPE, str(reply.payload).encode("utf-8")
    return JSON_CONTENT_TYPE, reply.body if reply.body is not None else _json_bytes(reply.payload)


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into Sandbox.handle calls and sends the encoded replies."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait between them
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line: benchmarks send thousands."""

    def _dispatch(self) -> None:
        """Answer any method; the body is always read in full so the connection stays usable. With an
        on_served hook, time Sandbox.handle and the encoding, and report them before the answer goes out."""
        sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        sandbox = self.server.sandbox
        on_served = sandbox.on_served
        started = time.monotonic() if on_served else 0.0
        reply = sandbox.handle(self.command, self.path, self.headers.get("Authorization"), sent)
        handled = time.monotonic() if on_served else 0.0
        encoded = _encoded(reply)
        if on_served:
            encoded_s = 0.0 if reply.payload is None or reply.body is not None else time.monotonic() - handled
            path = _request_path(self.path)[0]
            on_served(Served(self.command, path, reply.status, started, handled - started, encoded_s))
        self._send(reply, encoded)

    def _send(self, reply: Reply, encoded: tuple[str, bytes] | None) -> None:
        """Status line, headers and body. Only truncate (half the body) and reset_connection (nothing at
        all) end the connection; every other answer is whole, so keep-alive goes on."""
        if encoded is None:
            self.close_connection = True  # the server closes the socket; not a byte was sent
            return
        content_type, body = encoded
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.fault == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class _Server(ThreadingHTTPServer):
    """A threading server that knows its sandbox; its threads never block shutdown."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sandbox: Sandbox):
        super().__init__(address, _RequestHandler)
        self.sandbox = sandbox
