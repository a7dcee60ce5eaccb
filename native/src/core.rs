//! `scrub/scrubber.py`'s `Scrubber.process` over a batch of lines, with `scrub/routing.py`'s
//! serialization: events, sealed lines and rejections written as the reference writes them, and
//! the aggregate updates summed per bucket (`sums`).
//!
//! What stays in Python is asked for through `Lookups`, on a cache miss only: user agents, sites,
//! referrers (the Public Suffix List), GeoIP, restrictions, and the reference path generalizer for
//! targets the compiled one leaves to it. Keys come from the driver's key rings: a line whose
//! visitor key the driver has not given stops the batch there (`Output::stop`), before anything of
//! that line has changed, so the driver can claim the key and call again with the rest.

use std::hash::{BuildHasher, Hash, Hasher};
use std::rc::Rc;

use blake2::digest::consts::U32;
use blake2::digest::Mac;
use blake2::Blake2bMac;

use crate::clf::Request;
use crate::crypto::{self, Sealer};
use crate::formats::Format;
use crate::ip::{self, Ip, Network};
use crate::json;
use crate::keyed::Keyed;
use crate::maps::{ByAddress, Map};
use crate::subjects::{Subjects, RANDOM_PER_SUBJECT};
use crate::sums::{self, Sums, Taken, Update};
use crate::time::Time;
use crate::url::{self, Domains};
use crate::vocabulary::{DayRef, Vocabulary};

pub const EVENT_SCHEMA: &str = "logscrub.event/2";
const METHODS: [&str; 19] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "OPTIONS",
    "CONNECT",
    "TRACE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "REPORT",
    "SEARCH",
    "PURGE",
];
const PROTOCOLS: [&str; 7] = [
    "HTTP/0.9", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/2.0", "HTTP/3", "HTTP/3.0",
];
const OTHER: &str = "(other)";
const RARE: &str = "(rare)";
const TOO_LONG: &str = "too_long";
const EMPTY: &str = "empty";
const CACHE_MAX: usize = 65536;
/// `LEVELS`: coarser and coarser descriptions, by the positions of `DESCRIPTION` they keep.
const LEVELS: [&[usize]; 7] = [
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    &[0, 1, 3, 5, 6, 7, 8, 9],
    &[0, 1, 3, 5, 6, 7],
    &[0, 1, 3, 5, 6],
    &[0, 1, 5, 6],
    &[0, 1],
    &[0, 5, 6],
];
const DESCRIPTION: [&str; 11] = [
    "site",
    "browser",
    "browser_major",
    "os",
    "os_major",
    "device",
    "bot",
    "country",
    "asn",
    "as_org",
    "protocol",
];
/// The fields of `DESCRIPTION`.
const FIELDS: usize = DESCRIPTION.len();

/// `UAInfo`: what the user-agent generalizer says of one user agent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Agent {
    pub browser: Rc<str>,
    pub browser_major: Option<Rc<str>>,
    pub os: Rc<str>,
    pub os_major: Option<Rc<str>>,
    pub device: Rc<str>,
    pub bot: bool,
}

/// `GeoInfo`.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Geo {
    pub country: Option<Rc<str>>,
    pub asn: Option<i64>,
    pub as_org: Option<Rc<str>>,
}

/// A value with its hash taken once: descriptions are looked up every line by fields that repeat.
struct Hashed<T> {
    value: T,
    hash: u64,
}

impl<T: Hash> Hashed<T> {
    fn new(value: T) -> Hashed<T> {
        let hash = foldhash::quality::FixedState::default().hash_one(&value);
        Hashed { value, hash }
    }
}

impl<T: PartialEq> PartialEq for Hashed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.value == other.value
    }
}

impl<T: Eq> Eq for Hashed<T> {}

impl<T> Hash for Hashed<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// What the reference does in Python, asked for on a cache miss.
pub trait Lookups: Domains {
    type Error;
    /// `UAGeneralizer()(text)`.
    fn agent(&mut self, text: Option<&str>) -> Result<Agent, Self::Error>;
    /// `Scrubber.site(host)`.
    fn site(&mut self, host: Option<&str>) -> Result<String, Self::Error>;
    /// `ReferrerGeneralizer()(referrer, site)`.
    fn referrer(&mut self, referrer: Option<&str>, site: &str) -> Result<(Option<String>, String), Self::Error>;
    /// `GeoLookup.lookup(address)`; never asked without GeoIP.
    fn geo(&mut self, packed: &[u8]) -> Result<Geo, Self::Error>;
    /// The scrubber's `restricted(packed)`; never asked without one.
    fn restricted(&mut self, packed: &[u8]) -> Result<bool, Self::Error>;
    /// The reference `PathGeneralizer(target)`, for targets the compiled one leaves to it.
    fn path(&mut self, target: Option<&str>) -> Result<url::Generalized, Self::Error>;
    /// A line the reference itself cannot handle (it raises there): the batch stops with this error.
    fn unsupported(&mut self, what: &str) -> Self::Error;
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    None,
    Network,
    Pseudonym,
}

/// The settings `Scrubber.__init__` reads from the config.
pub struct Settings {
    pub format: Format,
    pub max_line: usize,
    pub trusted: Vec<Network>,
    pub client_mode: ClientMode,
    pub ipv4_prefix: u32,
    pub ipv6_prefix: u32,
    pub granularity: i64,
    pub window: i64,
    pub visitor_rotation: i64,
    pub dimensions: Vec<u8>, // 1 + each configured dimension's place in DIMENSIONS
    pub k: usize,
    pub subjects: bool,
    pub geo: bool,
    pub restricted: bool,
}

