//! The Python face of the per-line loop (`logscrub._native.Core`, `.Vocabulary`, `.Batch`): thin
//! conversions; `scrub/native_core.py` wraps them behind the reference's interfaces.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::core::{
    self, Agent, ClientMode, Core as LineCore, Geo, Input, Kind, Lookups, Records, Settings, VisitorKey,
};
use crate::formats::Format;
use crate::ip::Network;
use crate::subjects::RANDOM_PER_SUBJECT;
use crate::url::{self, Domains, Fallback};
use crate::vocabulary::{self, Vocabulary as DayCounts};

const DIMENSIONS: [&str; 6] = ["path", "country", "browser", "os", "device", "referrer"];

/// `scrub.vocabulary.Vocabulary`, shared by a core and the worker's follower of the vocabulary topic.
#[pyclass(unsendable, module = "logscrub._native")]
pub struct Vocabulary {
    inner: DayCounts,
}

fn flat(record: &Bound<'_, PyDict>, name: &str) -> PyResult<(Vec<u64>, bool)> {
    let Some(value) = record.get_item(name)? else {
        return Ok((Vec::new(), false));
    };
    if value.is_none() {
        return Ok((Vec::new(), false));
    }
    let items: Vec<u64> = value.extract()?;
    let odd = items.len() % 2 == 1;
    Ok((items, odd))
}

#[pymethods]
impl Vocabulary {
    #[new]
    #[pyo3(signature = (k, max_values=vocabulary::MAX_VALUES))]
    fn new(k: usize, max_values: usize) -> Vocabulary {
        Vocabulary {
            inner: DayCounts::new(k, max_values),
        }
    }

    #[getter]
    fn k(&self) -> usize {
        self.inner.k
    }

    /// `Vocabulary.merge(record)`: another worker's record of `take_sightings`.
    fn merge(&mut self, record: &Bound<'_, PyDict>) -> PyResult<()> {
        let kid: String = record
            .get_item("kid")?
            .ok_or_else(|| PyValueError::new_err("a vocabulary record needs a kid"))?
            .str()?
            .to_str()?
            .to_owned();
        let (sightings, odd_s) = flat(record, "s")?;
        let (joined, odd_g) = flat(record, "g")?;
        self.inner.merge(&kid, &sightings, &joined);
        if odd_s || odd_g {
            return Err(PyValueError::new_err("zip() argument 2 is shorter than argument 1"));
        }
        Ok(())
    }

    /// `Vocabulary.take_sightings()`: `[{"kid", "s", "g"}]`, one per day that counted anything.
    fn take_sightings<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for (kid, s, g) in self.inner.take_sightings() {
            let d = PyDict::new(py);
            d.set_item("kid", kid)?;
            d.set_item("s", s)?;
            d.set_item("g", g)?;
            out.append(d)?;
        }
        Ok(out)
    }
}

/// The Python callables behind `Lookups`.
struct PyLookups<'a, 'py> {
    py: Python<'py>,
    c: &'a Callbacks,
}

struct Callbacks {
    user_agent: Py<PyAny>,
    site: Py<PyAny>,
    referrer: Py<PyAny>,
    geo: Option<Py<PyAny>>,
    restricted: Option<Py<PyAny>>,
    registrable_domain: Py<PyAny>,
    path: Py<PyAny>,
}

fn rc(s: Option<String>) -> Option<std::rc::Rc<str>> {
    s.map(std::rc::Rc::from)
}

impl Domains for PyLookups<'_, '_> {
    fn registrable(&mut self, host: &str) -> url::R<bool> {
        self.c
            .registrable_domain
            .bind(self.py)
            .call1((host,))
            .and_then(|v| v.is_truthy())
            .map_err(|_| Fallback)
    }
}

impl Lookups for PyLookups<'_, '_> {
    type Error = PyErr;

