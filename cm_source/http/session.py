"""The ``requests`` session every request of a client goes through."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


class ConnectionKeysOnce(HTTPAdapter):
    """An adapter that works out a connection pool's settings once per host, not once per request.

    ``requests`` works them out for every request, and with a CA bundle named in the environment
    (``REQUESTS_CA_BUNDLE``, as containers set it) that is a ``stat`` of the bundle each time: measured,
    a fifth of a report fan-out's CPU. They depend only on the URL's scheme, host and port and on the
    ``verify`` and ``cert`` settings, which is what they are kept by.
    ``build_connection_pool_key_attributes`` is the method ``requests`` documents for subclasses to
    override."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._keys: dict[tuple, Any] = {}
        self._keys_lock = threading.Lock()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> Any:  # (host_params, pool_kwargs), typed by requests' stubs as two TypedDicts
        url = urlsplit(str(request.url))
        key = (url.scheme, url.hostname, url.port, verify, cert if not isinstance(cert, list) else tuple(cert))
        with self._keys_lock:
            found = self._keys.get(key)
        if found is None:
            found = super().build_connection_pool_key_attributes(request, verify, cert)
            with self._keys_lock:
                self._keys[key] = found
        host_params, pool_kwargs = found
        return dict(host_params), dict(pool_kwargs)  # copies: urllib3 may add to them


def new_session(connections: int) -> requests.Session:
    """A session keeping up to ``connections`` connections per host alive."""
    session = requests.Session()
    adapter = ConnectionKeysOnce(pool_maxsize=max(10, connections))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
