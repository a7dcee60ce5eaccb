//! Client addresses as `privacy/ip.py` reads and generalizes them, with Python's `ipaddress` rules.

use crate::crypto;
use crate::pystr::{py_strip, py_strip_chars};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ip {
    V4(u32),
    V6(u128),
}

impl Ip {
    pub fn packed(&self) -> Vec<u8> {
        match *self {
            Ip::V4(n) => n.to_be_bytes().to_vec(),
            Ip::V6(n) => n.to_be_bytes().to_vec(),
        }
    }

    pub fn version(&self) -> u8 {
        match self {
            Ip::V4(_) => 4,
            Ip::V6(_) => 6,
        }
    }
}

const MAX_TEXT: usize = 128;
const MAX_HOPS: usize = 64;

/// `ip.parse_ip`: the address in a logged client field (IPv4-mapped IPv6 as IPv4, zone dropped).
pub fn parse_ip(text: &str) -> Option<Ip> {
    if text.len() > MAX_TEXT && text.chars().count() > MAX_TEXT {
        return None;
    }
    let s = py_strip(text);
    if let Some(inner) = s.strip_prefix('[') {
        let (host, rest) = inner.split_once(']')?;
        if !(rest.is_empty() || rest.starts_with(':') && is_port(&rest[1..])) {
            return None;
        }
        return ipv6_with_zone(host);
    }
    let colons = s.matches(':').count();
    if colons == 1 {
        let (host, port) = s.split_once(':').unwrap();
        return if is_port(port) { ipv4(host).map(Ip::V4) } else { None };
    }
    if colons > 1 {
        return ipv6_with_zone(s);
    }
    ipv4(s).map(Ip::V4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 5
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u32>().is_ok_and(|n| n <= 65535)
}

/// `ipaddress.IPv4Address(text)`: four decimal octets, no leading zeros.
pub fn ipv4(text: &str) -> Option<u32> {
    if text.is_empty() || text.contains('/') {
        return None;
    }
    let mut n: u32 = 0;
    let mut count = 0;
    for octet in text.split('.') {
        count += 1;
        if count > 4 {
            return None;
        }
        let b = octet.as_bytes();
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || b.len() > 3 || (b.len() > 1 && b[0] == b'0') {
            return None;
        }
        let v: u32 = octet.parse().ok()?;
        if v > 255 {
            return None;
        }
        n = n << 8 | v;
    }
    if count != 4 {
        return None;
    }
    Some(n)
}

fn zone_ok(zone: &str) -> bool {
    !zone.is_empty()
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

fn ipv6_with_zone(text: &str) -> Option<Ip> {
    let host = match text.split_once('%') {
        Some((host, zone)) => {
            if !zone_ok(zone) {
                return None;
            }
            host
        }
        None => text,
    };
    let n = ipv6(host)?;
    Some(if n >> 32 == 0xFFFF { Ip::V4(n as u32) } else { Ip::V6(n) })
}

fn hextet(text: &str) -> Option<u128> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// `ipaddress.IPv6Address(text)` for a text without a scope id: the address as an integer.
pub fn ipv6(text: &str) -> Option<u128> {
    if text.is_empty() || text.contains('/') {
        return None;
    }
    // A '%' would be a scope id: an empty or doubled one is refused, a valid one ignored.
    let text = match text.split_once('%') {
        Some((addr, scope)) if !scope.is_empty() && !scope.contains('%') => addr,
        Some(_) => return None,
        None => text,
    };
    if text.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = text.split(':').map(str::to_owned).collect();
    if parts.len() < 3 {
        return None;
    }
    if parts.last().unwrap().contains('.') {
        let v4 = ipv4(&parts.pop().unwrap())?;
        parts.push(format!("{:x}", v4 >> 16));
        parts.push(format!("{:x}", v4 & 0xFFFF));
    }
    if parts.len() > 9 {
        return None;
    }
    let mut skip: Option<usize> = None;
    for (i, p) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if p.is_empty() {
            if skip.is_some() {
                return None;
            }
            skip = Some(i);
        }
    }
    let (hi, lo, skipped) = if let Some(si) = skip {
        let mut hi = si;
        let mut lo = parts.len() - si - 1;
        if parts[0].is_empty() {
            hi -= 1;
            if hi != 0 {
                return None;
            }
        }
        if parts.last().unwrap().is_empty() {
            lo -= 1;
            if lo != 0 {
                return None;
            }
        }
        let skipped = 8i32 - (hi + lo) as i32;
        if skipped < 1 {
            return None;
        }
        (hi, lo, skipped as u32)
    } else {
        if parts.len() != 8 || parts[0].is_empty() || parts[7].is_empty() {
            return None;
        }
        (8, 0, 0)
    };
    let mut n: u128 = 0;
    for p in &parts[..hi] {
        n = n << 16 | hextet(p)?;
    }
    if skipped > 0 {
        n <<= 16 * skipped;
    }
    for p in &parts[parts.len() - lo..] {
        n = n << 16 | hextet(p)?;
    }
    Some(n)
}

/// `ip.embedded_ipv4`: the IPv4 address an IPv6 address carries (6to4, Teredo, NAT64, ISATAP, ...).
pub fn embedded(n: u128) -> Option<u32> {
    const LOW32: u128 = 0xFFFF_FFFF;
    let high = n >> 96;
    if high == 0x2001_0000 {
        return Some((!n & LOW32) as u32);
    }
    if high >> 16 == 0x2002 {
        return Some(((n >> 80) & LOW32) as u32);
    }
    if n >> 32 == 0x0064_FF9B_0000_0000_0000_0000 {
        return Some((n & LOW32) as u32);
    }
    if n >> 80 == 0x0064_FF9B_0001 {
        return Some(local_nat64(n));
    }
    let top = n >> 32;
    if top == 0 || top == 0xFFFF_0000 || top == 0xFFFF {
        return if (n >> 24) & 0xFF != 0 || top != 0 {
            Some((n & LOW32) as u32)
        } else {
            None
        };
    }
    if (top & 0xFCFF_FFFF) == 0x0000_5EFE {
        return Some((n & LOW32) as u32);
    }
    None
}

fn local_nat64(n: u128) -> u32 {
    const LOW32: u128 = 0xFFFF_FFFF;
    let v = if n & ((1u128 << 40) - 1) == 0 {
        ((n >> 64) & 0xFFFF) << 16 | (n >> 40) & 0xFFFF
    } else if n & LOW32 == 0 {
        ((n >> 64) & 0xFF) << 24 | (n >> 32) & 0xFF_FFFF
    } else if n & 0xFF_FFFF == 0 {
        (n >> 24) & LOW32
    } else {
        n & LOW32
    };
    v as u32
}

/// `ip.publishable_address`: the IPv4 address a client has, where it has one.
pub fn publishable(ip: Ip) -> Ip {
    match ip {
        Ip::V6(n) => embedded(n).map_or(ip, Ip::V4),
        v4 => v4,
    }
}

/// A trusted proxy network: `ip in net` as `ipaddress` decides it (never across versions).
#[derive(Debug, Clone, Copy)]
pub struct Network {
    pub v6: bool,
    pub address: u128,
    pub prefix: u32,
}

impl Network {
    fn contains(&self, ip: Ip) -> bool {
        match ip {
            Ip::V4(n) if !self.v6 => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                (n & mask) as u128 == self.address
            }
            Ip::V6(n) if self.v6 => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                n & mask == self.address
            }
            _ => false,
        }
    }
}