/// One visitor key as the ring holds it for a period.
pub struct VisitorKey {
    pub kid: String,
    pub period: i64,
    pub secret: Vec<u8>,
}

/// One call's input.
pub struct Input<'a> {
    pub lines: &'a [&'a [u8]],
    pub sources: Option<&'a [&'a str]>,
    pub now: f64,
    pub data_kid: &'a str,
    pub data_secret: &'a [u8],
    pub nonces: &'a [u8], // 12 a line
    pub random: &'a mut dyn FnMut() -> [u8; RANDOM_PER_SUBJECT],
    pub restrictions_changed: bool,
    pub newline: bool,
    pub detail: bool,
}

/// Records back to back, each ending at its `ends` entry.
#[derive(Default)]
pub struct Records {
    pub data: Vec<u8>,
    pub ends: Vec<usize>,
}

impl Records {
    fn finish(&mut self, newline: bool) {
        if newline {
            self.data.push(b'\n');
        }
        self.ends.push(self.data.len());
    }
}

/// What a line became: `Outcome` in short.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Event = 0,
    Withheld = 1,
    Restricted = 2,
    Rejected = 3,
}

/// One line's `AggUpdate`, kept only when asked for (`Input::detail`).
pub struct LineUpdate {
    pub timestamp_ms: i64,
    pub site: Rc<str>,
    pub window: i64,
    pub visitor: u64,
    pub client: u64,
    pub bytes: u64,
    pub status_class: Rc<str>,
    pub dims: Vec<(u8, Rc<str>)>,
}

/// One call's output: `Routed`'s records and counts for the lines done, and their sums.
pub struct Output {
    pub done: usize,
    pub stop: Option<f64>, // the event time of line `done`, whose visitor key is needed
    pub events: Records,            // in line order, each without a newline (held, not written)
    pub groups: Vec<(Rc<str>, i64)>, // (site, slot start in seconds) in order of first sight
    pub group_of: Vec<u32>,          // each event's entry in `groups`
    pub event_clients: Vec<u64>,     // each event's client (`AggUpdate.client`), for the owner's check
    pub sealed: Records,
    pub rejected: Records,
    pub reasons: Vec<(&'static str, u64)>, // in order of first sight
    pub withheld: u64,
    pub restricted: u64,
    pub latest: i64,
    pub sums: Option<Taken>,
    pub kinds: Vec<Kind>,
    pub line_reasons: Vec<Option<&'static str>>,
    pub updates: Vec<Option<LineUpdate>>,
}

struct Client {
    packed: Rc<[u8]>,
    published: Option<Rc<str>>,
    geo: Rc<Hashed<Geo>>,
    identity: u64,
}

struct AgentEntry {
    id: u64,
    agent: Rc<Hashed<Agent>>,
    browser_value: Rc<str>,
    os_value: Rc<str>,
}

/// A description tuple's fields, by value (the reference's `_levels` key).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Description {
    site: Rc<str>,
    agent: Rc<Hashed<Agent>>,
    geo: Rc<Hashed<Geo>>,
    protocol: Option<&'static str>,
}

/// What a description publishes at each level, and each level's group hash today.
struct Levels {
    hashes: [u64; 7],
    fields: Rc<[Shown; 8]>,
}

/// The fields a level publishes: the site, the protocol, and the event's JSON from `browser` to `as_org`.
struct Shown {
    site: Rc<str>,
    protocol: Option<&'static str>,
    json: Vec<u8>,
}

/// A referrer's registrable domain (or None) and its class.
type Referred = (Option<Rc<str>>, Rc<str>);

struct Slot {
    coarse: Rc<str>,
    window: i64,
    t: f64,
    coarse_ms: i64,
}

/// The per-line loop and its caches; keys and vocabulary are the driver's.
pub struct Core {
    s: Settings,
    paths: url::PathGeneralizer,
    ips: ip::Generalizer,
    subjects: Subjects,
    scratch: crypto::Scratch,
    sums: Sums,
    visitor_keys: Map<i64, Rc<VisitorKey>>,
    data: Option<(String, Rc<Sealer>)>,
    // Caches on the logged text (None and "" give the same answers, so share a key); those
    // derived from the visitor key go with every key change.
    times: Map<Time, Rc<Slot>>,
    agents: Map<String, Rc<AgentEntry>>,
    agent_ids: u64,
    sites: Map<String, Rc<str>>,
    referrers: Map<String, Vec<(Rc<str>, Referred)>>, // by referrer, then by site
    restricted: Map<Rc<[u8]>, bool>,
    statuses: Map<Option<u16>, Rc<str>>,
    keyed_by: Option<String>,
    day: Option<DayRef>,
    day_generation: u64,
    period: i64,
    hashes: Option<Hashes>,
    all_rare: u64,
    clients: Map<String, Rc<Client>>,                       // by peer address as logged
    proxied: Map<(String, String), Rc<Client>>,             // by (peer, X-Forwarded-For), behind trusted proxies
    visitors: Map<(Rc<[u8]>, u64), u64>,                    // by (address, user agent id)
    values: Map<(u8, ByAddress<str>, ByAddress<str>), u64>, // path and referrer values' hashes today
    levels: Map<Description, Rc<Levels>>,
    shown: Map<Description, Rc<[Shown; 8]>>,
    interned: Map<String, Rc<str>>,
    targets: Map<String, Rc<Templated>>,
    path_fallbacks: u64,
    group_index: Map<(Rc<str>, i64), u32>, // this call's `Output::groups`, by (site, slot)
}