    fn agent(&mut self, text: Option<&str>) -> PyResult<Agent> {
        type Ua = (String, Option<String>, String, Option<String>, String, bool);
        let (browser, browser_major, os, os_major, device, bot): Ua =
            self.c.user_agent.bind(self.py).call1((text,))?.extract()?;
        Ok(Agent {
            browser: browser.into(),
            browser_major: rc(browser_major),
            os: os.into(),
            os_major: rc(os_major),
            device: device.into(),
            bot,
        })
    }

    fn site(&mut self, host: Option<&str>) -> PyResult<String> {
        self.c.site.bind(self.py).call1((host,))?.extract()
    }

    fn referrer(&mut self, referrer: Option<&str>, site: &str) -> PyResult<(Option<String>, String)> {
        self.c.referrer.bind(self.py).call1((referrer, site))?.extract()
    }

    fn geo(&mut self, packed: &[u8]) -> PyResult<Geo> {
        let Some(geo) = &self.c.geo else {
            return Ok(Geo::default());
        };
        let (country, asn, as_org): (Option<String>, Option<i64>, Option<String>) =
            geo.bind(self.py).call1((PyBytes::new(self.py, packed),))?.extract()?;
        Ok(Geo {
            country: rc(country),
            asn,
            as_org: rc(as_org),
        })
    }

    fn restricted(&mut self, packed: &[u8]) -> PyResult<bool> {
        match &self.c.restricted {
            Some(f) => f.bind(self.py).call1((PyBytes::new(self.py, packed),))?.is_truthy(),
            None => Ok(false),
        }
    }

    fn path(&mut self, target: Option<&str>) -> PyResult<url::Generalized> {
        let got = self.c.path.bind(self.py).call1((target,))?;
        let (path, params): (Option<String>, Option<Bound<'_, PyDict>>) = got.extract()?;
        let params = match params {
            Some(d) => Some(
                d.iter()
                    .map(|(k, v)| Ok((k.extract()?, v.extract()?)))
                    .collect::<PyResult<Vec<_>>>()?,
            ),
            None => None,
        };
        Ok((path, params))
    }

    fn unsupported(&mut self, what: &str) -> PyErr {
        PyValueError::new_err(format!("a line the reference core cannot process either: {what}"))
    }
}

/// One call's outputs, as `Routed` takes them.
#[pyclass(module = "logscrub._native")]
pub struct Batch {
    #[pyo3(get)]
    done: usize,
    #[pyo3(get)]
    need: Option<f64>,
    /// The events, held: `(site, slot start (s), [event JSON, ...], [client, ...])` in order of first sight.
    #[pyo3(get)]
    held: Py<PyList>,
    #[pyo3(get)]
    sealed: Py<PyList>,
    #[pyo3(get)]
    rejected: Py<PyList>,
    #[pyo3(get)]
    reasons: Py<PyList>,
    #[pyo3(get)]
    withheld: u64,
    #[pyo3(get)]
    restricted: u64,
    #[pyo3(get)]
    latest: i64,
    #[pyo3(get)]
    sums: Py<PyList>,
    #[pyo3(get)]
    kinds: Option<Py<PyBytes>>,
    #[pyo3(get)]
    line_reasons: Option<Py<PyList>>,
    #[pyo3(get)]
    updates: Option<Py<PyList>>,
}

fn records<'py>(py: Python<'py>, r: &Records) -> PyResult<Bound<'py, PyList>> {
    let mut start = 0;
    let items = r.ends.iter().map(|&end| {
        let b = PyBytes::new(py, &r.data[start..end]);
        start = end;
        b
    });
    PyList::new(py, items)
}

/// The events by their (site, slot) group, each group's in line order.
fn held<'py>(py: Python<'py>, out: &core::Output) -> PyResult<Bound<'py, PyList>> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); out.groups.len()];
    for (i, &g) in out.group_of.iter().enumerate() {
        members[g as usize].push(i);
    }
    let ends = &out.events.ends;
    let held = PyList::empty(py);
    for ((site, start), events) in out.groups.iter().zip(members) {
        let items = events.iter().map(|&i| {
            let begin = if i == 0 { 0 } else { ends[i - 1] };
            PyBytes::new(py, &out.events.data[begin..ends[i]])
        });
        let clients = events.iter().map(|&i| out.event_clients[i]);
        held.append((&**site, *start, PyList::new(py, items)?, PyList::new(py, clients)?))?;
    }
    Ok(held)
}

