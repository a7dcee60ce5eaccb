//! `parsing/clf.py`: the field codecs every text format shares, and common/combined/vhost_combined.

use regex::Regex;
use std::sync::OnceLock;

use crate::pystr::rstrip_crlf;
use crate::time::{self, Time};

/// `parsing.record.Request`: one parsed line (still personal data).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub client: Option<String>,
    pub time: Time,
    pub method: Option<String>,
    pub target: Option<String>,
    pub protocol: Option<String>,
    pub status: Option<u16>,
    pub bytes: u64,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
    pub user: Option<String>,
    pub host: Option<String>,
    pub forwarded_for: Option<String>,
    pub duration: Option<f64>,
}

/// The reason codes of `ParseError` (`parsing.formats.REASONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    NoMatch,
    BadTime,
    BadStatus,
    BadField,
    BadJson,
    MissingField,
}

impl Reject {
    pub fn reason(self) -> &'static str {
        match self {
            Reject::NoMatch => "no_match",
            Reject::BadTime => "bad_time",
            Reject::BadStatus => "bad_status",
            Reject::BadField => "bad_field",
            Reject::BadJson => "bad_json",
            Reject::MissingField => "missing_field",
        }
    }
}

pub type Parsed = Result<Request, Reject>;

// ---- field codecs -------------------------------------------------------------------------

/// `clf.text_field`: `-` or nothing is absent; Apache, nginx default and nginx json escapes undone.
pub fn text_field(value: Option<&str>) -> Option<String> {
    let value = value?;
    if value.is_empty() || value == "-" {
        return None;
    }
    if !value.contains('\\') {
        return Some(value.to_owned());
    }
    Some(unescape(value))
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// One left-to-right pass of `((?:\\x[0-9A-Fa-f]{2})+)|\\u([0-9A-Fa-f]{4})|\\(.)`.
fn unescape(value: &str) -> String {
    let b = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    let mut plain = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            i += 1;
            continue;
        }
        out.push_str(&value[plain..i]);
        // A run of \xHH: UTF-8 bytes decoded together, invalid ones replaced.
        let mut run = Vec::new();
        let mut j = i;
        while j + 3 < b.len() && b[j] == b'\\' && b[j + 1] == b'x' {
            match (hex_val(b[j + 2]), hex_val(b[j + 3])) {
                (Some(h), Some(l)) => {
                    run.push(h << 4 | l);
                    j += 4;
                }
                _ => break,
            }
        }
        if !run.is_empty() {
            out.push_str(&String::from_utf8_lossy(&run));
            i = j;
            plain = i;
            continue;
        }
        if b[i + 1] == b'u' && i + 5 < b.len() && b[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) {
            let point = u32::from_str_radix(&value[i + 2..i + 6], 16).unwrap();
            out.push(char::from_u32(point).unwrap_or('\u{fffd}'));
            i += 6;
            plain = i;
            continue;
        }
        // \ and any one character (a whole code point).
        let c = value[i + 1..].chars().next().unwrap();
        out.push(match c {
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            other => other,
        });
        i += 1 + c.len_utf8();
        plain = i;
    }
    out.push_str(&value[plain..]);
    out
}

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND",
];
const PROTOCOLS: [&str; 6] = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/2", "HTTP/3.0", "HTTP/3"];

fn request_line_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?s)\A([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^ ].*?)(?: ([A-Z]{2,}/[0-9]+(?:\.[0-9]+)?))?\z").unwrap()
    })
}

pub type RequestLine = (Option<String>, Option<String>, Option<String>);

/// `clf.split_request_line`: (method, target, protocol), all None for `-` or garbage.
pub fn split_request_line(line: Option<&str>) -> RequestLine {
    let Some(line) = line else { return (None, None, None) };
    let mut parts = line.split(' ');
    if let (Some(m), Some(t), Some(p), None) = (parts.next(), parts.next(), parts.next(), parts.next()) {
        if METHODS.contains(&m) && PROTOCOLS.contains(&p) && !t.is_empty() {
            return (Some(m.into()), Some(t.into()), Some(p.into()));
        }
    }
    match request_line_re().captures(line) {
        Some(c) => (
            c.get(1).map(|m| m.as_str().to_owned()),
            c.get(2).map(|m| m.as_str().to_owned()),
            c.get(3).map(|m| m.as_str().to_owned()),
        ),
        None => (None, None, None),
    }
}

