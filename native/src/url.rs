//! `privacy/url.py`: request target -> path template and allowlisted query parameters.
//!
//! Mirrors the reference for every target whose text stays ASCII once percent-decoded. Where a
//! segment or value decodes to non-ASCII (NFKC folding and Python's Unicode classes then apply),
//! or a regex gives up on a pathological input, the answer is `Fallback`: the caller runs the
//! Python reference on that target. Registrable domains (the Public Suffix List) come from the
//! caller through `Domains`, as the reference looks them up in Python.

use fancy_regex::Regex as Fancy;
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// This target needs the Python reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback;

pub type R<T> = Result<T, Fallback>;

/// `referrer.registrable_domain(host)` is truthy.
pub trait Domains {
    fn registrable(&mut self, host: &str) -> R<bool>;
}

pub const MAX_SEGMENT_LENGTH: usize = 64;
const MORE: &str = "{more}";
const UNPRINTABLE: &str = "{unprintable}";
const DECODE_ROUNDS: usize = 4;

// Python's Unicode `\d`, `\w`, `\s` on ASCII text (non-ASCII never reaches these).
const D: &str = "[0-9]";
const W: &str = "[0-9A-Za-z_]";
const S: &str = r"[\t\n\x0B\x0C\r\x1C-\x1F ]";

fn py(p: &str) -> String {
    p.replace(r"\d", D).replace(r"\w", W).replace(r"\s", S)
}

struct Patterns {
    absolute: Regex,
    authority_end: Regex,
    digits: Regex,
    year_month: Regex,
    version: Regex,
    uuid: Regex,
    ip_candidate: Regex,
    hex: Regex,
    token_chars: Regex,
    year: Regex,
    year_in: Regex,
    full_date: Regex,
    short_date: Regex,
    short_named_date: Regex,
    phone: Regex,
    phone_in: Fancy,
    dotted_phone: Regex,
    mac: Regex,
    mac_bare: Regex,
    coordinates: Fancy,
    degrees: Regex,
    at_not_email: Regex,
    at_bracketed: Regex,
    at_word: Fancy,
    dot_word: Regex,
    domain_start: Regex,
    secret: Regex,
    chunk: Regex,
    short_id: Regex,
    consonant_run: Regex,
    rare: [u32; 26], // per first letter, a bit per rare second letter
}

fn whole(p: &str) -> String {
    format!(r"\A(?:{p})\z")
}

fn re(p: &str) -> Regex {
    Regex::new(&py(p)).unwrap()
}

fn fancy(p: &str) -> Fancy {
    fancy_regex::RegexBuilder::new(&py(p))
        .backtrack_limit(200_000)
        .build()
        .unwrap()
}

