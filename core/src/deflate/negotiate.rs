//! RFC 7692 §5 and §7.1 negotiation, server side: split every `Sec-WebSocket-Extensions`
//! value into offers (commas and semicolons outside quoted strings, any case), pick the
//! first permessage-deflate offer this server can accept, and write the response value.
//! The RFC never asks a server to fail the handshake over an offer: an offer with an
//! unknown, repeated or invalid parameter, or one we cannot honour, is declined and the
//! next one is tried; with none left the connection simply runs uncompressed.

use super::config::{Compression, CompressionMode};

/// What both sides agreed on for one connection (6 bytes, kept inline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// We reset our compressor before every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor before every message, so we keep none of its
    /// history.
    pub client_no_context_takeover: bool,
    /// Our compressor's window (9..=15).
    pub server_window_bits: u8,
    /// The client's window (8..=15): how much of its history we keep when it takes
    /// context over.
    pub client_window_bits: u8,
    /// Whether the response names each window size (the RFC's rules for what must and
    /// may be echoed are applied in `accept_offer`).
    pub say_server_bits: bool,
    pub say_client_bits: bool,
}

impl Agreed {
    /// Does this agreement keep any LZ77 context between messages (i.e. per-connection
    /// memory)?
    pub fn keeps_context(&self) -> bool {
        !(self.server_no_context_takeover && self.client_no_context_takeover)
    }

    /// The exact `Sec-WebSocket-Extensions` response value.
    pub fn response_value(&self) -> String {
        let mut s = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if self.say_server_bits {
            s.push_str(&format!("; server_max_window_bits={}", self.server_window_bits));
        }
        if self.say_client_bits {
            s.push_str(&format!("; client_max_window_bits={}", self.client_window_bits));
        }
        s
    }
}

/// One element of the extension list: a name and its parameters (names lower-cased,
/// values unquoted). `None` for an element that is not syntactically valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offer {
    pub name: String,
    pub params: Vec<(String, Option<String>)>,
}

/// Splits `s` at `sep` bytes outside quoted strings (backslash escapes honoured inside).
fn split_outside_quotes(s: &str, sep: u8) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i, mut quoted) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

/// An HTTP token (RFC 7230 §3.2.6 tchar).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A parameter value: a token, or a quoted string whose unescaped content is a token
/// (RFC 6455 §9.1).
fn param_value(v: &str) -> Option<String> {
    let v = v.trim_matches([' ', '\t']);
    let unq = if let Some(inner) = v.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return None,
                c => out.push(c),
            }
        }
        out
    } else {
        v.to_string()
    };
    is_token(&unq).then_some(unq)
}

fn parse_element(e: &str) -> Option<Offer> {
    let mut parts = split_outside_quotes(e, b';').into_iter();
    let name = parts.next()?.trim_matches([' ', '\t']);
    if !is_token(name) {
        return None;
    }
    let mut params = Vec::new();
    for p in parts {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k, Some(param_value(v)?)),
            None => (p, None),
        };
        let k = k.trim_matches([' ', '\t']);
        if !is_token(k) {
            return None;
        }
        params.push((k.to_ascii_lowercase(), v));
    }
    Some(Offer { name: name.to_ascii_lowercase(), params })
}

/// Every element of every header value, in order. Empty elements (`a, , b`) are skipped
/// as RFC 7230 §7 allows; malformed ones come back as `None` so they can be declined
/// without losing the offers around them.
pub(crate) fn parse_offers(values: &[&str]) -> Vec<Option<Offer>> {
    let mut out = Vec::new();
    for v in values {
        for e in split_outside_quotes(v, b',') {
            if e.trim_matches([' ', '\t']).is_empty() {
                continue;
            }
            out.push(parse_element(e));
        }
    }
    out
}

/// A window-bits value: `8`..`15` written without leading zeros (RFC 7692 §7.1.2).
fn window_bits(v: &str) -> Option<u8> {
    match v {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => v.parse().ok(),
        _ => None,
    }
}

/// Decides one permessage-deflate offer. `dedicated` says whether this connection may
/// keep context (the mode is `Dedicated` and a slot was free).
pub(crate) fn accept_offer(offer: &Offer, cfg: &Compression, dedicated: bool) -> Option<Agreed> {
    let (mut snct, mut cnct) = (false, false);
    let mut smwb: Option<u8> = None;
    let mut cmwb: Option<Option<u8>> = None; // Some(None): the bare form
    for (k, v) in &offer.params {
        match k.as_str() {
            "server_no_context_takeover" if !snct && v.is_none() => snct = true,
            "client_no_context_takeover" if !cnct && v.is_none() => cnct = true,
            "server_max_window_bits" if smwb.is_none() => smwb = Some(window_bits(v.as_deref()?)?),
            "client_max_window_bits" if cmwb.is_none() => {
                cmwb = Some(match v {
                    None => None,
                    Some(v) => Some(window_bits(v)?),
                })
            }
            // Unknown, repeated, or a value where none belongs: decline (§7.1).
            _ => return None,
        }
    }
    let want = match cfg.mode {
        CompressionMode::Disabled => return None,
        CompressionMode::Dedicated { window_bits } if dedicated => window_bits,
        _ => 15,
    };
    let keep = matches!(cfg.mode, CompressionMode::Dedicated { .. }) && dedicated;

    // Our compressor: never more than the client allows. zlib cannot produce raw
    // deflate with a 256-byte window and answering 9 to an offer of 8 would break the
    // "same or smaller" rule, so an offer of 8 is declined.
    let server_window_bits = smwb.map_or(want, |m| m.min(want));
    if server_window_bits < 9 {
        return None;
    }
    // Must echo when offered (§7.1.2.1); may add it to tell the client it needs less.
    let say_server_bits = smwb.is_some() || server_window_bits < 15;

    let server_no_context_takeover = snct || !keep;
    let (client_no_context_takeover, client_window_bits, say_client_bits) = if !keep || cnct {
        // Shared mode asks the client not to take context over either (§7.1.1.2 lets a
        // server add the parameter to any offer), so nothing of it is kept.
        (true, 15, false)
    } else if let Some(m) = cmwb {
        let c = m.unwrap_or(15).min(want);
        (false, c, true)
    } else if want == 15 {
        (false, 15, false)
    } else {
        // The client may use a 32 KiB window and we were told to keep less: ask it to
        // reset instead of keeping a window we did not budget for.
        (true, 15, false)
    };
    Some(Agreed {
        server_no_context_takeover,
        client_no_context_takeover,
        server_window_bits,
        client_window_bits,
        say_server_bits,
        say_client_bits,
    })
}

/// The first acceptable permessage-deflate offer among all header values, or `None`
/// (then no `Sec-WebSocket-Extensions` header goes into the response).
pub(crate) fn choose(values: &[&str], cfg: &Compression, dedicated: bool) -> Option<Agreed> {
    if !cfg.enabled() {
        return None;
    }
    parse_offers(values)
        .into_iter()
        .flatten()
        .filter(|o| o.name == "permessage-deflate")
        .find_map(|o| accept_offer(&o, cfg, dedicated))
}
