//! The Python face of the core (`logscrub._native`): thin conversions only, the logic is in the
//! other modules. `logscrub.native` wraps these into the reference's own types.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::clf::{Parsed, Request};
use crate::crypto;
use crate::formats::Format;
use crate::ip::{self, Ip, Network};
use crate::json;
use crate::url::{self, Domains, Fallback};

// ---- JSON ---------------------------------------------------------------------------------------

fn write_obj(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if depth > 254 {
        return Err(PyTypeError::new_err("Recursion limit reached"));
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(s) = obj.downcast::<PyString>() {
        json::write_str(out, s.to_str()?);
    } else if obj.is_exact_instance_of::<PyBool>() {
        out.extend_from_slice(if obj.is_truthy()? { b"true" } else { b"false" });
    } else if obj.is_instance_of::<PyInt>() {
        if let Ok(n) = obj.extract::<i64>() {
            json::write_i64(out, n);
        } else if let Ok(n) = obj.extract::<u64>() {
            json::write_u64(out, n);
        } else {
            return Err(PyTypeError::new_err("Integer exceeds 64-bit range"));
        }
    } else if let Ok(f) = obj.downcast::<PyFloat>() {
        json::write_f64(out, f.value());
    } else if let Ok(d) = obj.downcast::<PyDict>() {
        out.push(b'{');
        for (i, (k, v)) in d.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let k = k
                .downcast::<PyString>()
                .map_err(|_| PyTypeError::new_err("Dict key must be str"))?;
            json::write_str(out, k.to_str()?);
            out.push(b':');
            write_obj(out, &v, depth + 1)?;
        }
        out.push(b'}');
    } else if let Ok(l) = obj.downcast::<PyList>() {
        out.push(b'[');
        for (i, v) in l.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_obj(out, &v, depth + 1)?;
        }
        out.push(b']');
    } else if let Ok(t) = obj.downcast::<PyTuple>() {
        out.push(b'[');
        for (i, v) in t.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_obj(out, &v, depth + 1)?;
        }
        out.push(b']');
    } else {
        return Err(PyTypeError::new_err(format!(
            "Type is not JSON serializable: {}",
            obj.get_type().name()?
        )));
    }
    Ok(())
}

/// `orjson.dumps(obj)` for the types records hold (dict, list, tuple, str, int, float, bool, None).
#[pyfunction]
fn dumps<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::with_capacity(256);
    write_obj(&mut out, obj, 0)?;
    Ok(PyBytes::new(py, &out))
}

/// `json.loads` as orjson reads it, for differential tests of the reader (None where orjson raises).
#[pyfunction]
fn loads_ok(text: &str) -> bool {
    json::parse(text).is_some()
}

#[pyfunction]
fn py_float_repr(f: f64) -> String {
    json::py_float_repr(f)
}

#[pyfunction]
fn py_round3(f: f64) -> f64 {
    json::py_round3(f)
}

// ---- sealing and keyed hashes ----------------------------------------------------------------------

fn nonce12(nonce: &[u8]) -> PyResult<[u8; 12]> {
    nonce
        .try_into()
        .map_err(|_| PyValueError::new_err("nonce must be 12 bytes"))
}

fn sealer(secret: &[u8]) -> PyResult<crypto::Sealer> {
    crypto::Sealer::new(secret).ok_or_else(|| PyValueError::new_err("AES-256-GCM needs a 32-byte key"))
}

/// Seal with the reference's arguments: `secret` is the data key's, `subject_secret` the subject
/// key's when `skid` is given.
#[allow(clippy::too_many_arguments)]
fn seal_with<'a>(
    line: &[u8],
    kid: &'a str,
    secret: &[u8],
    ingested: f64,
    reason: Option<&'a str>,
    source: Option<&'a str>,
    skid: Option<&str>,
    nonce: &[u8],
    subject_secret: Option<&[u8]>,
) -> PyResult<crypto::Envelope<'a>> {
    let data = sealer(secret)?;
    let subject = match (skid, subject_secret) {
        (Some(id), Some(s)) => Some((id, sealer(s)?)),
        (None, None) => None,
        _ => return Err(PyValueError::new_err("skid and subject_secret go together")),
    };
    let subject = subject.as_ref().map(|(id, s)| (*id, s));
    Ok(crypto::seal(
        &data,
        subject,
        line,
        kid,
        ingested,
        reason,
        source,
        nonce12(nonce)?,
    ))
}