fn dim_name(dim: u8) -> &'static str {
    if dim == 0 {
        "total"
    } else {
        DIMENSIONS[dim as usize - 1]
    }
}

/// The compiled per-line loop: `process` a batch of lines into routed records and bucket sums.
#[pyclass(unsendable, module = "logscrub._native")]
pub struct Core {
    core: LineCore,
    vocabulary: Py<Vocabulary>,
    callbacks: Callbacks,
    #[pyo3(get)]
    fallbacks: u64,
}

fn read_client_mode(mode: &str) -> PyResult<ClientMode> {
    match mode {
        "none" => Ok(ClientMode::None),
        "network" => Ok(ClientMode::Network),
        "pseudonym" => Ok(ClientMode::Pseudonym),
        _ => Err(PyValueError::new_err(
            "events.client must be none, network or pseudonym",
        )),
    }
}

fn random_bytes(n: usize) -> PyResult<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::getrandom(&mut buf).map_err(|e| PyValueError::new_err(format!("no randomness from the OS: {e}")))?;
    Ok(buf)
}

#[pymethods]
impl Core {
    #[new]
    #[pyo3(signature = (
        *, format, nginx_template, nginx_escape, json_fields, max_line, trusted, client_mode, ipv4_prefix,
        ipv6_prefix, granularity, window, visitor_rotation, dimensions, k, path_rules, query_allow,
        max_segments, max_length, vocabulary, subjects, user_agent, site, referrer, geo, restricted,
        registrable_domain, path,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        format: &str,
        nginx_template: Option<&str>,
        nginx_escape: &str,
        json_fields: Vec<(String, String)>,
        max_line: usize,
        trusted: Vec<(u8, u128, u32)>,
        client_mode: &str,
        ipv4_prefix: u32,
        ipv6_prefix: u32,
        granularity: i64,
        window: i64,
        visitor_rotation: i64,
        dimensions: Vec<String>,
        k: usize,
        path_rules: Vec<String>,
        query_allow: Vec<String>,
        max_segments: usize,
        max_length: usize,
        vocabulary: Py<Vocabulary>,
        subjects: bool,
        user_agent: Py<PyAny>,
        site: Py<PyAny>,
        referrer: Py<PyAny>,
        geo: Option<Py<PyAny>>,
        restricted: Option<Py<PyAny>>,
        registrable_domain: Py<PyAny>,
        path: Py<PyAny>,
    ) -> PyResult<Core> {
        let dims = dimensions
            .iter()
            .map(|d| {
                DIMENSIONS
                    .iter()
                    .position(|x| x == d)
                    .map(|i| i as u8 + 1)
                    .ok_or_else(|| PyValueError::new_err(format!("unknown dimension {d:?}")))
            })
            .collect::<PyResult<Vec<u8>>>()?;
        if granularity <= 0 || window <= 0 || visitor_rotation <= 0 {
            return Err(PyValueError::new_err(
                "granularity, window and rotation must be positive",
            ));
        }
        let settings = Settings {
            format: Format::new(format, nginx_template, nginx_escape, &json_fields).map_err(PyValueError::new_err)?,
            max_line,
            trusted: trusted
                .into_iter()
                .map(|(version, address, prefix)| Network {
                    v6: version == 6,
                    address,
                    prefix,
                })
                .collect(),
            client_mode: read_client_mode(client_mode)?,
            ipv4_prefix,
            ipv6_prefix,
            granularity,
            window,
            visitor_rotation,
            dimensions: dims,
            k,
            subjects,
            geo: geo.is_some(),
            restricted: restricted.is_some(),
        };
        let paths = url::PathGeneralizer::new(&path_rules, &query_allow, max_segments, max_length)
            .map_err(PyValueError::new_err)?;
        Ok(Core {
            core: LineCore::new(settings, paths),
            vocabulary,
            callbacks: Callbacks {
                user_agent,
                site,
                referrer,
                geo,
                restricted,
                registrable_domain,
                path,
            },
            fallbacks: 0,
        })
    }

    #[getter]
    fn max_line(&self) -> usize {
        self.core.max_line()
    }

    #[getter]
    fn subjects_created(&mut self) -> u64 {
        self.core.subjects().created
    }

    /// The records of the subject keys made since the last call: (keys-topic record key, wrapped key).
    fn take_subject_records<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let pending = std::mem::take(&mut self.core.subjects().pending);
        PyList::new(py, pending.into_iter().map(|(k, v)| (k, PyBytes::new(py, &v))))
    }

    /// `SubjectKeys.drop(data_kid, skid)`.
    fn drop_subject(&mut self, data_kid: &str, skid: &str) {
        self.core.subjects().drop_key(data_kid, skid);
    }

    /// Lines from the start until the end, or until one needs a visitor key not in `visitor_keys`
    /// (`Batch.need` is then its event time). Nonces (12 bytes a line) and the random bytes of new
    /// subject keys are drawn from the OS, unless given (`nonces`, `subject_random(48)`) for tests.
    #[pyo3(signature = (
        lines, now, data_kid, data_secret, visitor_keys, sources=None, restrictions_changed=false,
        newline=false, nonces=None, subject_random=None, detail=false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        lines: &Bound<'py, PyList>,
        now: f64,
        data_kid: &str,
        data_secret: &[u8],
        visitor_keys: Vec<(i64, String, Vec<u8>)>,
        sources: Option<&Bound<'py, PyList>>,
        restrictions_changed: bool,
        newline: bool,
        nonces: Option<&[u8]>,
        subject_random: Option<Bound<'py, PyAny>>,
        detail: bool,
    ) -> PyResult<Batch> {
        let held: Vec<Bound<'py, PyBytes>> = lines
            .iter()
            .map(|l| l.downcast_into::<PyBytes>().map_err(PyErr::from))
            .collect::<PyResult<_>>()?;
        let raw: Vec<&[u8]> = held.iter().map(|b| b.as_bytes()).collect();
        let source_strings: Option<Vec<Bound<'py, PyString>>> = match sources {
            Some(s) => {
                if s.len() != raw.len() {
                    return Err(PyValueError::new_err("one source a line"));
                }
                Some(
                    s.iter()
                        .map(|x| x.downcast_into::<PyString>().map_err(PyErr::from))
                        .collect::<PyResult<_>>()?,
                )
            }
            None => None,
        };
        let source_strs: Option<Vec<&str>> = match &source_strings {
            Some(v) => Some(v.iter().map(|s| s.to_str()).collect::<PyResult<_>>()?),
            None => None,
        };
        let drawn;
        let nonces = match nonces {
            Some(n) => n,
            None => {
                drawn = random_bytes(12 * raw.len())?;
                &drawn[..]
            }
        };
        if nonces.len() < 12 * raw.len() {
            return Err(PyValueError::new_err("nonces: 12 bytes a line"));
        }
        let mut failed: Option<PyErr> = None;
        let mut random = || -> [u8; RANDOM_PER_SUBJECT] {
            let mut out = [0u8; RANDOM_PER_SUBJECT];
            let got = match &subject_random {
                Some(f) => f
                    .call1((RANDOM_PER_SUBJECT,))
                    .and_then(|b| b.extract::<Vec<u8>>())
                    .and_then(|b| {
                        b.try_into()
                            .map_err(|_| PyValueError::new_err("subject_random(n) must give n bytes"))
                    })
                    .map(|b: [u8; RANDOM_PER_SUBJECT]| out = b),
                None => getrandom::getrandom(&mut out)
                    .map_err(|e| PyValueError::new_err(format!("no randomness from the OS: {e}"))),
            };
            if let Err(e) = got {
                failed.get_or_insert(e);
            }
            out
        };
        self.core.set_visitor_keys(
            visitor_keys
                .into_iter()
                .map(|(period, kid, secret)| VisitorKey { kid, period, secret })
                .collect(),
        );
        let mut lookups = PyLookups { py, c: &self.callbacks };
        let mut vocabulary = self.vocabulary.bind(py).borrow_mut();
        let out = self.core.run(
            &mut vocabulary.inner,
            &mut lookups,
            Input {
                lines: &raw,
                sources: source_strs.as_deref(),
                now,
                data_kid,
                data_secret,
                nonces,
                random: &mut random,
                restrictions_changed,
                newline,
                detail,
            },
        )?;
        drop(vocabulary);
        if let Some(e) = failed {
            return Err(e); // no subject key could be made: nothing of this batch may be written
        }
        self.fallbacks = self.core.path_fallbacks();
        batch(py, out, detail)
    }
}

