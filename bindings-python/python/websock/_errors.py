"""The websock exception hierarchy. The native module raises these (mapped in one place,
``to_py_err`` in src/lib.rs); the Python layer raises them too."""

from __future__ import annotations

__all__ = [
    "WebSocketError",
    "ConnectionClosed",
    "ServerClosed",
    "InvalidArgument",
    "TLSError",
    "WebSocketOSError",
]


class WebSocketError(Exception):
    """Base class of every error websock raises."""


class ConnectionClosed(WebSocketError):
    """The connection is closed (or never existed): it can no longer be sent to or tagged.

    ``code`` and ``reason`` are set when the close is known (``recv`` / ``async for``)."""

    def __init__(self, message: str = "connection closed", code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class ServerClosed(WebSocketError):
    """The server is shut down (or shutting down) and takes no more work."""


class InvalidArgument(WebSocketError, ValueError):
    """An argument was rejected (bad tag, close code, option ...)."""


class TLSError(WebSocketError):
    """The TLS certificate or key could not be loaded."""


class WebSocketOSError(WebSocketError, OSError):
    """An operating-system error (bind, listen, adopting a descriptor); ``errno`` is set."""
