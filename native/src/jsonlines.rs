//! `parsing/jsonlines.py`: nginx escape=json, Caddy and Traefik access logs, or any layout by config.

use crate::clf::{parse_clf_time, parse_status, split_request_line, Parsed, Reject, Request};
use crate::json::{self, py_float_repr, Value};
use crate::time::{self, Time};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
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
    Request,
    DurationNs,
}

const NAMES: [(&str, Field); 15] = [
    ("client", Field::Client),
    ("time", Field::Time),
    ("method", Field::Method),
    ("target", Field::Target),
    ("protocol", Field::Protocol),
    ("request", Field::Request),
    ("status", Field::Status),
    ("bytes", Field::Bytes),
    ("referrer", Field::Referrer),
    ("user_agent", Field::UserAgent),
    ("user", Field::User),
    ("host", Field::Host),
    ("forwarded_for", Field::ForwardedFor),
    ("duration", Field::Duration),
    ("duration_ns", Field::DurationNs),
];

type Paths = &'static [(&'static str, &'static [&'static str])];

const CADDY: Paths = &[
    ("client", &["request.client_ip", "request.remote_ip"]),
    ("time", &["ts"]),
    ("method", &["request.method"]),
    ("target", &["request.uri"]),
    ("protocol", &["request.proto"]),
    ("status", &["status"]),
    ("bytes", &["size"]),
    ("referrer", &["request.headers.Referer"]),
    ("user_agent", &["request.headers.User-Agent"]),
    ("user", &["user_id"]),
    ("host", &["request.host"]),
    ("forwarded_for", &["request.headers.X-Forwarded-For"]),
    ("duration", &["duration"]),
];
const TRAEFIK: Paths = &[
    ("client", &["ClientHost"]),
    ("time", &["StartUTC", "time"]),
    ("method", &["RequestMethod"]),
    ("target", &["RequestPath"]),
    ("protocol", &["RequestProtocol"]),
    ("status", &["DownstreamStatus"]),
    ("bytes", &["DownstreamContentSize"]),
    ("referrer", &["request_Referer"]),
    ("user_agent", &["request_User-Agent"]),
    ("user", &["ClientUsername"]),
    ("host", &["RequestHost"]),
    ("forwarded_for", &["request_X-Forwarded-For"]),
    ("duration_ns", &["Duration"]),
];
const NGINX: Paths = &[
    ("client", &["remote_addr"]),
    ("time", &["time_iso8601", "time_local", "msec", "time"]),
    ("request", &["request"]),
    ("method", &["request_method"]),
    ("target", &["request_uri"]),
    ("protocol", &["server_protocol"]),
    ("status", &["status"]),
    ("bytes", &["body_bytes_sent", "bytes_sent"]),
    ("referrer", &["http_referer"]),
    ("user_agent", &["http_user_agent"]),
    ("user", &["remote_user"]),
    ("host", &["host", "server_name"]),
    ("forwarded_for", &["http_x_forwarded_for"]),
    ("duration", &["request_time"]),
];

/// A path: a top-level key, or keys to walk (a dotted path).
type Path = Vec<String>;
type Plan = Vec<(Field, Vec<Path>)>;

