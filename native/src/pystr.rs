//! The few `str` methods of Python whose definitions differ from Rust's.

/// `str.isspace()` for one character (Rust's `char::is_whitespace` lacks U+001C..U+001F).
pub fn py_isspace(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r' | '\x1c'..=' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
            | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// `str.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// `str.strip(chars)`.
pub fn py_strip_chars<'a>(s: &'a str, chars: &[char]) -> &'a str {
    s.trim_matches(|c| chars.contains(&c))
}

/// `str.rstrip("\r\n")`.
pub fn rstrip_crlf(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}
