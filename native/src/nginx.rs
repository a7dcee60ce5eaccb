//! `parsing/nginx_format.py`: a compiled nginx `log_format` (the directive is read in Python).

use regex::Regex;

use crate::clf::{parse_clf_time, parse_status, split_request_line, text_field, Parsed, Reject, Request};
use crate::jsonlines::{parse_bytes, parse_iso_time, parse_msec, parse_seconds};
use crate::pystr::rstrip_crlf;
use crate::time::Time;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conv {
    Text,
    ClfTime,
    IsoTime,
    Msec,
    Status,
    Bytes,
    Seconds,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Client,
    Time,
    Method,
    Target,
    Protocol,
    Status,
    Bytes,
    Referrer,
    UserAgent,
    User,
    Host,
    ForwardedFor,
    Duration,
}

// Per Request field, the variables that can fill it, best first (`_SOURCES`).
const SOURCES: &[(Slot, &[(&str, Conv)])] = &[
    (Slot::Client, &[("remote_addr", Conv::Text)]),
    (
        Slot::Time,
        &[
            ("time_local", Conv::ClfTime),
            ("time_iso8601", Conv::IsoTime),
            ("msec", Conv::Msec),
        ],
    ),
    (Slot::Method, &[("request_method", Conv::Text)]),
    (Slot::Target, &[("request_uri", Conv::Text)]),
    (Slot::Protocol, &[("server_protocol", Conv::Text)]),
    (Slot::Status, &[("status", Conv::Status)]),
    (
        Slot::Bytes,
        &[("body_bytes_sent", Conv::Bytes), ("bytes_sent", Conv::Bytes)],
    ),
    (Slot::Referrer, &[("http_referer", Conv::Text)]),
    (Slot::UserAgent, &[("http_user_agent", Conv::Text)]),
    (Slot::User, &[("remote_user", Conv::Text)]),
    (Slot::Host, &[("host", Conv::Text), ("server_name", Conv::Text)]),
    (Slot::ForwardedFor, &[("http_x_forwarded_for", Conv::Text)]),
    (Slot::Duration, &[("request_time", Conv::Seconds)]),
];

/// `[(is_variable, text)]` of a template, literals merged (`_split_template`).
fn split_template(template: &str) -> Vec<(bool, String)> {
    let re = Regex::new(r"\$(?:\{([0-9A-Za-z_]+)\}|([0-9A-Za-z_]+))").unwrap();
    let mut parts = Vec::new();
    let mut pos = 0;
    for c in re.captures_iter(template) {
        let m = c.get(0).unwrap();
        if m.start() > pos {
            parts.push((false, template[pos..m.start()].to_owned()));
        }
        parts.push((true, c.get(1).or(c.get(2)).unwrap().as_str().to_owned()));
        pos = m.end();
    }
    if pos < template.len() {
        parts.push((false, template[pos..].to_owned()));
    }
    parts
}

/// A character for use inside a regex class.
fn class_char(c: char) -> String {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        c.to_string()
    } else {
        format!("\\x{{{:X}}}", c as u32)
    }
}

fn value_pattern(name: &str, following: Option<&(bool, String)>, escaped: bool, fast: bool) -> String {
    if name == "time_local" {
        return r"[^ ]+ [+-][0-9]{4}".into();
    }
    let Some(following) = following else { return ".*".into() };
    if following.0 {
        return ".*?".into();
    }
    let stop = class_char(following.1.chars().next().unwrap());
    if fast && escaped {
        // `[^X]*(?<!\\)`: the value cannot end in a backslash.
        return format!(r"(?:[^{stop}]*[^{stop}\\])?");
    }
    if fast || !escaped {
        return format!("[^{stop}]*");
    }
    format!(r"[^{stop}\\]*(?:\\.[^{stop}\\]*)*")
}

fn pattern(parts: &[(bool, String)], captured: &[String], escaped: bool, fast: bool) -> String {
    let mut out = String::from(r"(?s)\A(?:");
    let mut seen: Vec<&str> = Vec::new();
    for (i, (is_var, text)) in parts.iter().enumerate() {
        if !is_var {
            out.push_str(&regex::escape(text));
            continue;
        }
        let body = value_pattern(text, parts.get(i + 1), escaped, fast);
        if captured.iter().any(|c| c == text) && !seen.contains(&text.as_str()) {
            seen.push(text);
            out.push_str(&format!("({body})"));
        } else {
            out.push_str(&format!("(?:{body})"));
        }
    }
    out.push_str(r")\z");
    out
}