const RARE_ROWS: &str =
    "aqx bcdfghkmnpqtvwxz cbgmpqsvwx dbcfghjkpqtvwx eq fbcghjkmnpqvwxyz gbcfjkpqvwxyz hbcdfghjkqvxz ihy \
    jbfghijlqrtvwxyz kbcdfghjmpqwxyz lhqwxz mcfghjkqvwxz njmpqwx oqx pbcjkqvwxyz qabcdefghijklmnopqrstvwxyz \
    rjqx sx tdfqx uqy vbcdfghjkmpqtuwxyz wbdfghjklmqrtvwxz xbcdfgjknqrvwxz yfhquvx zbfhjlpqrsvx";

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let (y, m, d) = (r"(?:19|20)\d\d", r"(?:0?[1-9]|1[0-2])", r"(?:0?[1-9]|[12]\d|3[01])");
        // _MON without its lookarounds: what follows a month name in _FULL_DATE is never a letter, and
        // what precedes it is a digit or separator except where the name starts the match (see below).
        let mon = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
        // `([-._ ])X\1Y`: the backreference is one character, so spell out each one.
        let same_sep = |a: &str, b: &str, c: &str| {
            ["-", r"\.", "_", " "].iter().map(|sep| format!("{a}{sep}{b}{sep}{c}")).collect::<Vec<_>>().join("|")
        };
        // Existence only (is_match): `(?<!X)` and `(?!X)` at the ends become "start, or one non-X character".
        let full_date = format!(
            r"(?i)(?:(?:\A|[^0-9])(?:{}|{}|{}|{d}[-._ ]?{mon}[-._ ,]*{y}|{y}[-._ ]?{mon}[-._ ]?{d})|(?:\A|[^0-9a-z]){mon}[-._ ]?{d}(?:st|nd|rd|th)?[-._ ,]*{y})(?:[^0-9]|\z)",
            same_sep(y, m, d), same_sep(d, m, y), same_sep(m, d, y)
        );
        // `_SHORT_DATE`: day first with any separator, month first with '-', '_' or ' ', or dotted and padded.
        let short_date = format!(
            r"\A(?:{}|{}|(?:0[1-9]|1[0-2])\.(?:0[1-9]|[12]\d|3[01])\.\d\d)\z",
            ["-", r"\.", "_", " "].iter().map(|sep| format!(r"{d}{sep}{m}{sep}\d\d")).collect::<Vec<_>>().join("|"),
            ["-", "_", " "].iter().map(|sep| format!(r"{m}{sep}{d}{sep}\d\d")).collect::<Vec<_>>().join("|"),
        );
        // `_SHORT_NAMED_DATE`, its lookarounds as in full_date.
        let short_named_date = format!(
            r"(?i)(?:(?:\A|[^0-9]){d}[-._ ]?{mon}[-._ ,]*\d\d|(?:\A|[^0-9a-z]){mon}[-._ ]?{d}(?:st|nd|rd|th)?[-._ ,]+\d\d)(?:[^0-9a-z]|\z)"
        );
        let h2 = "[0-9A-Fa-f]{2}";
        let mac = format!(
            r"(?:\A|[^0-9A-Fa-f])(?:{}|{}|[0-9A-Fa-f]{{4}}\.[0-9A-Fa-f]{{4}}\.[0-9A-Fa-f]{{4}})(?:[^0-9A-Fa-f]|\z)",
            format!("{h2}:{h2}(?::{h2}){{4}}(?:(?::{h2}){{2}})?"),
            format!("{h2}-{h2}(?:-{h2}){{4}}(?:(?:-{h2}){{2}})?"),
        );
        let mut rare = [0u32; 26];
        for row in RARE_ROWS.split_whitespace() {
            let b = row.as_bytes();
            for &c in &b[1..] {
                rare[(b[0] - b'a') as usize] |= 1 << (c - b'a');
            }
        }
        Patterns {
            absolute: re(r"\A[A-Za-z][A-Za-z0-9+.-]*://"),
            authority_end: re(r"[/?#\\]"),
            digits: re(r"[0-9]+"),
            year_month: re(&whole(r"(?:19|20)\d\d(?:[-._](?:0?[1-9]|1[0-2]))?|(?:0?[1-9]|1[0-2])[-._](?:19|20)\d\d")),
            version: re(&whole(r"v?\d{1,4}(?:\.\d{1,4}){1,2}")),
            uuid: re(&whole(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")),
            ip_candidate: re(&whole(r"\[?[0-9A-Fa-f:.]+(?:%[\w.-]+)?\]?")),
            hex: re(&whole(r"[0-9A-Fa-f]{16,}")),
            token_chars: re(&whole(r"[A-Za-z0-9_\-+/=.~]{16,}")),
            year: re(&whole(r"(?:19|20)\d\d")),
            year_in: re(r"(?:\A|[^0-9])(?:19|20)\d\d(?:[^0-9]|\z)"),
            full_date: re(&full_date),
            short_date: re(&short_date),
            short_named_date: re(&short_named_date),
            phone: re(&format!(
                "(?i){}",
                whole(r"(?:tel:)?\+?\(?\d{1,4}\)?(?:[ .\-+_]{0,3}\(?\d{1,4}\)?){2,}|(?:tel:)?\+\d{7,15}")
            )),
            phone_in: fancy(r"(?<![\d.])\+?\(?\d{1,4}\)?(?:[ .\-+_]{1,3}\(?\d{1,4}\)?){3,}(?![\d.])"),
            dotted_phone: re(&whole(r"\d{3}\.\d{3}\.\d{4}")),
            mac: re(&mac),
            mac_bare: re(&whole(r"[0-9A-Fa-f]{12}")),
            coordinates: fancy(r"(?<![\d.])([-+]?\d{1,2}\.\d{2,})\s*[,;\s]\s*([-+]?\d{1,3}\.\d{2,})(?![\d.])"),
            degrees: re(&whole(r"[-+]?\d{1,3}\.\d{3,}")),
            at_not_email: re(r"[A-Za-z]@(?:\d+\.\d+(?:\.\d+)*(?:[-+][\w.]+)?|[1-4]x(?:\.[A-Za-z0-9]{1,5})?)\z"),
            at_bracketed: re(r"(?i)[(\[{<]\s*at\s*[)\]}>]"),
            at_word: fancy(
                r"(?i)(?<=[A-Za-z0-9])(?:(?:\s+|\s*[-_.+]\s*)at(?:\s+|\s*[-_.+]\s*)|\s*[(\[{<]\s*a\s*[)\]}>]\s*)(?=[A-Za-z0-9])",
            ),
            dot_word: re(r"(?i)\s*[(\[{<]\s*dot\s*[)\]}>]\s*|(?:\s+|\s*[-_]\s*)dot(?:\s+|\s*[-_]\s*)"),
            domain_start: re(r"\A[A-Za-z0-9][A-Za-z0-9.-]*"),
            secret: re(concat!(
                r"(?:\A|[^A-Za-z0-9])(?:",
                r"(?:sk|pk|rk)_(?:live|test)_\w{8,}|whsec_\w{8,}|[a-z]{2,8}_(?:live|test|prod|sandbox)_\w{8,}",
                r"|gh[pousr]_\w{16,}|github_pat_\w{16,}|glpat-[\w-]{16,}",
                r"|xox[abposr]-[\w-]{8,}|xapp-[\w-]{8,}",
                r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{12,}",
                r"|AIza[\w-]{30,}|ya29\.[\w.-]{16,}",
                r"|sk-(?:proj-|ant-|svcacct-)?[\w-]{16,}|SG\.[\w-]{16,}",
                r"|shp(?:at|ss|ca|pa)_[0-9a-fA-F]{16,}|npm_\w{16,}|pypi-[\w-]{16,}|hf_\w{16,}|dop_v1_[0-9a-f]{16,}",
                r"|glsa_\w{16,}|sq0(?:atp|csp)-[\w-]{16,}",
                r")"
            )),
            chunk: re(r"[A-Za-z0-9]{8,}"),
            short_id: re(&whole(r"[A-Za-z0-9]*[-_][A-Za-z0-9_-]*")),
            consonant_run: re(r"[bcdfghjklmnpqrstvwxz]{4,}"),
            rare,
        }
    })
}

