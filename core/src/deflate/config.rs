//! The public compression settings (`Options::compression`): which permessage-deflate
//! mode a server runs, the size threshold, the compression level, and the cap on
//! connections that may keep a compression window between messages.

/// How a server uses permessage-deflate (RFC 7692).
///
/// Memory per connection, measured by the tests in `deflate/tests.rs` (see
/// `BENCH-NOTES.md` there for the numbers):
///
/// | mode | per idle connection | per loop |
/// |---|---|---|
/// | `Disabled` | 0 | 0 |
/// | `Shared` | 0 extra bytes beyond the 16-byte inline state | at level 1 a 64 KiB hash table (`quick.rs`); at other levels one zlib compressor (~270 KB) for whole messages, plus one per other window size in use, only for clients that asked for a server window under 32 KiB and get messages longer than it; one decompressor (~45 KB) |
/// | `Dedicated { window_bits: w }` | at most `2^w − 262` bytes of our recent output + `2^w` bytes of the client's recent input, only while the agreement keeps context; 0 if both sides agreed to no context takeover | as `Shared` (at levels 2–9 one zlib compressor per window size in use), plus at level 1 up to 64 KiB of scratch for history + message |
///
/// Every compressed message is sync-flushed (it never ends the DEFLATE stream with a
/// final block): see `codec.rs` for the clients that fail on complete streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionMode {
    /// Offers are declined; no compression (the default).
    #[default]
    Disabled,
    /// No LZ77 window is kept between messages in either direction: the response always
    /// carries `server_no_context_takeover` and `client_no_context_takeover` (RFC 7692
    /// §7.1.1 lets a server add both even when the client did not ask). Every connection of
    /// a loop uses that loop's compressor; a connection holds nothing while idle, and a
    /// broadcast is compressed once per window size for every receiver.
    Shared,
    /// Each connection keeps its compression context between messages, with a window of
    /// `2^window_bits` bytes (9..=15, i.e. 512 B … 32 KiB): better ratios for streams of
    /// similar messages, at the cost of the retained window per connection. The client is
    /// asked for the same window (`client_max_window_bits=w`) when it offers that
    /// parameter; a client that cannot limit its window (no `client_max_window_bits` in
    /// its offer) is asked for `client_no_context_takeover` instead unless `w` is 15.
    /// Beyond [`Compression::max_dedicated`] connections, new ones get `Shared`.
    Dedicated { window_bits: u8 },
}

/// permessage-deflate settings for a server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compression {
    pub mode: CompressionMode,
    /// Messages shorter than this many bytes are sent uncompressed (RSV1 clear), which
    /// RFC 7692 allows at any time. Compressing a few dozen bytes costs more CPU than it
    /// saves on the wire. Default 1024 (the same as Node `ws`).
    pub threshold: usize,
    /// Most connections (server-wide) that may hold a `Dedicated` context at once; the
    /// rest are negotiated as `Shared`. Default 10 000.
    pub max_dedicated: usize,
    /// Compression level, 1 (fastest) … 9 (smallest), zlib's scale. Default 1, as gorilla
    /// and coder/websocket (Go) ship: compressing is most of a server's CPU per
    /// compressed message, and level 1 keeps most of the saving. On 4 KiB of JSON-like
    /// text without context (`bench/deflate-load`): level 1 takes ~6 µs and leaves 28 %
    /// of the bytes (1,138 B; our own compressor, `quick.rs`), level 6 (zlib's default,
    /// `ws` and `websockets` use it) ~24 µs and 16 % (640 B). Level 1 is websock's own
    /// compressor for every message, with or without a kept context (`quick.rs`);
    /// levels 2–9 are zlib-rs.
    pub level: u8,
}

impl Default for Compression {
    fn default() -> Self {
        Compression { mode: CompressionMode::Disabled, threshold: 1024, max_dedicated: 10_000, level: 1 }
    }
}

impl Compression {
    /// Shared mode with default threshold, level and cap.
    pub fn shared() -> Self {
        Compression { mode: CompressionMode::Shared, ..Default::default() }
    }

    /// Dedicated mode with a window of `2^window_bits` bytes.
    pub fn dedicated(window_bits: u8) -> Self {
        Compression { mode: CompressionMode::Dedicated { window_bits }, ..Default::default() }
    }

    /// Checks the values; the message suits `Error::InvalidArgument`.
    pub fn validate(&self) -> Result<(), &'static str> {
        if let CompressionMode::Dedicated { window_bits } = self.mode {
            // 8 is legal on the wire but raw deflate in zlib cannot compress with a
            // 256-byte window; 9 is the smallest we can honour.
            if !(9..=15).contains(&window_bits) {
                return Err("compression window_bits must be 9..=15");
            }
        }
        if !(1..=9).contains(&self.level) {
            return Err("compression level must be 1..=9");
        }
        Ok(())
    }

    pub(crate) fn enabled(&self) -> bool {
        self.mode != CompressionMode::Disabled
    }
}
