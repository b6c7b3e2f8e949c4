//! The load client's messages: JSON-like text, shared by deflate-load and compress_micro
//! so both measure the same bytes.

/// JSON-like text of exactly `n` bytes; `seq` varies it so consecutive messages differ
/// the way real traffic does (same keys, different values).
pub fn payload(n: usize, seq: u64) -> Vec<u8> {
    const WORDS: [&str; 8] = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
    let mut s = String::with_capacity(n + 96);
    let mut i = seq;
    while s.len() < n {
        s.push_str(&format!(
            "{{\"id\":{i},\"user\":\"{}\",\"room\":\"r{}\",\"text\":\"{} {}\",\"ts\":{}}},",
            WORDS[(i % 8) as usize],
            i % 17,
            WORDS[(i * 3 % 8) as usize],
            WORDS[(i * 5 % 8) as usize],
            1_700_000_000_000u64 + i * 37
        ));
        i += 1;
    }
    s.truncate(n);
    s.into_bytes()
}