/// A target's path template (interned) and allowlisted query parameters.
type Templated = (Option<Rc<str>>, Option<Vec<(String, String)>>);
const MAX_CACHED_TARGET: usize = 2048;

/// Python's float `//` (`float_floor_div`), so periods and windows fall where the reference's do.
pub fn py_floordiv(vx: f64, wx: f64) -> f64 {
    let mut m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 && ((wx < 0.0) != (m < 0.0)) {
        m += wx;
        div -= 1.0;
    }
    let _ = m;
    if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0.0f64.copysign(vx / wx)
    }
}

/// `datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")` (glibc: the year unpadded);
/// None where the reference raises (outside years 1 to 9999).
fn iso_seconds(seconds: i64) -> Option<String> {
    let t = Time::from_epoch_us(seconds.checked_mul(1_000_000)?)?;
    Some(format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    ))
}

fn bytes_isspace(line: &[u8]) -> bool {
    line.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

/// `_leading_address(line)`: the packed address a rejected line starts with, else b"".
fn leading_address(line: &[u8]) -> Vec<u8> {
    let head = &line[..line.len().min(64)];
    let token = head.split(|&b| b == b' ').next().unwrap_or(b"");
    match std::str::from_utf8(token) {
        Ok(text) if text.is_ascii() => ip::parse_ip(text).map_or_else(Vec::new, |ip| ip.packed()),
        _ => Vec::new(), // a non-ASCII byte decodes to U+FFFD: never an address
    }
}

fn write_opt_str(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(s) => json::write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn field_json(out: &mut Vec<u8>, d: &Description, j: usize) {
    match j {
        0 => json::write_str(out, &d.site),
        1 => json::write_str(out, &d.agent.value.browser),
        2 => write_opt_str(out, d.agent.value.browser_major.as_deref()),
        3 => json::write_str(out, &d.agent.value.os),
        4 => write_opt_str(out, d.agent.value.os_major.as_deref()),
        5 => json::write_str(out, &d.agent.value.device),
        6 => out.extend_from_slice(if d.agent.value.bot { b"true" } else { b"false" }),
        7 => write_opt_str(out, d.geo.value.country.as_deref()),
        8 => match d.geo.value.asn {
            Some(n) => json::write_i64(out, n),
            None => out.extend_from_slice(b"null"),
        },
        9 => write_opt_str(out, d.geo.value.as_org.as_deref()),
        _ => write_opt_str(out, d.protocol),
    }
}

/// `_described(description, level)` as JSON values, one per DESCRIPTION field.
fn described(d: &Description, level: usize) -> Vec<Vec<u8>> {
    (0..FIELDS)
        .map(|j| {
            let mut v = Vec::new();
            let kept = level < LEVELS.len() && LEVELS[level].contains(&j);
            let rare_here = if level < LEVELS.len() {
                j == 1 || j == 3
            } else {
                matches!(j, 0 | 1 | 3 | 5)
            };
            if kept {
                field_json(&mut v, d, j);
            } else if rare_here {
                json::write_str(&mut v, RARE);
            } else {
                v.extend_from_slice(b"null");
            }
            v
        })
        .collect()
}

/// `["c", *fields]`, as `orjson.dumps` writes the tuple the vocabulary hashes.
fn group_json(fields: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"[\"c\"".to_vec();
    for f in fields {
        out.push(b',');
        out.extend_from_slice(f);
    }
    out.push(b']');
    out
}

fn value_json(kind: &str, site: &str, value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + site.len() + value.len());
    out.extend_from_slice(b"[\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",");
    json::write_str(&mut out, site);
    out.push(b',');
    json::write_str(&mut out, value);
    out.push(b']');
    out
}

fn cache_put<K: Hash + Eq, V>(map: &mut Map<K, V>, key: K, value: V) {
    if map.len() >= CACHE_MAX {
        map.clear();
    }
    map.insert(key, value);
}

impl Core {
    pub fn new(s: Settings, paths: url::PathGeneralizer) -> Core {
        let ips = ip::Generalizer {
            mode: if s.client_mode == ClientMode::Pseudonym {
                ip::Mode::Pseudonym
            } else {
                ip::Mode::Truncate
            },
            ipv4_prefix: s.ipv4_prefix,
            ipv6_prefix: s.ipv6_prefix,
        };
        let k = s.k;
        Core {
            s,
            paths,
            ips,
            subjects: Subjects::default(),
            scratch: crypto::Scratch::default(),
            sums: Sums::new(k),
            visitor_keys: Map::default(),
            data: None,
            times: Map::default(),
            agents: Map::default(),
            agent_ids: 0,
            sites: Map::default(),
            referrers: Map::default(),
            restricted: Map::default(),
            statuses: Map::default(),
            keyed_by: None,
            day: None,
            day_generation: 0,
            period: -1,
            hashes: None,
            all_rare: 0,
            clients: Map::default(),
            proxied: Map::default(),
            visitors: Map::default(),
            values: Map::default(),
            levels: Map::default(),
            shown: Map::default(),
            interned: Map::default(),
            targets: Map::default(),
            path_fallbacks: 0,
            group_index: Map::default(),
        }
    }

    pub fn max_line(&self) -> usize {
        self.s.max_line
    }

    /// Targets handed to the reference path generalizer so far.
    pub fn path_fallbacks(&self) -> u64 {
        self.path_fallbacks
    }

    pub fn subjects(&mut self) -> &mut Subjects {
        &mut self.subjects
    }

    /// The visitor keys the driver's ring holds, by period (they replace those given before).
    pub fn set_visitor_keys(&mut self, keys: Vec<VisitorKey>) {
        self.visitor_keys = keys.into_iter().map(|k| (k.period, Rc::new(k))).collect();
    }

    fn intern(&mut self, s: &str) -> Rc<str> {
        if let Some(v) = self.interned.get(s) {
            return v.clone();
        }
        let v: Rc<str> = Rc::from(s);
        cache_put(&mut self.interned, s.to_owned(), v.clone());
        v
    }

    /// Every line of `input` until the end or a line whose visitor key is not given.
    pub fn run<L: Lookups>(
        &mut self,
        vocab: &mut Vocabulary,
        look: &mut L,
        input: Input<'_>,
    ) -> Result<Output, L::Error> {
        let mut out = Output {
            done: 0,
            stop: None,
            events: Records::default(),
            groups: Vec::new(),
            group_of: Vec::new(),
            event_clients: Vec::new(),
            sealed: Records::default(),
            rejected: Records::default(),
            reasons: Vec::new(),
            withheld: 0,
            restricted: 0,
            latest: -1,
            sums: None,
            kinds: Vec::new(),
            line_reasons: Vec::new(),
            updates: Vec::new(),
        };
        self.sums.clear();
        self.sums.reserve(input.lines.len());
        out.events.data.reserve(input.lines.len() * 480);
        out.sealed.data.reserve(input.lines.len() * 640);
        out.events.ends.reserve(input.lines.len());
        out.sealed.ends.reserve(input.lines.len());
        if input.restrictions_changed {
            self.restricted.clear();
        }
        let data = match &self.data {
            Some((kid, sealer)) if kid == input.data_kid => sealer.clone(),
            _ => {
                let sealer = Rc::new(Sealer::new(input.data_secret).expect("a 32-byte data key"));
                self.data = Some((input.data_kid.to_owned(), sealer.clone()));
                sealer
            }
        };
        self.group_index.clear();
        let mut ctx = Ctx {
            ingested: json::py_round3(input.now),
            kid: input.data_kid,
            secret: input.data_secret,
            data: &data,
            random: input.random,
            newline: input.newline,
            detail: input.detail,
        };
        for (i, line) in input.lines.iter().enumerate() {
            let source = input.sources.map(|s| s[i]);
            let nonce: [u8; 12] = input.nonces[12 * i..12 * i + 12].try_into().expect("12 bytes");
            if let Some(t) = self.line(vocab, look, &mut ctx, &mut out, line, source, nonce)? {
                out.stop = Some(t);
                break;
            }
            out.done += 1;
        }
        out.sums = Some(self.sums.take());
        Ok(out)
    }

    fn reject(
        &mut self,
        ctx: &mut Ctx<'_>,
        out: &mut Output,
        line: &[u8],
        reason: &'static str,
        source: Option<&str>,
        nonce: [u8; 12],
    ) {
        let packed = leading_address(line);
        self.seal(ctx, &mut out.rejected, line, Some(reason), source, &packed, nonce);
        match out.reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => out.reasons.push((reason, 1)),
        }
        if ctx.detail {
            out.kinds.push(Kind::Rejected);
            out.line_reasons.push(Some(reason));
            out.updates.push(None);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn seal(
        &mut self,
        ctx: &mut Ctx<'_>,
        to: &mut Records,
        line: &[u8],
        reason: Option<&str>,
        source: Option<&str>,
        packed: &[u8],
        nonce: [u8; 12],
    ) {
        let subject = if self.s.subjects {
            Some(
                self.subjects
                    .for_subject(ctx.kid, ctx.secret, ctx.data, packed, &mut *ctx.random),
            )
        } else {
            None
        };
        crypto::seal_json(
            &mut to.data,
            &mut self.scratch,
            ctx.data,
            subject.as_ref().map(|(id, s)| (&**id, &**s)),
            line,
            ctx.kid,
            ctx.ingested,
            reason,
            source,
            nonce,
        );
        to.finish(ctx.newline);
    }

    /// One line (`Scrubber.process` and `Routed.add`); Some(t) when it needs the visitor key of `t`.
    #[allow(clippy::too_many_arguments)]
    fn line<L: Lookups>(
        &mut self,
        vocab: &mut Vocabulary,
        look: &mut L,
        ctx: &mut Ctx<'_>,
        out: &mut Output,
        raw: &[u8],
        source: Option<&str>,
        nonce: [u8; 12],
    ) -> Result<Option<f64>, L::Error> {
        if raw.len() > self.s.max_line {
            let cut = &raw[..self.s.max_line];
            self.reject(ctx, out, cut, TOO_LONG, source, nonce);
            return Ok(None);
        }
        let mut end = raw.len();
        while end > 0 && matches!(raw[end - 1], b'\r' | b'\n') {
            end -= 1;
        }
        let line = &raw[..end];
        if line.is_empty() || bytes_isspace(line) {
            self.reject(ctx, out, line, EMPTY, source, nonce);
            return Ok(None);
        }
        // `bytes.decode("utf-8", "replace")`; valid UTF-8 (nearly every line) is checked faster alone.
        let text = match std::str::from_utf8(line) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(line),
        };
        let req = match self.s.format.parse(&text) {
            Ok(r) => r,
            Err(e) => {
                self.reject(ctx, out, line, e.reason(), source, nonce);
                return Ok(None);
            }
        };
        let slot = match self.times.get(&req.time) {
            Some(s) => s.clone(),
            None => match self.time_slot(req.time) {
                Some(s) => s,
                None => return Err(look.unsupported("a time whose UTC minute is outside years 1 to 9999")),
            },
        };
        let period = py_floordiv(slot.t, self.s.visitor_rotation as f64) as i64;
        let Some(vkey) = self.visitor_keys.get(&period).cloned() else {
            return Ok(Some(slot.t));
        };
        if self.keyed_by.as_deref() != Some(vkey.kid.as_str()) {
            self.rekey(vocab, &vkey);
        }
        let peer = req.client.as_deref().unwrap_or("");
        let known = if self.s.trusted.is_empty() {
            self.clients.get(peer)
        } else {
            let xff = req.forwarded_for.as_deref().unwrap_or("");
            self.proxied.get(&(peer.to_owned(), xff.to_owned()))
        };
        let client = match known {
            Some(c) => c.clone(),
            None => self.client(look, &req, &vkey.secret)?,
        };
        let packed = client.packed.clone();
        self.seal(ctx, &mut out.sealed, line, None, source, &packed, nonce);
        if self.s.restricted && self.is_restricted(look, &packed)? {
            out.restricted += 1;
            if ctx.detail {
                out.kinds.push(Kind::Restricted);
                out.line_reasons.push(None);
                out.updates.push(None);
            }
            return Ok(None);
        }
        self.anonymize(look, ctx, out, &req, &slot, &client, source, line)?;
        Ok(None)
    }

    fn time_slot(&mut self, time: Time) -> Option<Rc<Slot>> {
        let t = time.timestamp();
        let g = self.s.granularity;
        let coarse = py_floordiv(t, g as f64) as i64 * g;
        let slot = Rc::new(Slot {
            coarse: Rc::from(iso_seconds(coarse)?),
            window: py_floordiv(t, self.s.window as f64) as i64 * self.s.window,
            t,
            coarse_ms: coarse * 1000,
        });
        cache_put(&mut self.times, time, slot.clone());
        Some(slot)
    }

    fn rekey(&mut self, vocab: &mut Vocabulary, vkey: &VisitorKey) {
        self.clients.clear();
        self.proxied.clear();
        self.visitors.clear();
        self.values.clear();
        self.levels.clear();
        self.keyed_by = Some(vkey.kid.clone());
        let before = self.day.take();
        let day = vocab.day(&vkey.kid, Some(&vkey.secret));
        if let Some(before) = before {
            if !Rc::ptr_eq(&before, &day) && !day.borrow().seeded && vkey.period > self.period {
                let values = before.borrow().published_values();
                day.borrow_mut().seed(&values); // yesterday's vocabulary starts today's
            }
        }
        self.period = self.period.max(vkey.period);
        let mut mac = Blake2bMac::<U32>::new_with_salt_and_personal(&vkey.secret, &[], &[]).expect("a short key");
        mac.update(b"logscrub/event-id");
        let ids_key: [u8; 32] = mac.finalize().into_bytes().into();
        self.hashes = Some(Hashes {
            ids: Keyed::new(&ids_key, b"", 10),
            clients: Keyed::new(&vkey.secret, b"logscrub-client", 8),
            visitors: Keyed::new(&vkey.secret, b"", 8),
        });
        let all_rare = described(&self.placeholder_description(), LEVELS.len());
        self.all_rare = day.borrow_mut().value(&group_json(&all_rare)).expect("the day's key");
        self.day_generation = day.borrow().generation;
        self.day = Some(day);
    }

    fn placeholder_description(&self) -> Description {
        let none: Rc<str> = Rc::from("");
        Description {
            site: none.clone(),
            agent: Rc::new(Hashed::new(Agent {
                browser: none.clone(),
                browser_major: None,
                os: none.clone(),
                os_major: None,
                device: none,
                bot: false,
            })),
            geo: Rc::new(Hashed::new(Geo::default())),
            protocol: None,
        }
    }

    fn client<L: Lookups>(&mut self, look: &mut L, req: &Request, secret: &[u8]) -> Result<Rc<Client>, L::Error> {
        let identity = |who: &[u8]| self.hashes.as_ref().expect("keyed").clients.hash63(&[who]);
        let client = match ip::client_ip(req.client.as_deref(), req.forwarded_for.as_deref(), &self.s.trusted) {
            None => Client {
                packed: Rc::from(&b""[..]),
                published: None,
                geo: Rc::new(Hashed::new(Geo::default())),
                identity: identity(b""),
            },
            Some(ip) => {
                let public = ip::publishable(ip);
                let public_packed = public.packed();
                let geo = if self.s.geo {
                    look.geo(&public_packed)?
                } else {
                    Geo::default()
                };
                let published = if self.s.client_mode != ClientMode::None {
                    self.ips.generalize(Some(public), secret).map(Rc::from)
                } else {
                    None
                };
                let who = match public {
                    Ip::V6(_) => &public_packed[..8],
                    Ip::V4(_) => &public_packed[..],
                };
                Client {
                    packed: Rc::from(ip.packed()),
                    published,
                    geo: Rc::new(Hashed::new(geo)),
                    identity: identity(who),
                }
            }
        };
        let client = Rc::new(client);
        let peer = req.client.clone().unwrap_or_default();
        if self.s.trusted.is_empty() {
            cache_put(&mut self.clients, peer, client.clone());
        } else {
            let key = (peer, req.forwarded_for.clone().unwrap_or_default());
            cache_put(&mut self.proxied, key, client.clone());
        }
        Ok(client)
    }

    fn is_restricted<L: Lookups>(&mut self, look: &mut L, packed: &Rc<[u8]>) -> Result<bool, L::Error> {
        if let Some(&r) = self.restricted.get(packed) {
            return Ok(r);
        }
        let r = look.restricted(packed)?;
        cache_put(&mut self.restricted, packed.clone(), r);
        Ok(r)
    }

    fn agent<L: Lookups>(&mut self, look: &mut L, text: Option<&str>) -> Result<Rc<AgentEntry>, L::Error> {
        if let Some(a) = self.agents.get(text.unwrap_or("")) {
            return Ok(a.clone());
        }
        let ua = look.agent(text)?;
        let browser_value = match &ua.browser_major {
            Some(m) if !m.is_empty() => self.intern(&format!("{} {}", ua.browser, m)),
            _ => ua.browser.clone(),
        };
        let os_value = match &ua.os_major {
            Some(m) if !m.is_empty() => self.intern(&format!("{} {}", ua.os, m)),
            _ => ua.os.clone(),
        };
        self.agent_ids += 1;
        let entry = Rc::new(AgentEntry {
            id: self.agent_ids,
            agent: Rc::new(Hashed::new(ua)),
            browser_value,
            os_value,
        });
        cache_put(&mut self.agents, text.unwrap_or("").to_owned(), entry.clone());
        Ok(entry)
    }

    fn site<L: Lookups>(&mut self, look: &mut L, host: Option<&str>) -> Result<Rc<str>, L::Error> {
        if let Some(s) = self.sites.get(host.unwrap_or("")) {
            return Ok(s.clone());
        }
        let site = look.site(host)?;
        let site = self.intern(&site);
        cache_put(&mut self.sites, host.unwrap_or("").to_owned(), site.clone());
        Ok(site)
    }

    fn referrer<L: Lookups>(
        &mut self,
        look: &mut L,
        referrer: Option<&str>,
        site: &Rc<str>,
    ) -> Result<Referred, L::Error> {
        let text = referrer.unwrap_or("");
        if let Some(by_site) = self.referrers.get(text) {
            if let Some((_, r)) = by_site.iter().find(|(s, _)| s == site) {
                return Ok(r.clone());
            }
        }
        let (domain, class) = look.referrer(referrer, site)?;
        let got = (domain.map(|d| self.intern(&d)), self.intern(&class));
        if self.referrers.len() >= CACHE_MAX {
            self.referrers.clear();
        }
        self.referrers
            .entry(text.to_owned())
            .or_default()
            .push((site.clone(), got.clone()));
        Ok(got)
    }

    /// `status_class`: the class of a status code, `other` without one.
    fn status_class(&mut self, status: Option<u16>) -> Rc<str> {
        if let Some(c) = self.statuses.get(&status) {
            return c.clone();
        }
        let class: Rc<str> = match status {
            Some(s) => Rc::from(format!("{}xx", s / 100)),
            None => Rc::from("other"),
        };
        cache_put(&mut self.statuses, status, class.clone());
        class
    }

    /// `day.value((kind, site, value))` for a path (`p`) or referrer domain (`r`), cached by the
    /// interned strings while the day's own table of hashes is the same.
    fn value_hash(&mut self, day: &DayRef, kind: u8, site: &Rc<str>, value: &Rc<str>) -> u64 {
        let generation = day.borrow().generation;
        if generation != self.day_generation {
            self.values.clear();
            self.day_generation = generation;
        }
        let key = (kind, ByAddress(site.clone()), ByAddress(value.clone()));
        if let Some(&h) = self.values.get(&key) {
            return h;
        }
        let json = value_json(if kind == b'p' { "p" } else { "r" }, site, value);
        let h = day.borrow_mut().value(&json).expect("the day's key");
        if day.borrow().generation == generation {
            cache_put(&mut self.values, key, h);
        }
        h
    }

    /// `PathGeneralizer(target)`, cached here too: its answer depends on the text alone.
    fn path<L: Lookups>(&mut self, look: &mut L, target: Option<&str>) -> Result<Rc<Templated>, L::Error> {
        let text = target.unwrap_or("");
        if let Some(t) = self.targets.get(text) {
            return Ok(t.clone());
        }
        let (path, query) = match self.paths.generalize(target, look) {
            Ok(g) => g,
            Err(url::Fallback) => {
                self.path_fallbacks += 1;
                look.path(target)?
            }
        };
        let templated = Rc::new((path.map(|p| self.intern(&p)), query));
        if text.len() <= MAX_CACHED_TARGET {
            cache_put(&mut self.targets, text.to_owned(), templated.clone());
        }
        Ok(templated)
    }

    fn shown_fields(&mut self, d: &Description) -> Rc<[Shown; 8]> {
        if let Some(s) = self.shown.get(d) {
            return s.clone();
        }
        let fields: [Shown; 8] = std::array::from_fn(|level| {
            let values = described(d, level);
            let mut json = Vec::with_capacity(160);
            for (j, v) in values.iter().enumerate().take(10).skip(1) {
                json.extend_from_slice(b",\"");
                json.extend_from_slice(DESCRIPTION[j].as_bytes());
                json.extend_from_slice(b"\":");
                json.extend_from_slice(v);
            }
            let site = if level < LEVELS.len() {
                d.site.clone()
            } else {
                Rc::from(RARE)
            };
            let protocol = if level == 0 { d.protocol } else { None }; // LEVELS: the finest only
            Shown { site, protocol, json }
        });
        let fields = Rc::new(fields);
        cache_put(&mut self.shown, d.clone(), fields.clone());
        fields
    }

    /// `_level_hashes`: each level's group hash; levels publishing the same fields are one group.
    fn levels(&mut self, d: &Description, day: &DayRef) -> Rc<Levels> {
        if let Some(l) = self.levels.get(d) {
            return l.clone();
        }
        let fields = self.shown_fields(d);
        let mut day = day.borrow_mut();
        let hashes = std::array::from_fn(|level| day.value(&group_json(&described(d, level))).expect("the day's key"));
        let levels = Rc::new(Levels { hashes, fields });
        cache_put(&mut self.levels, d.clone(), levels.clone());
        levels
    }

    #[allow(clippy::too_many_arguments)]
    fn anonymize<L: Lookups>(
        &mut self,
        look: &mut L,
        ctx: &mut Ctx<'_>,
        out: &mut Output,
        req: &Request,
        slot: &Slot,
        client: &Client,
        source: Option<&str>,
        line: &[u8],
    ) -> Result<(), L::Error> {
        let day = self.day.clone().expect("keyed");
        let who = client.identity;
        let agent = self.agent(look, req.user_agent.as_deref())?;
        let visitor_key = (client.packed.clone(), agent.id);
        let visitor = match self.visitors.get(&visitor_key) {
            Some(&v) => v,
            None => {
                let ua = req.user_agent.as_deref().unwrap_or("");
                let hashes = self.hashes.as_ref().expect("keyed");
                let v = hashes.visitors.hash63(&[&client.packed, b"\0", ua.as_bytes()]);
                cache_put(&mut self.visitors, visitor_key, v);
                v
            }
        };
        let templated = self.path(look, req.target.as_deref())?;
        let (path, query) = (templated.0.clone(), &templated.1);
        let site = self.site(look, req.host.as_deref())?;
        let (ref_domain, ref_class) = self.referrer(look, req.referrer.as_deref(), &site)?;
        let status_class = self.status_class(req.status);
        let protocol = req
            .protocol
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| PROTOCOLS.iter().find(|&&q| q == p).copied().unwrap_or(OTHER));

        // Invariant 2: the description, the path and the referrer domain as k clients showed them.
        let description = Description {
            site: site.clone(),
            agent: agent.agent.clone(),
            geo: client.geo.clone(),
            protocol,
        };
        // The join rule, per day. Within the event's slot the window owner applies it (slots.Groups): it
        // sees every worker's events of the slot, and a check here would only coarsen events before it does.
        let levels = self.levels(&description, &day);
        let level;
        {
            let mut d = day.borrow_mut();
            let mut lv = levels.hashes.len();
            for (i, &h) in levels.hashes.iter().enumerate() {
                if d.shown(h, who) && i < lv && d.joins(h, who) {
                    lv = i;
                }
            }
            level = lv;
            // A line whose event may join no group, not even the last resort's, is withheld:
            // sealed, and in no published number.
            if lv == levels.hashes.len() && !d.joins(self.all_rare, who) {
                drop(d);
                out.withheld += 1;
                if ctx.detail {
                    out.kinds.push(Kind::Withheld);
                    out.line_reasons.push(None);
                    out.updates.push(None);
                }
                return Ok(());
            }
        }
        // Hashed in the reference's order (levels, path, referrer): the day's table of values is too.
        let path_hash = path.as_ref().map(|p| self.value_hash(&day, b'p', &site, p));
        let ref_hash = ref_domain.as_ref().map(|r| self.value_hash(&day, b'r', &site, r));
        let shown_path;
        let shown_ref;
        {
            let mut d = day.borrow_mut();
            shown_path = path
                .as_deref()
                .zip(path_hash)
                .map(|(p, h)| if d.shown(h, who) { p } else { RARE });
            shown_ref = ref_domain
                .as_deref()
                .zip(ref_hash)
                .map(|(r, h)| if d.shown(h, who) { r } else { RARE });
        }

        let path_value = match &path {
            Some(p) if !p.is_empty() => p.clone(),
            _ => self.intern("(none)"),
        };
        let country = match &client.geo.value.country {
            Some(c) if !c.is_empty() => c.clone(),
            _ => self.intern("(unknown)"),
        };
        let referrer_value = match &ref_domain {
            Some(r) if !r.is_empty() => r.clone(),
            _ if &*ref_class == "none" => self.intern("(direct)"),
            _ if &*ref_class == "other" => self.intern("(no domain)"), // never "(other)", the folded bucket

            _ => self.intern(&format!("({ref_class})")),
        };
        let all = [
            path_value,
            country,
            agent.browser_value.clone(),
            agent.os_value.clone(),
            agent.agent.value.device.clone(),
            referrer_value,
        ];
        let dims: Vec<(u8, Rc<str>)> = self
            .s
            .dimensions
            .iter()
            .map(|&d| (d, all[d as usize - 1].clone()))
            .collect();
        self.sums.add(&Update {
            site: &site,
            window: slot.window,
            visitor,
            client: who,
            bytes: req.bytes,
            status: sums::status_index(&status_class),
            dims: &dims,
        });
        if slot.window > out.latest {
            out.latest = slot.window;
        }
        if ctx.detail {
            out.kinds.push(Kind::Event);
            out.line_reasons.push(None);
            out.updates.push(Some(LineUpdate {
                timestamp_ms: slot.coarse_ms,
                site: site.clone(),
                window: slot.window,
                visitor,
                client: who,
                bytes: req.bytes,
                status_class: status_class.clone(),
                dims,
            }));
        }
        let duration_ms = match req.duration {
            None => None,
            Some(d) => {
                let ms = (d * 1000.0).round_ties_even();
                // orjson writes integers from -2**63 to 2**64 - 1; the reference fails past them.
                if !(ms.is_finite() && ms >= -(2f64.powi(63)) && ms < 2f64.powi(64)) {
                    return Err(look.unsupported("a duration beyond what an event can hold"));
                }
                Some(ms)
            }
        };
        let shown = &levels.fields[level];
        let e = &mut out.events.data;
        e.extend_from_slice(b"{\"schema\":\"");
        e.extend_from_slice(EVENT_SCHEMA.as_bytes());
        e.push(b'"');
        if let Some(src) = source {
            let mut id = [0u8; 10];
            self.hashes
                .as_ref()
                .expect("keyed")
                .ids
                .digest_into(&[src.as_bytes(), b"\0", line], &mut id);
            e.extend_from_slice(b",\"id\":\"");
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for b in id {
                e.extend_from_slice(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
            e.push(b'"');
        }
        e.extend_from_slice(b",\"time\":");
        json::write_str(e, &slot.coarse);
        e.extend_from_slice(b",\"site\":");
        json::write_str(e, &shown.site);
        e.extend_from_slice(b",\"method\":");
        let method = req
            .method
            .as_deref()
            .map(|m| if METHODS.contains(&m) { m } else { OTHER });
        write_opt_str(
            e,
            method.filter(|_| req.method.as_deref().is_some_and(|m| !m.is_empty())),
        );
        e.extend_from_slice(b",\"path\":");
        write_opt_str(e, shown_path);
        e.extend_from_slice(b",\"protocol\":");
        write_opt_str(e, shown.protocol);
        e.extend_from_slice(b",\"status\":");
        match req.status {
            Some(s) => json::write_u64(e, s as u64),
            None => e.extend_from_slice(b"null"),
        }
        e.extend_from_slice(b",\"status_class\":");
        json::write_str(e, &status_class);
        e.extend_from_slice(b",\"bytes\":");
        json::write_u64(e, req.bytes);
        e.extend_from_slice(&shown.json);
        e.extend_from_slice(b",\"referrer_domain\":");
        write_opt_str(e, shown_ref);
        e.extend_from_slice(b",\"referrer_class\":");
        json::write_str(e, &ref_class);
        if self.s.client_mode != ClientMode::None {
            e.extend_from_slice(b",\"client\":");
            write_opt_str(e, client.published.as_deref());
        }
        if let Some(params) = query.as_ref().filter(|q| !q.is_empty()) {
            if shown_path != Some(RARE) {
                e.extend_from_slice(b",\"query\":{");
                for (i, (k, v)) in params.iter().enumerate() {
                    if i > 0 {
                        e.push(b',');
                    }
                    json::write_str(e, k);
                    e.push(b':');
                    json::write_str(e, v);
                }
                e.push(b'}');
            }
        }
        if let Some(ms) = duration_ms {
            e.extend_from_slice(b",\"duration_ms\":");
            if ms < 0.0 {
                json::write_i64(e, ms as i64);
            } else {
                json::write_u64(e, ms as u64);
            }
        }
        e.push(b'}');
        out.events.finish(false);
        // Held by (published site, slot start): `Routed.held`.
        let start = slot.coarse_ms.div_euclid(1000);
        let key = (shown.site.clone(), start);
        let group = match self.group_index.get(&key) {
            Some(&g) => g,
            None => {
                let g = out.groups.len() as u32;
                out.groups.push(key.clone());
                self.group_index.insert(key, g);
                g
            }
        };
        out.group_of.push(group);
        out.event_clients.push(who);
        Ok(())
    }
}

/// The keyed hashes of the current visitor key: event ids (`_ids_key`), clients (`_identity`)
/// and visitors (`_visitor_hash`).
struct Hashes {
    ids: Keyed,
    clients: Keyed,
    visitors: Keyed,
}

/// What every line of one call shares.
struct Ctx<'a> {
    ingested: f64, // `now` rounded to milliseconds, as envelopes hold it
    kid: &'a str,
    secret: &'a [u8],
    data: &'a Sealer,
    random: &'a mut dyn FnMut() -> [u8; RANDOM_PER_SUBJECT],
    newline: bool,
    detail: bool,
}