/// `envelope.seal` with the nonce given: the envelope dict, in the reference's key order.
#[pyfunction]
#[pyo3(signature = (line, kid, secret, ingested, reason=None, source=None, skid=None, nonce=b"".as_slice(), subject_secret=None))]
#[allow(clippy::too_many_arguments)]
fn seal<'py>(
    py: Python<'py>,
    line: &[u8],
    kid: &str,
    secret: &[u8],
    ingested: f64,
    reason: Option<&str>,
    source: Option<&str>,
    skid: Option<&str>,
    nonce: &[u8],
    subject_secret: Option<&[u8]>,
) -> PyResult<Bound<'py, PyDict>> {
    let env = seal_with(line, kid, secret, ingested, reason, source, skid, nonce, subject_secret)?;
    let d = PyDict::new(py);
    d.set_item("v", crypto::VERSION)?;
    d.set_item("kid", kid)?;
    d.set_item("ingested", env.ingested)?;
    if let Some(sk) = env.sk_b64() {
        d.set_item("sk", sk)?;
    }
    if let Some(r) = reason {
        d.set_item("reason", r)?;
    }
    if let Some(s) = source {
        d.set_item("src", s)?;
    }
    d.set_item("nonce", env.nonce_b64())?;
    d.set_item("ct", env.ct_b64())?;
    Ok(d)
}

/// `orjson.dumps(envelope.seal(...))` in one step, as the per-line loop will write it.
#[pyfunction]
#[pyo3(signature = (line, kid, secret, ingested, reason=None, source=None, skid=None, nonce=b"".as_slice(), subject_secret=None))]
#[allow(clippy::too_many_arguments)]
fn seal_json<'py>(
    py: Python<'py>,
    line: &[u8],
    kid: &str,
    secret: &[u8],
    ingested: f64,
    reason: Option<&str>,
    source: Option<&str>,
    skid: Option<&str>,
    nonce: &[u8],
    subject_secret: Option<&[u8]>,
) -> PyResult<Bound<'py, PyBytes>> {
    let env = seal_with(line, kid, secret, ingested, reason, source, skid, nonce, subject_secret)?;
    let mut out = Vec::with_capacity(64 + line.len() * 4 / 3);
    env.write_json(&mut out);
    Ok(PyBytes::new(py, &out))
}

/// The scrubber's `_visitor_hash`.
#[pyfunction]
fn visitor_hash(key: &[u8], packed_ip: &[u8], user_agent: &str) -> PyResult<u64> {
    crypto::visitor_hash(key, packed_ip, user_agent.as_bytes())
        .ok_or_else(|| PyValueError::new_err("blake2b key longer than 64 bytes"))
}

#[pyfunction]
fn subject_id(data_secret: &[u8], packed_ip: &[u8]) -> String {
    crypto::subject_id(data_secret, packed_ip)
}

// ---- addresses ----------------------------------------------------------------------------------

fn packed<'py>(py: Python<'py>, ip: Option<Ip>) -> Option<Bound<'py, PyBytes>> {
    ip.map(|ip| PyBytes::new(py, &ip.packed()))
}

fn from_packed(b: &[u8]) -> PyResult<Ip> {
    match b.len() {
        4 => Ok(Ip::V4(u32::from_be_bytes(b.try_into().unwrap()))),
        16 => Ok(Ip::V6(u128::from_be_bytes(b.try_into().unwrap()))),
        _ => Err(PyValueError::new_err("a packed address is 4 or 16 bytes")),
    }
}

/// `ip.parse_ip`: the packed address, or None.
#[pyfunction]
fn parse_ip<'py>(py: Python<'py>, text: Option<&str>) -> Option<Bound<'py, PyBytes>> {
    packed(py, text.and_then(ip::parse_ip))
}

fn networks(nets: Vec<(u8, u128, u32)>) -> Vec<Network> {
    nets.into_iter()
        .map(|(version, address, prefix)| Network {
            v6: version == 6,
            address,
            prefix,
        })
        .collect()
}

/// `ip.client_ip` with the trusted proxies as (version, network address, prefix length).
#[pyfunction]
fn client_ip<'py>(
    py: Python<'py>,
    peer: Option<&str>,
    forwarded_for: Option<&str>,
    trusted: Vec<(u8, u128, u32)>,
) -> Option<Bound<'py, PyBytes>> {
    packed(py, ip::client_ip(peer, forwarded_for, &networks(trusted)))
}

/// `ip.embedded_ipv4` of a packed IPv6 address.
#[pyfunction]
fn embedded_ipv4<'py>(py: Python<'py>, packed_ip: &[u8]) -> PyResult<Option<Bound<'py, PyBytes>>> {
    Ok(match from_packed(packed_ip)? {
        Ip::V6(n) => packed(py, ip::embedded(n).map(Ip::V4)),
        Ip::V4(_) => None,
    })
}