fn field(name: &str) -> Option<Field> {
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

fn split_path(p: &str) -> Path {
    p.split('.').map(str::to_owned).collect()
}

/// `{**defaults, **overrides}` in Python's dict order: overridden fields keep their place.
fn plan(defaults: Paths, overrides: &[(String, String)]) -> Plan {
    let mut order: Vec<(String, Vec<Path>)> = defaults
        .iter()
        .map(|(f, ps)| (f.to_string(), ps.iter().map(|p| split_path(p)).collect()))
        .collect();
    for (f, p) in overrides {
        match order.iter_mut().find(|(name, _)| name == f) {
            Some(entry) => entry.1 = vec![split_path(p)],
            None => order.push((f.clone(), vec![split_path(p)])),
        }
    }
    order.into_iter().map(|(f, ps)| (field(&f).unwrap(), ps)).collect()
}

pub struct JsonParser {
    caddy: Plan,
    traefik: Plan,
    nginx: Plan,
}

impl JsonParser {
    /// `make_json_parser(json_fields)`; Err names the bad setting as the reference does.
    pub fn new(overrides: &[(String, String)]) -> Result<JsonParser, String> {
        for (f, p) in overrides {
            if field(f).is_none() {
                return Err(format!("json_fields: unknown field {f:?}"));
            }
            if p.trim_matches('.').is_empty() {
                return Err(format!(
                    "json_fields.{f}: expected a dotted path like request.remote_ip"
                ));
            }
        }
        Ok(JsonParser {
            caddy: plan(CADDY, overrides),
            traefik: plan(TRAEFIK, overrides),
            nginx: plan(NGINX, overrides),
        })
    }

    pub fn parse(&self, line: &str) -> Parsed {
        let obj = json::parse(line).ok_or(Reject::BadJson)?;
        if !matches!(obj, Value::Object(_)) {
            return Err(Reject::BadJson);
        }
        let plan = if matches!(obj.get("request"), Some(Value::Object(_))) {
            &self.caddy
        } else if obj.has("DownstreamStatus") {
            &self.traefik
        } else {
            &self.nginx
        };
        let mut s = Slots::default();
        for (f, candidates) in plan {
            for path in candidates {
                let raw = lookup(&obj, path);
                let Some(raw) = raw else { continue };
                if matches!(raw, Value::Null) {
                    continue;
                }
                if s.fill(*f, raw)? {
                    break;
                }
            }
        }
        let time = s.time.ok_or(Reject::MissingField)?;
        let (mut method, mut target, mut protocol) = (s.method, s.target, s.protocol);
        if let Some(request) = s.request {
            let (m, t, p) = split_request_line(Some(&request));
            method = method.or(m);
            target = target.or(t);
            protocol = protocol.or(p);
        }
        Ok(Request {
            client: s.client,
            time,
            method,
            target,
            protocol,
            status: s.status,
            bytes: s.bytes.unwrap_or(0),
            referrer: s.referrer,
            user_agent: s.user_agent,
            user: s.user,
            host: s.host,
            forwarded_for: s.forwarded_for,
            duration: s.duration.or(s.duration_ns),
        })
    }
}

fn lookup<'a>(obj: &'a Value, path: &Path) -> Option<&'a Value> {
    let mut value = obj;
    for key in path {
        value = value.get(key)?; // a non-object on the way gives None, as in the reference
    }
    Some(value)
}

#[derive(Default)]
struct Slots {
    client: Option<String>,
    time: Option<Time>,
    method: Option<String>,
    target: Option<String>,
    protocol: Option<String>,
    status: Option<u16>,
    bytes: Option<u64>,
    referrer: Option<String>,
    user_agent: Option<String>,
    user: Option<String>,
    host: Option<String>,
    forwarded_for: Option<String>,
    duration: Option<f64>,
    request: Option<String>,
    duration_ns: Option<f64>,
}

impl Slots {
    /// Convert `raw` for `f`; Ok(true) when it gave a value (later candidates are skipped).
    fn fill(&mut self, f: Field, raw: &Value) -> Result<bool, Reject> {
        fn set<T>(slot: &mut Option<T>, v: Option<T>) -> bool {
            if v.is_some() {
                *slot = v;
                true
            } else {
                false
            }
        }
        Ok(match f {
            Field::Client => set(&mut self.client, text(raw)),
            Field::Method => set(&mut self.method, text(raw)),
            Field::Target => set(&mut self.target, text(raw)),
            Field::Protocol => set(&mut self.protocol, text(raw)),
            Field::Request => set(&mut self.request, text(raw)),
            Field::Referrer => set(&mut self.referrer, text(raw)),
            Field::UserAgent => set(&mut self.user_agent, text(raw)),
            Field::User => set(&mut self.user, text(raw)),
            Field::Host => set(&mut self.host, text(raw)),
            Field::ForwardedFor => set(&mut self.forwarded_for, text(raw)),
            Field::Time => set(&mut self.time, Some(time_value(raw)?)),
            Field::Status => set(&mut self.status, Some(status(raw)?)),
            Field::Bytes => set(&mut self.bytes, Some(bytes(raw)?)),
            Field::Duration => set(&mut self.duration, seconds(raw, 1.0)?),
            Field::DurationNs => set(&mut self.duration_ns, seconds(raw, 1e9)?),
        })
    }
}