// ---- decoding -------------------------------------------------------------------------------

fn hexval(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// `urllib.parse.unquote` of ASCII text whose escapes all decode to ASCII; Fallback otherwise.
fn unquote_ascii(text: &str) -> R<String> {
    if !text.contains('%') {
        return Ok(text.to_owned());
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2])) {
                let v = h << 4 | l;
                if v >= 0x80 {
                    return Err(Fallback);
                }
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Ok(String::from_utf8(out).expect("ASCII"))
}

/// `url._decode`: percent-decoded until stable (up to four rounds); non-ASCII is the reference's.
pub fn decode(text: &str) -> R<String> {
    if !text.is_ascii() {
        return Err(Fallback);
    }
    let mut text = text.to_owned();
    for _ in 0..DECODE_ROUNDS {
        let decoded = unquote_ascii(&text)?;
        if decoded == text {
            break;
        }
        text = decoded;
    }
    Ok(text)
}

// ---- classification ---------------------------------------------------------------------------

fn is_alpha(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_upper(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_uppercase()) && !s.bytes().any(|b| b.is_ascii_lowercase())
}

fn is_lower(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_lowercase()) && !s.bytes().any(|b| b.is_ascii_uppercase())
}

fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn rare_pairs(word: &str) -> usize {
    let p = patterns();
    let b = word.as_bytes();
    let mut seen: HashSet<(u8, u8)> = HashSet::new();
    for w in b.windows(2) {
        let (a, c) = (w[0], w[1]);
        if a.is_ascii_lowercase() && c.is_ascii_lowercase() && p.rare[(a - b'a') as usize] & (1 << (c - b'a')) != 0 {
            seen.insert((a, c));
        }
    }
    seen.len()
}

/// `findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")`: the words, acronyms and numbers of a chunk.
fn camel_pieces(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let run = |from: usize, f: fn(&u8) -> bool| from + b[from..].iter().take_while(|c| f(c)).count();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next_lower = b.get(i + 1).is_some_and(u8::is_ascii_lowercase);
        let end = if c.is_ascii_lowercase() || (c.is_ascii_uppercase() && next_lower) {
            run(i + 1, u8::is_ascii_lowercase) // [A-Z]?[a-z]+
        } else if c.is_ascii_uppercase() {
            // [A-Z]+ greedy, giving one back when a lowercase letter follows (it starts the next word)
            let e = run(i, u8::is_ascii_uppercase);
            if b.get(e).is_some_and(u8::is_ascii_lowercase) {
                e - 1
            } else {
                e
            }
        } else if c.is_ascii_digit() {
            run(i, u8::is_ascii_digit)
        } else {
            i += 1;
            continue;
        };
        out.push(&s[i..end]);
        i = end;
    }
    out
}