/// `IPGeneralizer(mode, v4, v6)(ip, key)` with the address packed.
#[pyfunction]
#[pyo3(signature = (packed_ip, mode, ipv4_prefix, ipv6_prefix, key=None))]
fn generalize_ip(
    packed_ip: Option<&[u8]>,
    mode: &str,
    ipv4_prefix: u32,
    ipv6_prefix: u32,
    key: Option<&[u8]>,
) -> PyResult<Option<String>> {
    let mode = match mode {
        "truncate" => ip::Mode::Truncate,
        "pseudonym" => ip::Mode::Pseudonym,
        "drop" => ip::Mode::Drop,
        _ => {
            return Err(PyValueError::new_err(
                "IP mode must be one of truncate, pseudonym, drop",
            ))
        }
    };
    if ipv4_prefix > 32 || ipv6_prefix > 128 {
        return Err(PyValueError::new_err("prefix out of range"));
    }
    if mode == ip::Mode::Pseudonym && key.is_none_or(|k| k.is_empty()) {
        return Err(PyValueError::new_err("IP mode 'pseudonym' needs a key"));
    }
    let g = ip::Generalizer {
        mode,
        ipv4_prefix,
        ipv6_prefix,
    };
    let ip = packed_ip.map(from_packed).transpose()?;
    Ok(g.generalize(ip, key.unwrap_or(&[])))
}

// ---- parsing --------------------------------------------------------------------------------------

/// A compiled parser: `parse(line)` gives the Request's fields (time as a tuple) or a reason.
#[pyclass(frozen, module = "logscrub._native")]
struct Parser {
    format: Format,
}

fn request_tuple<'py>(py: Python<'py>, r: Request) -> PyResult<Bound<'py, PyTuple>> {
    let t = r.time;
    let time = (t.year, t.month, t.day, t.hour, t.minute, t.second, t.micro, t.offset_us).into_pyobject(py)?;
    let items: Vec<Bound<'py, PyAny>> = vec![
        r.client.into_pyobject(py)?.into_any(),
        time.into_any(),
        r.method.into_pyobject(py)?.into_any(),
        r.target.into_pyobject(py)?.into_any(),
        r.protocol.into_pyobject(py)?.into_any(),
        r.status.into_pyobject(py)?.into_any(),
        r.bytes.into_pyobject(py)?.into_any(),
        r.referrer.into_pyobject(py)?.into_any(),
        r.user_agent.into_pyobject(py)?.into_any(),
        r.user.into_pyobject(py)?.into_any(),
        r.host.into_pyobject(py)?.into_any(),
        r.forwarded_for.into_pyobject(py)?.into_any(),
        r.duration.into_pyobject(py)?.into_any(),
    ];
    PyTuple::new(py, items)
}

impl Parser {
    fn run(&self, line: &str) -> Parsed {
        self.format.parse(line)
    }
}

#[pymethods]
impl Parser {
    /// How many of `lines` parse, building no Python objects: the core's own cost, as a per-line
    /// loop kept in Rust would pay it (bench/native.py).
    fn count_parsed(&self, lines: Vec<String>) -> usize {
        lines.iter().filter(|l| self.run(l).is_ok()).count()
    }

    /// `format` as in `make_parser`; nginx takes the (template, escape) `read_log_format` gives.
    #[new]
    #[pyo3(signature = (format, nginx_template=None, nginx_escape="default", json_fields=None))]
    fn new(
        format: &str,
        nginx_template: Option<&str>,
        nginx_escape: &str,
        json_fields: Option<Vec<(String, String)>>,
    ) -> PyResult<Parser> {
        let fields = json_fields.unwrap_or_default();
        let format = Format::new(format, nginx_template, nginx_escape, &fields).map_err(PyValueError::new_err)?;
        Ok(Parser { format })
    }

    /// (fields..., ) of the Request, or the rejection reason as a str.
    fn parse<'py>(&self, py: Python<'py>, line: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.run(line) {
            Ok(r) => Ok(request_tuple(py, r)?.into_any()),
            Err(e) => Ok(PyString::new(py, e.reason()).into_any()),
        }
    }
}

/// Epoch seconds of a parsed time tuple, as `datetime.timestamp()` gives them.
#[pyfunction]
fn timestamp(t: (i32, u32, u32, u32, u32, u32, u32, i64)) -> PyResult<f64> {
    let time = crate::time::Time::new(t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7)
        .ok_or_else(|| PyValueError::new_err("not a valid time"))?;
    Ok(time.timestamp())
}

// ---- paths --------------------------------------------------------------------------------------------

struct PyDomains<'py> {
    py: Python<'py>,
    registrable: &'py Py<PyAny>,
}

