//! `logscrub._native.ShareCounts`: the Python face of `shares::Counts`. An event's fields come in
//! as Python objects and are hashed with Python's `hash` (as the reference does), then grouped
//! here (`shares::Rules`): the window owner's choice of which events to write runs in one call.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::shares::{Counts, Rules, Step};

#[pyclass(unsendable, module = "logscrub._native")]
pub struct ShareCounts {
    counts: Counts,
    max_pairs: usize,
    rules: Rules,
    fields: Vec<Py<PyString>>, // `slots.CLIENT_FIELDS`, in order
}

/// What `choose_events` gives: `shares::Chosen`, and each event's client and request fields.
type Described<'py> = (Vec<(usize, i64)>, Vec<usize>, Vec<Bound<'py, PyTuple>>, Vec<Bound<'py, PyTuple>>);

fn fields_of(t: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    let t = t.downcast::<PyTuple>()?;
    t.iter().map(|v| v.hash().map(|h| h as i64)).collect()
}

fn request_of(r: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    if r.is_none() {
        return Ok(Vec::new());
    }
    fields_of(r)
}

#[pymethods]
impl ShareCounts {
    /// `max_pairs` as `slots.MAX_PAIRS`; `projections`, `coarser` and `fields` as `slots._native_rules`.
    #[new]
    fn new(max_pairs: usize, projections: Vec<Step>, coarser: Vec<Step>, fields: Vec<Py<PyString>>) -> Self {
        ShareCounts { counts: Counts::default(), max_pairs, rules: Rules { projections, coarser }, fields }
    }

    /// `slots._Counts.add_fields`: a join a previous owner made, counted in the day unchecked.
    fn add_fields(&mut self, fields: &Bound<'_, PyAny>, request: &Bound<'_, PyAny>, client: &Bound<'_, PyAny>) -> PyResult<()> {
        let (heads, splits) = (self.rules.heads(&fields_of(fields)?), self.rules.splits(&request_of(request)?));
        self.counts.add(&heads, &splits, client.hash()? as i64);
        Ok(())
    }

    /// `slots._Counts.join_fields`: this is the day's counts, `slot` the slot's.
    fn join_fields(
        &mut self, mut slot: PyRefMut<'_, ShareCounts>, fields: &Bound<'_, PyAny>, request: &Bound<'_, PyAny>,
        client: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let (heads, splits) = (self.rules.heads(&fields_of(fields)?), self.rules.splits(&request_of(request)?));
        Ok(self.counts.join(&mut slot.counts, &heads, &splits, client.hash()? as i64, self.max_pairs))
    }

    /// `slots._Counts.choose_events`: `(kept (index, step), left over indexes, each event's client
    /// fields, each one's request fields)`, the fields read from the events here and hashed once.
    fn choose_events<'py>(
        &mut self, py: Python<'py>, mut slot: PyRefMut<'_, ShareCounts>, mut alone: Option<PyRefMut<'_, ShareCounts>>,
        events: Vec<Bound<'py, PyDict>>, todo: Vec<(usize, Bound<'py, PyAny>)>, coarsen: bool,
    ) -> PyResult<Described<'py>> {
        let fields: Vec<&Bound<'py, PyString>> = self.fields.iter().map(|f| f.bind(py)).collect();
        let (mut described, mut request) = (Vec::with_capacity(events.len()), Vec::with_capacity(events.len()));
        let mut splits = Vec::with_capacity(events.len());
        for event in &events {
            let shown = PyTuple::new(py, fields.iter().map(|&f| field(event, f)).collect::<PyResult<Vec<_>>>()?)?;
            let asked = splits_of(py, event)?;
            splits.push(self.rules.splits(&fields_of(asked.as_any())?));
            described.push(shown);
            request.push(asked);
        }
        // Client fields hashed for the events tried only, as the reference: a replayed line's second
        // copy is never tried, whatever it holds (red-team of a737c92, F1).
        let mut hashes = vec![Vec::new(); events.len()];
        for (i, _) in &todo {
            hashes[*i] = fields_of(described[*i].as_any())?;
        }
        let todo = todo.iter().map(|(i, c)| c.hash().map(|h| (*i, h as i64))).collect::<PyResult<Vec<_>>>()?;
        let (kept, left) = self.counts.choose(
            &mut slot.counts, alone.as_deref_mut().map(|a| &mut a.counts), &self.rules, &hashes, &splits, &todo,
            coarsen, self.max_pairs,
        );
        Ok((kept, left, described, request))
    }
}

/// `event.get(name)`: None for a field the event lacks.
fn field<'py>(event: &Bound<'py, PyDict>, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
    Ok(event.get_item(name)?.unwrap_or_else(|| event.py().None().into_bound(event.py())))
}

/// `slots._splits`: the referrer (domain and class), the status class, the method, and the section
/// (a path's first segment; any other path as it is).
fn splits_of<'py>(py: Python<'py>, event: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyTuple>> {
    let path = field(event, intern!(py, "path"))?;
    let section = match path.downcast::<PyString>() {
        Ok(s) => match s.to_str() {
            Ok(text) => match text.strip_prefix('/') {
                Some(rest) => PyString::new(py, rest.split('/').next().unwrap_or("")).into_any(),
                None => path,
            },
            // Not UTF-8 (a lone surrogate): as Python splits it.
            Err(_) if s.call_method1("startswith", ("/",))?.is_truthy()? => {
                s.call_method1("split", ("/", 2))?.get_item(1)? // path[1:].split("/", 1)[0]
            }
            Err(_) => path,
        },
        Err(_) => path,
    };
    let referrer =
        PyTuple::new(py, [field(event, intern!(py, "referrer_domain"))?, field(event, intern!(py, "referrer_class"))?])?;
    PyTuple::new(py, [referrer.into_any(), field(event, intern!(py, "status_class"))?, field(event, intern!(py, "method"))?, section])
}
