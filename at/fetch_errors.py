"""Why an at_client build could not be fetched or verified: one `FirmwareError` per cause (exit 11).

Only the commands that fetch (`cmng hex`, `-x`) load this module.
"""
from __future__ import annotations

from .errors import FirmwareError


class NoNetworkError(FirmwareError):
    """The source could not be reached: no network, name lookup, refused, timed out, TLS trust."""


class NotPublishedError(FirmwareError):
    """The source answered, but has no such file (HTTP 404/410, or missing from the folder)."""


class ServerError(FirmwareError):
    """The source answered with an HTTP error other than 'not found'."""


class RedirectError(FirmwareError):
    """The source redirected to another host: refused, only the named source is contacted."""


class TruncatedError(FirmwareError):
    """The transfer ended before the whole file arrived."""


class ChecksumError(FirmwareError):
    """What arrived is not the published file (another size or sha256)."""


class DiskFullError(FirmwareError):
    """No space (or quota) left for the file in the cache folder."""


class CacheError(FirmwareError):
    """The cache folder cannot be created or written."""


class NoBuildError(FirmwareError):
    """Nordic publishes no at_client build for this board: it has to be built."""