impl Domains for PyDomains<'_> {
    fn registrable(&mut self, host: &str) -> url::R<bool> {
        self.registrable
            .bind(self.py)
            .call1((host,))
            .and_then(|v| v.is_truthy())
            .map_err(|_| Fallback)
    }
}

/// `url.PathGeneralizer`: native for ASCII targets, `fallback(target)` (the reference) otherwise.
#[pyclass(module = "logscrub._native")]
struct PathGeneralizer {
    inner: url::PathGeneralizer,
    registrable: Py<PyAny>,
    fallback: Py<PyAny>,
    #[pyo3(get)]
    fallbacks: u64,
}

#[pymethods]
impl PathGeneralizer {
    #[new]
    #[pyo3(signature = (rules, query_allow, max_segments, max_length, registrable_domain, fallback))]
    fn new(
        rules: Vec<String>,
        query_allow: Vec<String>,
        max_segments: usize,
        max_length: usize,
        registrable_domain: Py<PyAny>,
        fallback: Py<PyAny>,
    ) -> PyResult<PathGeneralizer> {
        let inner =
            url::PathGeneralizer::new(&rules, &query_allow, max_segments, max_length).map_err(PyValueError::new_err)?;
        Ok(PathGeneralizer {
            inner,
            registrable: registrable_domain,
            fallback,
            fallbacks: 0,
        })
    }

    /// (path template, {allowed params} or None), as the reference's `__call__`.
    fn __call__<'py>(&mut self, py: Python<'py>, target: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let mut domains = PyDomains {
            py,
            registrable: &self.registrable,
        };
        match self.inner.generalize(target, &mut domains) {
            Ok((path, params)) => {
                let params = match params {
                    Some(ps) => {
                        let d = PyDict::new(py);
                        for (k, v) in ps {
                            d.set_item(k, v)?;
                        }
                        Some(d)
                    }
                    None => None,
                };
                Ok((path, params).into_pyobject(py)?.into_any())
            }
            Err(Fallback) => {
                self.fallbacks += 1;
                self.fallback.bind(py).call1((target,))
            }
        }
    }

    /// How many of `targets` the compiled code decides, building no Python objects (bench/native.py).
    fn count_decided(&mut self, py: Python<'_>, targets: Vec<Option<String>>) -> usize {
        let mut domains = PyDomains {
            py,
            registrable: &self.registrable,
        };
        targets
            .iter()
            .filter(|t| self.inner.generalize(t.as_deref(), &mut domains).is_ok())
            .count()
    }

    /// Whether the native code decides `target` itself (False: the reference runs).
    fn decides(&mut self, py: Python<'_>, target: Option<&str>) -> bool {
        let mut domains = PyDomains {
            py,
            registrable: &self.registrable,
        };
        self.inner.generalize(target, &mut domains).is_ok()
    }
}

/// `url.classify_segment` for ASCII text; None where the reference must decide.
#[pyfunction]
fn classify_segment(
    py: Python<'_>,
    text: &str,
    registrable_domain: Py<PyAny>,
) -> PyResult<(bool, Option<&'static str>)> {
    let mut domains = PyDomains {
        py,
        registrable: &registrable_domain,
    };
    Ok(match url::classify_segment(text, &mut domains) {
        Ok(p) => (true, p),
        Err(Fallback) => (false, None),
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(dumps, m)?)?;
    m.add_function(wrap_pyfunction!(loads_ok, m)?)?;
    m.add_function(wrap_pyfunction!(py_float_repr, m)?)?;
    m.add_function(wrap_pyfunction!(py_round3, m)?)?;
    m.add_function(wrap_pyfunction!(seal, m)?)?;
    m.add_function(wrap_pyfunction!(seal_json, m)?)?;
    m.add_function(wrap_pyfunction!(visitor_hash, m)?)?;
    m.add_function(wrap_pyfunction!(subject_id, m)?)?;
    m.add_function(wrap_pyfunction!(parse_ip, m)?)?;
    m.add_function(wrap_pyfunction!(client_ip, m)?)?;
    m.add_function(wrap_pyfunction!(embedded_ipv4, m)?)?;
    m.add_function(wrap_pyfunction!(generalize_ip, m)?)?;
    m.add_function(wrap_pyfunction!(timestamp, m)?)?;
    m.add_function(wrap_pyfunction!(classify_segment, m)?)?;
    m.add_class::<Parser>()?;
    m.add_class::<crate::pycore::Core>()?;
    m.add_class::<crate::pycore::Vocabulary>()?;
    m.add_class::<crate::pycore::Batch>()?;
    m.add_class::<crate::pyshares::ShareCounts>()?;
    crate::pycore::kind_codes(m)?;
    m.add_class::<PathGeneralizer>()?;
    Ok(())
}