/// `url._is_random_chunk`.
fn is_random_chunk(chunk: &str) -> R<bool> {
    let p = patterns();
    let lower = !is_upper(chunk);
    let upper = !is_lower(chunk);
    let digit = !is_alpha(chunk);
    if (lower as u8 + upper as u8 + digit as u8) < 2 {
        return Ok(is_alpha(chunk) && chunk.len() >= 12 && rare_pairs(&chunk.to_ascii_lowercase()) >= 3);
    }
    let pieces = camel_pieces(chunk);
    let mut junk = 0.0f64;
    let (mut digits, mut acronyms) = (0i64, 0i64);
    for piece in &pieces {
        let first = piece.as_bytes()[0];
        if first <= b'9' {
            digits += 1;
        } else if piece.len() == 1 {
            junk += 1.0;
        } else if is_upper(piece) {
            acronyms += 1;
            if piece.len() > 3 {
                junk += rare_pairs(&piece.to_ascii_lowercase()) as f64;
            }
        } else {
            let low = piece.to_ascii_lowercase();
            let mut rare = rare_pairs(&low) as f64;
            if !low.bytes().any(|c| b"aeiouy".contains(&c)) {
                rare = rare.max(if piece.len() <= 3 { 1.0 } else { 2.0 });
            } else {
                if piece.len() == 2 && first <= b'Z' {
                    rare += 0.5;
                }
                rare += p
                    .consonant_run
                    .find_iter(&low)
                    .map(|m| m.as_str().len() as f64 - 3.0)
                    .sum::<f64>();
            }
            junk += rare;
        }
    }
    let extra = ((digits - 1).max(0) + (acronyms - 1).max(0)) as f64
        + (pieces.len() as f64 - chunk.len() as f64 / 3.5).max(0.0);
    junk += extra;
    Ok(junk >= (chunk.len() as f64 / 4.0).max(2.5))
}

fn class_of(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b'd',
        b'a'..=b'z' => b'l',
        b'A'..=b'Z' => b'u',
        _ => b's',
    }
}