/// `clf.parse_status`: exactly three digits, 100-599.
pub fn parse_status(value: &str) -> Result<u16, Reject> {
    let b = value.as_bytes();
    if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && b[1].is_ascii_digit() && b[2].is_ascii_digit() {
        return Ok(value.parse().unwrap());
    }
    Err(Reject::BadStatus)
}

pub fn parse_clf_time(value: &str) -> Result<Time, Reject> {
    time::parse_clf(value).ok_or(Reject::BadTime)
}

// ---- the formats --------------------------------------------------------------------------

// Python's `\S` and `\d` under re.ASCII, spelled out for a Unicode regex.
const NS: &str = r"[^ \t\n\r\x0B\x0C]";
// The fast quoted field ("[^"]*" not closed after a backslash) and the escape-aware one.
const FAST_Q: &str = r#""((?:[^"]*[^"\\])?)""#;
const FULL_Q: &str = r#""([^"\\]*(?:\\.[^"\\]*)*)""#;
const TAIL: &str = r"(?: .*)?";
// `(?: (?!").*)?` without a lookahead: trailing fields that do not start with a quote.
const UNQUOTED_TAIL: &str = r#"(?: (?:[^"].*)?)?"#;

fn common(q: &str) -> String {
    format!(r"({NS}+) {NS}+ ({NS}+) \[([^\]]*)\] {q} ({NS}+) ([0-9]{{1,19}}|-)")
}

fn vhost() -> String {
    format!(r"({NS}+?)(?::[0-9]+)? ")
}