fn batch(py: Python<'_>, out: core::Output, detail: bool) -> PyResult<Batch> {
    let sums = PyList::empty(py);
    if let Some(taken) = &out.sums {
        let (c_at, clients) = &taken.clients;
        let (v_at, visitors) = &taken.visitors;
        for w in &taken.windows {
            let buckets = PyList::empty(py);
            for &i in &w.buckets {
                let (i, b) = (i as usize, &taken.buckets[i as usize]);
                buckets.append(PyTuple::new(
                    py,
                    [
                        PyString::intern(py, dim_name(b.dim)).into_any(),
                        PyString::new(py, &b.value).into_any(),
                        b.requests.into_pyobject(py)?.into_any(),
                        b.bytes.into_pyobject(py)?.into_any(),
                        PyTuple::new(py, b.status)?.into_any(),
                        PyTuple::new(py, &clients[c_at[i]..c_at[i + 1]])?.into_any(),
                        PyList::new(py, &visitors[v_at[i]..v_at[i + 1]])?.into_any(),
                    ],
                )?)?;
            }
            sums.append((&*w.site, w.window, w.lines, buckets))?;
        }
    }
    let reasons = PyList::new(py, out.reasons.iter().map(|(r, n)| (*r, *n)))?;
    let (kinds, line_reasons, updates) = if detail {
        let kinds: Vec<u8> = out.kinds.iter().map(|k| *k as u8).collect();
        let updates = PyList::empty(py);
        for u in &out.updates {
            match u {
                None => updates.append(py.None())?,
                Some(u) => {
                    let dims = PyTuple::new(py, u.dims.iter().map(|(d, v)| (dim_name(*d), &**v)))?;
                    updates.append((
                        u.timestamp_ms,
                        (&*u.site, u.window, u.visitor, u.client, u.bytes, &*u.status_class, dims),
                    ))?
                }
            }
        }
        (
            Some(PyBytes::new(py, &kinds).unbind()),
            Some(PyList::new(py, &out.line_reasons)?.unbind()),
            Some(updates.unbind()),
        )
    } else {
        (None, None, None)
    };
    Ok(Batch {
        done: out.done,
        need: out.stop,
        held: held(py, &out)?.unbind(),
        sealed: records(py, &out.sealed)?.unbind(),
        rejected: records(py, &out.rejected)?.unbind(),
        reasons: reasons.unbind(),
        withheld: out.withheld,
        restricted: out.restricted,
        latest: out.latest,
        sums: sums.unbind(),
        kinds,
        line_reasons,
        updates,
    })
}

/// `Kind` codes as `Batch.kinds` holds them.
pub fn kind_codes(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("EVENT", Kind::Event as u8)?;
    m.add("WITHHELD", Kind::Withheld as u8)?;
    m.add("RESTRICTED", Kind::Restricted as u8)?;
    m.add("REJECTED", Kind::Rejected as u8)?;
    Ok(())
}