fn trusted(ip: Ip, proxies: &[Network]) -> bool {
    proxies.iter().any(|net| net.contains(ip))
}

/// `ip.client_ip`: the real client behind our own proxies, reading X-Forwarded-For right to left.
pub fn client_ip(peer: Option<&str>, forwarded_for: Option<&str>, proxies: &[Network]) -> Option<Ip> {
    let peer_ip = parse_ip(peer?)?;
    if !trusted(peer_ip, proxies) {
        return Some(peer_ip);
    }
    let chain = py_strip(forwarded_for.unwrap_or(""));
    if chain.is_empty() || chain == "-" {
        return Some(peer_ip);
    }
    let mut end = chain.len();
    for _ in 0..MAX_HOPS {
        let start = chain[..end].rfind(',');
        let hop = parse_ip(&chain[start.map_or(0, |s| s + 1)..end]);
        match (hop, start) {
            (Some(ip), Some(s)) if trusted(ip, proxies) => end = s,
            _ => return hop,
        }
    }
    None
}

/// How `IPGeneralizer` publishes an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Truncate,
    Pseudonym,
    Drop,
}

#[derive(Debug, Clone)]
pub struct Generalizer {
    pub mode: Mode,
    pub ipv4_prefix: u32,
    pub ipv6_prefix: u32,
}

impl Generalizer {
    /// `IPGeneralizer.__call__`; `None` key in pseudonym mode is the caller's error to report.
    pub fn generalize(&self, ip: Option<Ip>, key: &[u8]) -> Option<String> {
        if self.mode == Mode::Drop {
            return None;
        }
        let ip = publishable(ip?);
        if self.mode == Mode::Pseudonym {
            return Some(crypto::ip_pseudonym(key, &ip.packed()));
        }
        Some(match ip {
            Ip::V4(n) => {
                let drop = 32 - self.ipv4_prefix;
                let high = if drop >= 32 { 0 } else { (n >> drop) << drop };
                format!("{}/{}", format_v4(high), self.ipv4_prefix)
            }
            Ip::V6(n) => {
                let drop = 128 - self.ipv6_prefix;
                let high = if drop >= 128 { 0 } else { (n >> drop) << drop };
                format!("{}/{}", format_v6(high), self.ipv6_prefix)
            }
        })
    }
}

pub fn format_v4(n: u32) -> String {
    let b = n.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// `str(IPv6Address)` in Python 3.11: lowercase hextets, the longest run of two or more zero
/// hextets (the first such) as `::`.
pub fn format_v6(n: u128) -> String {
    let hextets: Vec<u16> = (0..8).rev().map(|i| (n >> (16 * i)) as u16).collect();
    let (mut best_start, mut best_len, mut start, mut len) = (0usize, 0usize, 0usize, 0usize);
    for (i, h) in hextets.iter().enumerate() {
        if *h == 0 {
            if len == 0 {
                start = i;
            }
            len += 1;
            if len > best_len {
                best_len = len;
                best_start = start;
            }
        } else {
            len = 0;
        }
    }
    let hex = |hs: &[u16]| hs.iter().map(|h| format!("{h:x}")).collect::<Vec<_>>().join(":");
    if best_len > 1 {
        format!(
            "{}::{}",
            hex(&hextets[..best_start]),
            hex(&hextets[best_start + best_len..])
        )
    } else {
        hex(&hextets)
    }
}

/// The network key of `ip.network_key`: the packed /24 or /48.
pub fn network_key(ip: Ip) -> Vec<u8> {
    match ip {
        Ip::V4(n) => n.to_be_bytes()[..3].to_vec(),
        Ip::V6(n) => n.to_be_bytes()[..6].to_vec(),
    }
}

/// `url._is_ip`'s inner test: `ipaddress.ip_address(text)` (IPv4, else IPv6 with a scope id).
pub fn is_ip_address(text: &str) -> bool {
    ipv4(text).is_some() || ipv6(text).is_some()
}

pub fn strip_brackets(text: &str) -> &str {
    py_strip_chars(text, &['[', ']'])
}