fn int_text(v: &Value) -> Option<String> {
    match v {
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        Value::Float(f) => Some(py_float_repr(*f)),
        _ => None,
    }
}

/// `_text`: strings, Caddy's header lists, and numbers as Python prints them.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => (!s.is_empty() && s != "-").then(|| s.clone()),
        Value::Array(items) => {
            let parts: Vec<&str> = items
                .iter()
                .filter_map(|i| match i {
                    Value::Str(s) if !s.is_empty() && s != "-" => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        other => int_text(other),
    }
}

/// `nginx_format.epoch_time` for a JSON number.
fn epoch(v: &Value) -> Result<Time, Reject> {
    match v {
        Value::Int(n) => time::epoch_int(*n as i128),
        Value::UInt(n) => time::epoch_int(*n as i128),
        Value::Float(f) => time::epoch_float(*f),
        _ => None,
    }
    .ok_or(Reject::BadTime)
}

/// `parse_msec`: epoch seconds as `\d{1,12}(\.\d{1,9})?`.
pub fn parse_msec(value: &str) -> Result<Time, Reject> {
    if !time::is_decimal(value) {
        return Err(Reject::BadTime);
    }
    time::epoch_float(value.parse().map_err(|_| Reject::BadTime)?).ok_or(Reject::BadTime)
}

pub fn parse_iso_time(value: &str) -> Result<Time, Reject> {
    time::parse_iso(value).ok_or(Reject::BadTime)
}

fn time_value(v: &Value) -> Result<Time, Reject> {
    let s = match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => return epoch(v),
        Value::Str(s) => s,
        _ => return Err(Reject::BadTime),
    };
    // Python tests isdigit() (any Unicode digit); a non-ASCII one fails every reader alike.
    let first_digit = s.chars().next().is_some_and(|c| c.is_ascii_digit());
    if first_digit && s.replacen('.', "", 1).chars().all(|c| c.is_ascii_digit()) {
        return parse_msec(s);
    }
    if s.chars().take(6).any(|c| c == '/') {
        return parse_clf_time(s);
    }
    parse_iso_time(s)
}

fn status(v: &Value) -> Result<u16, Reject> {
    match v {
        Value::Int(n) if (100..=599).contains(n) => Ok(*n as u16),
        Value::Str(s) => parse_status(s),
        _ => Err(Reject::BadStatus),
    }
}

/// `parse_bytes`: `-` or nothing is 0; at most 19 ASCII digits.
pub fn parse_bytes(value: &str) -> Result<u64, Reject> {
    if value.is_empty() || value == "-" {
        return Ok(0);
    }
    if value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().map_err(|_| Reject::BadField);
    }
    Err(Reject::BadField)
}

fn bytes(v: &Value) -> Result<u64, Reject> {
    match v {
        Value::Int(n) if *n >= 0 => Ok(*n as u64),
        Value::UInt(n) => Ok(*n),
        Value::Str(s) => parse_bytes(s),
        _ => Err(Reject::BadField),
    }
}

/// `parse_seconds`: `-` or nothing is absent.
pub fn parse_seconds(value: &str) -> Result<Option<f64>, Reject> {
    if value.is_empty() || value == "-" {
        return Ok(None);
    }
    if !time::is_decimal(value) {
        return Err(Reject::BadField);
    }
    Ok(Some(value.parse().map_err(|_| Reject::BadField)?))
}

fn seconds(v: &Value, scale: f64) -> Result<Option<f64>, Reject> {
    match v {
        Value::Int(n) if *n >= 0 => Ok(Some(*n as f64 / scale)),
        Value::UInt(n) => Ok(Some(*n as f64 / scale)),
        Value::Float(f) if *f >= 0.0 && !f.is_infinite() => Ok(Some(f / scale)),
        Value::Str(s) => Ok(parse_seconds(s)?.map(|x| x / scale)),
        _ => Err(Reject::BadField),
    }
}
