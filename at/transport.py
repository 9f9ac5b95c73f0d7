"""Kept for existing imports: the at_host link now lives in `at.link`."""
from __future__ import annotations

from .link.at_host import AtHostLink as Transport
from .link.at_host import Response, Trace
from .link.serial_port import open_serial

__all__ = ["Transport", "Response", "Trace", "open_serial"]