/// `url._is_token`.
fn is_token(text: &str) -> R<bool> {
    let p = patterns();
    if text.starts_with("eyJ") && text.contains('.') {
        return Ok(true);
    }
    if !p.token_chars.is_match(text) {
        return Ok(false);
    }
    let classes: Vec<u8> = text.bytes().map(class_of).collect();
    let has = |c: u8| classes.contains(&c);
    let count_pair = |a: u8, b: u8| classes.windows(2).filter(|w| w[0] == a && w[1] == b).count();
    if !has(b's') {
        if !has(b'l') {
            return Ok(has(b'd'));
        }
        let groups = count_pair(b'l', b'd') + count_pair(b'u', b'd') + (classes[0] == b'd') as usize;
        if groups >= 3 || (!has(b'u') && classes.iter().filter(|&&c| c == b'd').count() >= 3) {
            return Ok(true);
        }
        return is_random_chunk(text);
    }
    if !has(b'd') {
        for m in p.chunk.find_iter(text) {
            if is_random_chunk(m.as_str())? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    let changes: usize = [
        (b'd', b'l'),
        (b'd', b'u'),
        (b'l', b'd'),
        (b'l', b'u'),
        (b'u', b'd'),
        (b'u', b'l'),
    ]
    .iter()
    .map(|&(a, b)| count_pair(a, b))
    .sum();
    Ok(changes >= (text.len() / 5).max(4))
}

fn is_obfuscated_email(text: &str, domains: &mut dyn Domains) -> R<bool> {
    let p = patterns();
    if p.at_bracketed.is_match(text) {
        return Ok(true);
    }
    // `_AT_WORD` needs whitespace, '-', '_', '.' or '+' beside "at", or a bracket around "a".
    if !text
        .bytes()
        .any(|b| matches!(b, b'-' | b'_' | b'.' | b'+' | b'(' | b'[' | b'{' | b'<' | b'\t'..=b'\r' | 0x1c..=b' '))
    {
        return Ok(false);
    }
    for m in p.at_word.find_iter(text) {
        let m = m.map_err(|_| Fallback)?;
        let rest = p.dot_word.replace_all(&text[m.end()..], ".");
        if let Some(domain) = p.domain_start.find(&rest) {
            let domain = domain.as_str();
            if domain.contains('.') && domains.registrable(domain.trim_matches(['.', '-']))? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// `url._DEGREES_APART`: the second of a pair at most this many segments after the first.
const DEGREES_APART: usize = 2;

/// `url._template_coordinates`: `{geo}` for both segments of a latitude and longitude split by '/'.
fn template_coordinates(decoded: &[String], out: &mut [String]) {
    let p = patterns();
    let degrees: Vec<(usize, f64)> = decoded
        .iter()
        .enumerate()
        .filter(|(_, text)| p.degrees.is_match(text))
        .map(|(i, text)| (i, text.parse::<f64>().expect("a decimal").abs()))
        .filter(|&(_, value)| value <= 180.0)
        .collect();
    for pair in degrees.windows(2) {
        let ((a, x), (b, y)) = (pair[0], pair[1]);
        if b - a <= DEGREES_APART && x.min(y) <= 90.0 {
            out[a] = "{geo}".into();
            out[b] = "{geo}".into();
        }
    }
}

fn is_coordinates(text: &str) -> R<bool> {
    if !text.is_ascii() {
        return Err(Fallback);
    }
    // Two decimals with a '.' each and a separator between them.
    if text.bytes().filter(|&b| b == b'.').count() < 2
        || !text
            .bytes()
            .any(|b| matches!(b, b',' | b';' | b'\t'..=b'\r' | 0x1c..=b' '))
    {
        return Ok(false);
    }
    for c in patterns().coordinates.captures_iter(text) {
        let c = c.map_err(|_| Fallback)?;
        let lat: f64 = c.get(1).unwrap().as_str().parse().unwrap();
        let lng: f64 = c.get(2).unwrap().as_str().parse().unwrap();
        if lat.abs() <= 90.0 && lng.abs() <= 180.0 {
            return Ok(true);
        }
    }
    Ok(false)
}

fn is_phone(text: &str, runs: &[&str]) -> R<bool> {
    let p = patterns();
    let digits: usize = runs.iter().map(|r| r.len()).sum();
    if digits < 7 {
        return Ok(false);
    }
    let bare = text.strip_prefix("tel:").unwrap_or(text);
    if runs.len() < 2 {
        return Ok(digits <= 15 && bare.starts_with('+') && p.phone.is_match(text));
    }
    if digits <= 15 && bare.bytes().all(|b| b"0123456789 .-+_()".contains(&b)) && p.phone.is_match(text) {
        return Ok(true);
    }
    if !(runs.len() >= 4 && digits >= 9 && text.bytes().any(|b| b" .-+_".contains(&b))) {
        return Ok(false);
    }
    for m in p.phone_in.find_iter(text) {
        let m = m.map_err(|_| Fallback)?;
        if m.as_str().bytes().filter(u8::is_ascii_digit).count() >= 9 {
            return Ok(true);
        }
    }
    Ok(false)
}

fn is_date(text: &str, runs: &[&str]) -> R<bool> {
    let p = patterns();
    if runs.len() < 2 {
        return Ok(false);
    }
    if p.year_in.is_match(text) && p.full_date.is_match(text) {
        return Ok(true);
    }
    if runs.len() == 3 && p.short_date.is_match(text) {
        return Ok(true);
    }
    Ok(p.short_named_date.is_match(text))
}

fn is_ip(text: &str) -> bool {
    if !((text.contains(':') || text.contains('.')) && patterns().ip_candidate.is_match(text)) {
        return false;
    }
    crate::ip::is_ip_address(crate::ip::strip_brackets(text))
}

/// `url.classify_segment` of ASCII text: the placeholder for a personal-looking value, or None.
pub fn classify_segment(text: &str, domains: &mut dyn Domains) -> R<Option<&'static str>> {
    if !text.is_ascii() {
        return Err(Fallback);
    }
    let p = patterns();
    if text.starts_with('~') {
        return Ok(Some("~{user}"));
    }
    if text.len() > MAX_SEGMENT_LENGTH {
        return Ok(Some("{long}"));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let year = text.len() == 4 && (text.starts_with("19") || text.starts_with("20"));
        return Ok(if year { None } else { Some("{id}") });
    }
    if !is_printable(text) {
        return Ok(Some(UNPRINTABLE));
    }
    if text == "." || text == ".." {
        return Ok(None);
    }
    let runs: Vec<&str> = if is_alpha(text) {
        Vec::new()
    } else {
        p.digits.find_iter(text).map(|m| m.as_str()).collect()
    };
    let has_runs = !runs.is_empty();
    if has_runs {
        if p.hex.is_match(text) {
            return Ok(Some("{hash}"));
        }
        if p.uuid.is_match(text) {
            return Ok(Some("{uuid}"));
        }
        if runs.len() >= 4 && text.contains('.') && is_coordinates(text)? {
            return Ok(Some("{geo}"));
        }
    }
    if text.contains('@') && !p.at_not_email.is_match(text) {
        return Ok(Some("{email}"));
    }
    if let Some((_, value)) = text.split_once('=') {
        if !value.is_empty() {
            if let Some(placeholder) = classify_segment(value, domains)? {
                return Ok(Some(placeholder));
            }
        }
    }
    if has_runs {
        if is_date(text, &runs)? {
            return Ok(Some("{date}"));
        }
        if p.year_month.is_match(text) || (p.version.is_match(text) && !p.dotted_phone.is_match(text)) {
            return Ok(None);
        }
    }
    if (text.contains(':') || text.contains('-') || text.contains('.')) && p.mac.is_match(text) {
        return Ok(Some("{mac}"));
    }
    if is_ip(text) {
        return Ok(Some("{ip}"));
    }
    if has_runs && p.mac_bare.is_match(text) {
        return Ok(Some("{mac}"));
    }
    if is_token(text)? {
        return Ok(Some("{token}"));
    }
    if has_runs && is_phone(text, &runs)? {
        return Ok(Some("{phone}"));
    }
    if text.bytes().any(|b| b"_-.".contains(&b)) && p.secret.is_match(text) {
        return Ok(Some("{token}"));
    }
    if runs.iter().any(|r| r.len() >= 3 && !p.year.is_match(r)) {
        return Ok(Some("{id}"));
    }
    if text.bytes().any(|b| b == b'a' || b == b'A') && is_obfuscated_email(text, domains)? {
        return Ok(Some("{email}"));
    }
    for m in p.chunk.find_iter(text) {
        if is_random_chunk(m.as_str())? {
            return Ok(Some("{token}"));
        }
    }
    if (8..=20).contains(&text.len()) && p.short_id.is_match(text) {
        let joined: String = text.chars().filter(|c| *c != '-' && *c != '_').collect();
        if !(is_lower(&joined) || is_upper(&joined)) && is_random_chunk(&joined)? {
            return Ok(Some("{token}"));
        }
    }
    Ok(None)
}

// ---- rules and the generalizer ----------------------------------------------------------------

struct Rule {
    parts: Vec<(Regex, Option<String>)>,
    first: Option<String>, // a literal first segment, case-folded
}

impl Rule {
    fn new(rule: &str) -> Result<Rule, String> {
        let parts: Vec<&str> = rule.split('/').filter(|p| !p.is_empty()).collect();
        if !rule.starts_with('/') || !parts.iter().any(|p| p.contains('*')) {
            return Err(format!("path rule {rule:?} must start with '/' and have a '*' segment"));
        }
        let compiled = parts
            .iter()
            .map(|part| {
                let body = part.split('*').map(regex::escape).collect::<Vec<_>>().join(".*");
                let re = Regex::new(&format!(r"(?si)\A(?:{body})\z")).unwrap();
                (re, part.contains('*').then(|| part.replace('*', "{param}")))
            })
            .collect();
        let first = (!parts[0].contains('*')).then(|| parts[0].to_ascii_lowercase());
        Ok(Rule { parts: compiled, first })
    }

    fn params(&self, segments: &[String], start: usize, out: &mut [String]) {
        if segments.len() - start < self.parts.len() {
            return;
        }
        for (i, (re, _)) in self.parts.iter().enumerate() {
            if !re.is_match(&segments[start + i]) {
                return;
            }
        }
        for (i, (_, template)) in self.parts.iter().enumerate() {
            if let Some(t) = template {
                out[start + i] = t.clone();
            }
        }
    }
}

/// `url.PathGeneralizer` for ASCII rules and allowlist keys (others stay with the reference).
pub struct PathGeneralizer {
    rules: Vec<Rule>,
    query_allow: HashSet<String>,
    max_segments: usize,
    max_length: usize,
    // Results depend on the text alone, so caching them is invisible (as in the reference).
    targets: HashMap<String, Generalized>,
    kept: HashMap<String, (String, String, bool)>, // a raw segment kept as one segment
}

const CACHE_SIZE: usize = 50_000;
const MAX_CACHED_TARGET: usize = 2048;

pub type Generalized = (Option<String>, Option<Vec<(String, String)>>);

impl PathGeneralizer {
    pub fn new(
        rules: &[String],
        query_allow: &[String],
        max_segments: usize,
        max_length: usize,
    ) -> Result<PathGeneralizer, String> {
        if rules.iter().chain(query_allow).any(|s| !s.is_ascii()) {
            return Err("non-ASCII rules or query keys are left to the Python reference".into());
        }
        if max_segments < 1 || max_length < 1 + MORE.len() {
            return Err("bad max_segments or max_length".into());
        }
        Ok(PathGeneralizer {
            rules: rules.iter().map(|r| Rule::new(r)).collect::<Result<_, _>>()?,
            query_allow: query_allow.iter().cloned().collect(),
            max_segments,
            max_length,
            targets: HashMap::new(),
            kept: HashMap::new(),
        })
    }

    /// `PathGeneralizer.__call__`: (template, allowed params in order) or Fallback.
    pub fn generalize(&mut self, target: Option<&str>, domains: &mut dyn Domains) -> R<Generalized> {
        let Some(target) = target.filter(|t| !t.is_empty()) else {
            return Ok((None, None));
        };
        if let Some(hit) = self.targets.get(target) {
            return Ok(hit.clone());
        }
        let got = self.compute(target, domains)?;
        if target.len() <= MAX_CACHED_TARGET {
            if self.targets.len() >= CACHE_SIZE {
                self.targets.clear();
            }
            self.targets.insert(target.to_owned(), got.clone());
        }
        Ok(got)
    }

    fn compute(&mut self, target: &str, domains: &mut dyn Domains) -> R<Generalized> {
        if !target.is_ascii() {
            return Err(Fallback);
        }
        if target == "*" {
            return Ok((Some("*".into()), None));
        }
        let Some((path, query)) = split_target(target) else {
            return Ok((None, None));
        };
        let template = self.template(path, domains)?;
        let params = self.params(query, domains)?;
        Ok((Some(template), params))
    }

    fn may_start(&self, segment: &str) -> bool {
        let key = segment.to_ascii_lowercase();
        if self.rules.iter().any(|r| r.first.as_deref() == Some(key.as_str())) {
            return true;
        }
        self.rules
            .iter()
            .filter(|r| r.first.is_none())
            .any(|r| r.parts[0].0.is_match(segment))
    }

    fn pieces(&mut self, raw: &str, domains: &mut dyn Domains) -> R<Vec<(String, String, bool)>> {
        if let Some(hit) = self.kept.get(raw) {
            return Ok(vec![hit.clone()]);
        }
        let pieces = self.compute_pieces(raw, domains)?;
        if pieces.len() == 1 && pieces[0].0 == pieces[0].1 && pieces[0].1 != "." && pieces[0].1 != ".." {
            if self.kept.len() >= CACHE_SIZE {
                self.kept.clear();
            }
            self.kept.insert(raw.to_owned(), pieces[0].clone());
        }
        Ok(pieces)
    }

    fn compute_pieces(&self, raw: &str, domains: &mut dyn Domains) -> R<Vec<(String, String, bool)>> {
        let (head, semi) = match raw.split_once(';') {
            Some((h, _)) => (h, true),
            None => (raw, false),
        };
        if semi && head.as_bytes().last().is_some_and(u8::is_ascii_digit) {
            let whole = decode(raw)?;
            if is_coordinates(&whole)? {
                return Ok(vec![("{geo}".into(), whole, false)]);
            }
        }
        let mut text = decode(head)?;
        let mut published = head.to_owned();
        if text.contains(';') {
            if is_coordinates(&text)? {
                return Ok(vec![("{geo}".into(), text, false)]);
            }
            text = text.split(';').next().unwrap().to_owned();
            published = text.clone();
        }
        let parts: Vec<(String, String)> = if text.contains('/') || text.contains('\\') {
            text.split(['/', '\\'])
                .filter(|p| !p.is_empty())
                .map(|p| (p.to_owned(), p.to_owned()))
                .collect()
        } else if !text.is_empty() {
            vec![(published, text)]
        } else {
            Vec::new()
        };
        let mut pieces = Vec::with_capacity(parts.len());
        for (published, part) in parts {
            let placeholder = classify_segment(&part, domains)?;
            let start = self.may_start(&part);
            pieces.push((placeholder.map_or(published, str::to_owned), part, start));
        }
        Ok(pieces)
    }

    fn template(&mut self, path: &str, domains: &mut dyn Domains) -> R<String> {
        let limit = self.max_segments * 4 + 8;
        let mut raws: Vec<&str> = path.splitn(limit + 1, '/').collect();
        let mut folded = raws.len() > limit;
        if folded {
            raws.pop();
        }
        let mut out: Vec<String> = Vec::new();
        let mut decoded: Vec<String> = Vec::new();
        let mut starts: Vec<bool> = Vec::new();
        let mut dot_last = false;
        for raw in raws {
            if raw.is_empty() {
                continue;
            }
            for (published, text, start) in self.pieces(raw, domains)? {
                dot_last = text == "." || text == "..";
                if !dot_last {
                    out.push(published);
                    decoded.push(text);
                    starts.push(start);
                } else if text == ".." {
                    if decoded.last().is_some_and(|d| d != "..") {
                        out.pop();
                        decoded.pop();
                        starts.pop();
                    } else {
                        out.push("..".into());
                        decoded.push("..".into());
                        starts.push(false);
                    }
                }
            }
        }
        template_coordinates(&decoded, &mut out);
        if starts.iter().any(|s| *s) {
            self.apply_rules(&decoded, &mut out, &starts);
        }
        if out.len() > self.max_segments {
            out.truncate(self.max_segments);
            folded = true;
        }
        let trailing_slash = path.ends_with('/') || dot_last;
        loop {
            let template = if folded {
                let mut all = out.clone();
                all.push(MORE.into());
                format!("/{}", all.join("/"))
            } else {
                format!(
                    "/{}{}",
                    out.join("/"),
                    if trailing_slash && !out.is_empty() { "/" } else { "" }
                )
            };
            if template.len() <= self.max_length {
                return Ok(template);
            }
            out.pop();
            folded = true;
        }
    }

    fn apply_rules(&self, decoded: &[String], out: &mut [String], starts: &[bool]) {
        for (start, segment) in decoded.iter().enumerate() {
            if !starts[start] {
                continue;
            }
            let key = segment.to_ascii_lowercase();
            let by_first: Vec<&Rule> = if self.rules.iter().any(|r| r.first.as_deref() == Some(key.as_str())) {
                self.rules
                    .iter()
                    .filter(|r| r.first.is_none() || r.first.as_deref() == Some(key.as_str()))
                    .collect()
            } else {
                self.rules.iter().filter(|r| r.first.is_none()).collect()
            };
            for rule in by_first {
                rule.params(decoded, start, out);
            }
        }
    }

    fn params(&self, query: &str, domains: &mut dyn Domains) -> R<Option<Vec<(String, String)>>> {
        if query.is_empty() || self.query_allow.is_empty() {
            return Ok(None);
        }
        let mut params: Vec<(String, String)> = Vec::new();
        for name_value in query.split('&') {
            if name_value.is_empty() {
                continue;
            }
            let (name, value) = name_value.split_once('=').unwrap_or((name_value, ""));
            let key = match unquote_ascii(&name.replace('+', " ")) {
                Ok(k) => k,
                Err(Fallback) => continue, // decodes to non-ASCII: no (ASCII) allowlist key equals it
            };
            if self.query_allow.contains(&key) && !params.iter().any(|(k, _)| *k == key) {
                let value = unquote_ascii(&value.replace('+', " "))?;
                params.push((key, query_value(&value, domains)?));
            }
        }
        Ok((!params.is_empty()).then_some(params))
    }
}

/// `url._query_value`: small numbers stay; ids, emails and tokens are templated; at most 64 characters.
fn query_value(value: &str, domains: &mut dyn Domains) -> R<String> {
    let b = value.as_bytes();
    if (1..=3).contains(&b.len()) && b.iter().all(u8::is_ascii_digit) {
        return Ok(value.to_owned());
    }
    let out = match classify_segment(&decode(value)?, domains)? {
        Some(p) => p.to_owned(),
        None => value.to_owned(),
    };
    Ok(out.chars().take(MAX_SEGMENT_LENGTH).collect())
}

/// `url._split_target`: (path, query) of an origin- or absolute-form target.
fn split_target(target: &str) -> Option<(&str, &str)> {
    let rest = if target.starts_with('/') {
        target
    } else if let Some(m) = patterns().absolute.find(target) {
        match patterns().authority_end.find_at(target, m.end()) {
            Some(end) => &target[end.start()..],
            None => "",
        }
    } else {
        return None;
    };
    let rest = rest.split('#').next().unwrap();
    Some(rest.split_once('?').unwrap_or((rest, "")))
}
