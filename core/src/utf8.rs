//! Incremental UTF-8 validation, so text is rejected as soon as an invalid byte
//! arrives: in the middle of a frame, or of a fragmented message, not only at its end.

/// Validation state across chunks: at most three bytes of an unfinished code point.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Utf8State {
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8State {
    /// Checks the next chunk. `Err(())` as soon as the bytes seen so far cannot be UTF-8.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), ()> {
        if self.pending_len > 0 {
            // Complete the unfinished code point with as few bytes as it needs.
            let have = self.pending_len as usize;
            let need = char_width(self.pending[0]).ok_or(())?;
            let take = (need - have).min(data.len());
            self.pending[have..have + take].copy_from_slice(&data[..take]);
            let now = have + take;
            data = &data[take..];
            match std::str::from_utf8(&self.pending[..now]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    self.pending_len = now as u8;
                    return Ok(());
                }
                Err(_) => return Err(()),
            }
        }
        match std::str::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) => match e.error_len() {
                Some(_) => Err(()),
                None => {
                    let tail = &data[e.valid_up_to()..];
                    self.pending[..tail.len()].copy_from_slice(tail);
                    self.pending_len = tail.len() as u8;
                    Ok(())
                }
            },
        }
    }

    /// The message ended: an unfinished code point is an error.
    pub fn finish(&self) -> Result<(), ()> {
        if self.pending_len == 0 { Ok(()) } else { Err(()) }
    }
}

fn char_width(first: u8) -> Option<usize> {
    match first {
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_everywhere(bytes: &[u8]) -> bool {
        let whole = std::str::from_utf8(bytes).is_ok();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let mut s = Utf8State::default();
                let ok = s.feed(&bytes[..i]).is_ok()
                    && s.feed(&bytes[i..j]).is_ok()
                    && s.feed(&bytes[j..]).is_ok()
                    && s.finish().is_ok();
                assert_eq!(ok, whole, "{bytes:x?} split at {i},{j}");
            }
        }
        whole
    }

    #[test]
    fn agrees_with_std_at_every_split() {
        assert!(split_everywhere("κόσμε €𝄞 ok".as_bytes()));
        assert!(!split_everywhere(&[0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xED, 0xA0, 0x80]));
        assert!(!split_everywhere(&[0xF4, 0x90, 0x80, 0x80]));
        assert!(!split_everywhere(&[0xC0, 0x80]));
        assert!(!split_everywhere(&[b'a', 0xE2, 0x82]));
        assert!(!split_everywhere(&[0xFF]));
    }

    #[test]
    fn fails_fast_before_the_end() {
        let mut s = Utf8State::default();
        // 0xED 0xA0 is a surrogate start: wrong as soon as the second byte is seen.
        assert!(s.feed(&[b'a', 0xED]).is_ok());
        assert!(s.feed(&[0xA0]).is_err());
    }
}
