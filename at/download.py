"""Opening an at_client source, a file or an http(s) URL, with every failure explained.

Only the named host is contacted: a redirect elsewhere is refused. Kept apart from
at/firmware.py so that the HTTP stack (ssl, urllib) is imported only when a file is fetched.
"""
from __future__ import annotations

import http.client
import os
import socket
import ssl
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from .fetch_errors import NoNetworkError, NotPublishedError, RedirectError, ServerError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from typing import BinaryIO

READ_ERRORS = (OSError, http.client.HTTPException)  # a transfer that breaks off (IncompleteRead, reset, timeout)
_PORTS = {"http": 80, "https": 443}


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only on the same host (http -> https allowed): nothing else is contacted."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        same = (new.hostname, new.port or _PORTS.get(new.scheme)) == (old.hostname, old.port or _PORTS.get(old.scheme))
        upgrade = (old.scheme, new.scheme) == ("http", "https") and new.hostname == old.hostname
        if new.scheme not in _PORTS or not (same or upgrade) or (old.scheme, new.scheme) == ("https", "http"):
            fp.close()
            raise RedirectError(f"{req.full_url} redirects to {newurl}: refused, only the named source is contacted")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def open_location(location: str, timeout: float) -> tuple[BinaryIO, int | None]:
    """An open stream on `location` (URL or file) and its declared length, errors explained."""
    if not location.startswith(("http://", "https://")):
        try:
            handle = open(location, "rb")
        except FileNotFoundError:
            raise NotPublishedError(f"{location} does not exist") from None
        except OSError as exc:
            raise NotPublishedError(f"cannot read {location}: {exc.strerror or exc}") from None
        return handle, os.fstat(handle.fileno()).st_size
    opener = urllib.request.build_opener(_SameHostRedirects())
    request = urllib.request.Request(location, headers={"User-Agent": "nrf91-at", "Accept-Encoding": "identity"})
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (404, 410):
            raise NotPublishedError(f"{location} is not there (HTTP {exc.code})") from None
        raise ServerError(f"{location} answered HTTP {exc.code} {exc.reason}: try again later") from None
    except urllib.error.URLError as exc:
        raise _unreachable(location, exc.reason) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _unreachable(location, exc) from None
    length = response.headers.get("Content-Length")
    return response, int(length) if length and length.isdigit() else None


def _unreachable(location: str, reason: object) -> NoNetworkError:
    parts = urlsplit(location)  # host and port, never a user:password@ part
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    if isinstance(reason, ssl.SSLCertVerificationError):
        return NoNetworkError(f"cannot verify the TLS certificate of {host} ({reason.verify_message}): "
                              "install the system's CA certificates, or fetch from a folder")
    if isinstance(reason, socket.gaierror):
        return NoNetworkError(f"cannot reach {host}: name lookup failed (no network?)")
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return NoNetworkError(f"cannot reach {host}: timed out (no network, or a proxy is needed: HTTPS_PROXY)")
    text = getattr(reason, "strerror", None) or str(reason)
    return NoNetworkError(f"cannot reach {host}: {text} (no network?)")
