"""Option groups of ``websock.Server`` (TLS, limits, keepalive, backpressure, compression) and the
answers an upgrade hook may give (``Accept``, ``Reject``). Plain frozen dataclasses; a
field left as None keeps the core's default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence, Union

PathOrPem = Union[str, bytes, "os.PathLike[str]"]


def _read_pem(v: PathOrPem) -> bytes:
    # bytes are PEM data; str / PathLike are paths (a str holding PEM is accepted too).
    if isinstance(v, bytes):
        return v
    if isinstance(v, str) and v.lstrip().startswith("-----BEGIN"):
        return v.encode()
    with open(v, "rb") as f:
        return f.read()


@dataclass(frozen=True)
class TLS:
    """``wss://``: certificate chain and private key, as PEM file paths or PEM bytes."""

    cert: PathOrPem
    key: PathOrPem

    def pem(self) -> tuple[bytes, bytes]:
        return _read_pem(self.cert), _read_pem(self.key)


@dataclass(frozen=True)
class Limits:
    """Size and time limits (None keeps the core default: 64 MiB messages and frames,
    8 KiB request head, 10 s handshake, 5 s close handshake)."""

    max_message_size: int | None = None
    max_frame_size: int | None = None
    max_request_head: int | None = None
    handshake_timeout: float | None = None
    close_timeout: float | None = None


@dataclass(frozen=True)
class Keepalive:
    """A ping after ``ping_interval`` seconds of silence, a close after ``idle_timeout``
    seconds without traffic from the peer. None switches either off. The defaults are the
    core's (30 s, 120 s)."""

    ping_interval: float | None = 30.0
    idle_timeout: float | None = 120.0


@dataclass(frozen=True)
class Backpressure:
    """Outbound flow control per connection: beyond ``max_buffered`` queued bytes the
    connection is closed (``slow_consumer="close"``, with ``close_code``) or the message
    is dropped (``"drop"``); a ``drain`` event fires when the queue falls back to
    ``drain_threshold``. None keeps the core default (64 MiB, 64 KiB)."""

    max_buffered: int | None = None
    drain_threshold: int | None = None
    slow_consumer: Literal["close", "drop"] = "close"
    close_code: int = 1008


@dataclass(frozen=True)
class Compression:
    """permessage-deflate (RFC 7692), the same settings as the core's ``Compression``.

    ``mode``:

    * ``"shared"`` (default): no compression window is kept between messages (the server
      answers with ``server_no_context_takeover`` and ``client_no_context_takeover``); a
      connection holds no compression memory while idle, each event loop keeps one
      compressor per window size in use (~270 KB) and one decompressor (~45 KB), and a
      ``send_by_tag``/``broadcast`` is compressed once for all receivers.
    * ``"dedicated"``: each connection keeps its context between messages, with a window
      of ``2 ** window_bits`` bytes (``window_bits`` 9..15, required): better ratios for
      streams of similar messages, at up to ``2 * 2 ** window_bits`` bytes per connection.
      Beyond ``max_dedicated`` connections (server-wide), new ones get shared mode.
    * ``None``: declined, as with ``compression=None`` on the server (the default).

    ``threshold``: messages shorter than this many bytes go uncompressed (core default
    1024). ``level``: 1 (fastest, the default) .. 9 (smallest), zlib's scale. ``max_dedicated``: default 10 000.
    None keeps the core's default.
    """

    mode: Literal["shared", "dedicated"] | None = "shared"
    window_bits: int | None = None
    threshold: int | None = None
    level: int | None = None
    max_dedicated: int | None = None


@dataclass(frozen=True)
class Accept:
    """An upgrade hook's yes, with options: choose the subprotocol (one the client
    offered), add response headers (e.g. Set-Cookie), attach ``data`` that becomes
    ``conn.data`` when the connection opens."""

    subprotocol: str | None = None
    headers: Sequence[tuple[str, str]] = ()
    data: Any = None


@dataclass(frozen=True)
class Reject:
    """An upgrade hook's no: the HTTP response sent instead of upgrading."""

    status: int = 403
    body: bytes | str = b""
    headers: Sequence[tuple[str, str]] = field(default_factory=tuple)