pub struct NginxParser {
    fast: Regex,
    full: Option<Regex>,
    escaped: bool,
    plan: Vec<(Slot, usize, Conv)>, // (field, group, converter) in _SOURCES order
    request: Option<usize>,
    uri: Option<usize>,
    args: Option<usize>,
}

impl NginxParser {
    /// `compile_log_format` after `read_log_format`: the format string and its `escape=`.
    pub fn new(template: &str, escape: &str) -> Result<NginxParser, String> {
        let parts = split_template(template);
        let present: Vec<&str> = parts.iter().filter(|p| p.0).map(|p| p.1.as_str()).collect();
        let mut sources: Vec<(Slot, &str, Conv)> = Vec::new();
        for (slot, candidates) in SOURCES {
            if let Some((v, c)) = candidates.iter().find(|(v, _)| present.contains(v)) {
                sources.push((*slot, v, *c));
            }
        }
        if !sources.iter().any(|s| s.0 == Slot::Time) {
            return Err("log_format has no time variable ($time_local, $time_iso8601 or $msec)".into());
        }
        let mut used: Vec<&str> = sources.iter().map(|s| s.1).collect();
        if present.contains(&"request") {
            used.push("request");
        } else if !sources.iter().any(|s| s.0 == Slot::Target) && present.contains(&"uri") {
            used.push("uri");
            used.push("args");
        }
        let mut captured: Vec<String> = Vec::new();
        for v in &present {
            if used.contains(v) && !captured.iter().any(|c| c == v) {
                captured.push(v.to_string());
            }
        }
        let escaped = escape != "none";
        let fast = Regex::new(&pattern(&parts, &captured, escaped, true)).map_err(|e| e.to_string())?;
        let full = if escaped {
            Some(Regex::new(&pattern(&parts, &captured, escaped, false)).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let group = |name: &str| captured.iter().position(|c| c == name).map(|i| i + 1);
        Ok(NginxParser {
            fast,
            full,
            escaped,
            plan: sources
                .iter()
                .map(|(slot, v, c)| (*slot, group(v).unwrap(), *c))
                .collect(),
            request: group("request"),
            uri: group("uri"),
            args: group("args"),
        })
    }

    fn text(&self, v: Option<&str>) -> Option<String> {
        if self.escaped {
            text_field(v)
        } else {
            v.filter(|s| !s.is_empty() && *s != "-").map(str::to_owned)
        }
    }

    pub fn parse(&self, line: &str) -> Parsed {
        let line = rstrip_crlf(line);
        let caps = self
            .fast
            .captures(line)
            .or_else(|| self.full.as_ref().and_then(|f| f.captures(line)))
            .ok_or(Reject::NoMatch)?;
        let g = |i: usize| caps.get(i).map(|m| m.as_str());
        let mut r = Request {
            client: None,
            time: Time {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
                micro: 0,
                offset_us: 0,
            },
            method: None,
            target: None,
            protocol: None,
            status: None,
            bytes: 0,
            referrer: None,
            user_agent: None,
            user: None,
            host: None,
            forwarded_for: None,
            duration: None,
        };
        if let Some(i) = self.request {
            (r.method, r.target, r.protocol) = split_request_line(self.text(g(i)).as_deref());
        } else if let Some(i) = self.uri {
            let path = self.text(g(i));
            let query = self.args.and_then(|a| self.text(g(a)));
            r.target = match (path, query) {
                (Some(p), Some(q)) if !q.is_empty() => Some(format!("{p}?{q}")),
                (p, _) => p,
            };
        }
        for &(slot, i, conv) in &self.plan {
            let raw = g(i).unwrap_or("");
            match conv {
                Conv::Text => {
                    let v = self.text(Some(raw));
                    match slot {
                        Slot::Client => r.client = v,
                        Slot::Method => r.method = v,
                        Slot::Target => r.target = v,
                        Slot::Protocol => r.protocol = v,
                        Slot::Referrer => r.referrer = v,
                        Slot::UserAgent => r.user_agent = v,
                        Slot::User => r.user = v,
                        Slot::Host => r.host = v,
                        Slot::ForwardedFor => r.forwarded_for = v,
                        _ => unreachable!(),
                    }
                }
                Conv::ClfTime => r.time = parse_clf_time(raw)?,
                Conv::IsoTime => r.time = parse_iso_time(raw)?,
                Conv::Msec => r.time = parse_msec(raw)?,
                Conv::Status => r.status = Some(parse_status(raw)?),
                Conv::Bytes => r.bytes = parse_bytes(raw)?,
                Conv::Seconds => r.duration = parse_seconds(raw)?,
            }
        }
        Ok(r)
    }
}