fn agents(fast: bool) -> String {
    if fast {
        format!(" {FAST_Q} {FAST_Q}{TAIL}")
    } else {
        format!(r#" {FULL_Q} (?:{FULL_Q}{TAIL}|"(.*)"(?: [^"]*)?)"#)
    }
}

fn whole(pattern: &str) -> Regex {
    Regex::new(&format!(r"(?s)\A(?:{pattern})\z")).unwrap()
}

pub struct Matchers {
    fast: Regex,
    full: Regex,
}

impl Matchers {
    pub fn captures<'h>(&self, line: &'h str) -> Option<regex::Captures<'h>> {
        self.fast.captures(line).or_else(|| self.full.captures(line))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clf {
    Common,
    Combined,
    VhostCombined,
    /// `common` with no quoted field after the size: how `auto` reads a common line.
    CommonAlone,
}

fn matchers(kind: Clf) -> &'static Matchers {
    static M: OnceLock<[Matchers; 4]> = OnceLock::new();
    let all = M.get_or_init(|| {
        let make = |prefix: &str, rest_fast: String, rest_full: String| Matchers {
            fast: whole(&format!("{prefix}{}{rest_fast}", common(FAST_Q))),
            full: whole(&format!("{prefix}{}{rest_full}", common(FULL_Q))),
        };
        [
            make("", TAIL.into(), TAIL.into()),
            make("", agents(true), agents(false)),
            make(&vhost(), agents(true), agents(false)),
            make("", UNQUOTED_TAIL.into(), UNQUOTED_TAIL.into()),
        ]
    });
    &all[kind as usize]
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `(\S+)` then one space: the token's end.
fn token(b: &[u8], i: usize) -> Option<usize> {
    let end = i + b[i..].iter().position(|&c| is_ws(c)).unwrap_or(b.len() - i);
    (end > i && b.get(end) == Some(&b' ')).then_some(end)
}

/// The fast form of a quoted field, `"((?:[^"]*[^"\\])?)"`, at `i`: (content end, after the quote).
fn fast_quoted(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let end = i + 1 + memchr::memchr(b'"', &b[i + 1..])?;
    if end > i + 1 && b[end - 1] == b'\\' {
        return None;
    }
    Some((end, end + 1))
}

/// The fields of a line as the fast regex of `kind` captures them, matched by hand: every part of
/// that regex reads up to a delimiter it cannot contain, so there is one way to match and this is it.
/// None where the regex would not match (the escape-aware regex then decides).
fn fast_fields(kind: Clf, line: &str) -> Option<[Option<&str>; 10]> {
    let b = line.as_bytes();
    let mut f: [Option<&str>; 10] = [None; 10];
    let s = |a: usize, z: usize| Some(&line[a..z]);
    let mut i = 0;
    if kind == Clf::VhostCombined {
        // (\S+?)(?::[0-9]+)? then a space: the shortest host whose rest is a port, so a trailing :digits.
        let end = token(b, 0)?;
        let tok = &b[..end];
        let host_end = match tok.iter().rposition(|&c| c == b':') {
            Some(p) if p >= 1 && p + 1 < tok.len() && tok[p + 1..].iter().all(u8::is_ascii_digit) => p,
            _ => end,
        };
        f[0] = s(0, host_end);
        i = end + 1;
    }
    let e = token(b, i)?;
    f[1] = s(i, e);
    let e2 = token(b, e + 1)?;
    let e3 = token(b, e2 + 1)?;
    f[2] = s(e2 + 1, e3);
    if b.get(e3 + 1) != Some(&b'[') {
        return None;
    }
    let t = e3 + 2 + memchr::memchr(b']', &b[e3 + 2..])?;
    f[3] = s(e3 + 2, t);
    if b.get(t + 1) != Some(&b' ') {
        return None;
    }
    let (q, after) = fast_quoted(b, t + 2)?;
    f[4] = s(t + 3, q);
    if b.get(after) != Some(&b' ') {
        return None;
    }
    let st = token(b, after + 1)?;
    f[5] = s(after + 1, st);
    let z = st + 1;
    let size_end = if b.get(z) == Some(&b'-') {
        z + 1
    } else {
        let n = b[z..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 19 {
            return None;
        }
        z + n
    };
    f[6] = s(z, size_end);
    let mut end = size_end;
    if kind == Clf::CommonAlone {
        // (?: (?!").*)? then the end
        let ok = end == b.len() || (b[end] == b' ' && b.get(end + 1) != Some(&b'"'));
        return ok.then_some(f);
    }
    if kind != Clf::Common {
        if b.get(end) != Some(&b' ') {
            return None;
        }
        let (q1, a1) = fast_quoted(b, end + 1)?;
        f[7] = s(end + 2, q1);
        if b.get(a1) != Some(&b' ') {
            return None;
        }
        let (q2, a2) = fast_quoted(b, a1 + 1)?;
        f[8] = s(a1 + 2, q2);
        end = a2;
    }
    // (?: .*)? then the end
    (end == b.len() || b[end] == b' ').then_some(f)
}

/// Parse one line of a CLF-family format, as `parse_common` / `parse_combined` / `parse_vhost_combined`.
pub fn parse_clf(kind: Clf, line: &str) -> Parsed {
    let line = rstrip_crlf(line);
    let fields = match fast_fields(kind, line) {
        Some(f) => f,
        None => {
            let caps = matchers(kind).captures(line).ok_or(Reject::NoMatch)?;
            let mut f: [Option<&str>; 10] = [None; 10];
            let shift = if kind == Clf::VhostCombined { 1 } else { 0 };
            if shift == 1 {
                f[0] = caps.get(1).map(|m| m.as_str());
            }
            for (k, slot) in f.iter_mut().enumerate().skip(1) {
                *slot = caps.get(k + shift).map(|m| m.as_str());
            }
            f
        }
    };
    parse_fields(kind, fields)
}

fn parse_fields(kind: Clf, f: [Option<&str>; 10]) -> Parsed {
    let host = f[0].map(str::to_owned);
    let (client, user, time_text, request, status, size) = (
        f[1].unwrap(),
        f[2].unwrap(),
        f[3].unwrap(),
        f[4].unwrap(),
        f[5].unwrap(),
        f[6].unwrap(),
    );
    let (referrer, agent, loose) = if matches!(kind, Clf::Common | Clf::CommonAlone) {
        (None, None, None)
    } else {
        (f[7], f[8], f[9])
    };
    let (method, target, protocol) = split_request_line(text_field(Some(request)).as_deref());
    let time = parse_clf_time(time_text)?;
    let status = parse_status(status)?;
    Ok(Request {
        client: if client == "-" { None } else { Some(client.to_owned()) },
        time,
        method,
        target,
        protocol,
        status: Some(status),
        bytes: if size == "-" {
            0
        } else {
            size.parse().map_err(|_| Reject::BadField)?
        },
        referrer: text_field(referrer),
        user_agent: text_field(if loose.is_none() { agent } else { loose }),
        user: text_field(Some(user)),
        host,
        forwarded_for: None,
        duration: None,
    })
}
