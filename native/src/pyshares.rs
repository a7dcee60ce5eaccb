//! `logscrub._native.ShareCounts`: the Python face of `shares::Counts`. An event's fields come in
//! as Python objects and are hashed with Python's `hash` (as the reference does), then grouped
//! here (`shares::Rules`): the window owner's choice of which events to write runs in one call.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::shares::{Chosen, Counts, Rules, Step};

#[pyclass(unsendable, module = "logscrub._native")]
pub struct ShareCounts {
    counts: Counts,
    max_pairs: usize,
    rules: Rules,
}

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
    /// `max_pairs` as `slots.MAX_PAIRS`; `projections` and `coarser` as `slots._native_rules`.
    #[new]
    fn new(max_pairs: usize, projections: Vec<Step>, coarser: Vec<Step>) -> Self {
        ShareCounts { counts: Counts::default(), max_pairs, rules: Rules { projections, coarser } }
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

    /// `slots._Counts.choose`: `(kept (index, step), left over indexes)`.
    fn choose(
        &mut self, mut slot: PyRefMut<'_, ShareCounts>, mut alone: Option<PyRefMut<'_, ShareCounts>>,
        described: Vec<Bound<'_, PyAny>>, request: Vec<Bound<'_, PyAny>>, todo: Vec<(usize, Bound<'_, PyAny>)>,
        coarsen: bool,
    ) -> PyResult<Chosen> {
        let described = described.iter().map(fields_of).collect::<PyResult<Vec<_>>>()?;
        let splits = request.iter().map(|r| request_of(r).map(|r| self.rules.splits(&r))).collect::<PyResult<Vec<_>>>()?;
        let todo = todo.iter().map(|(i, c)| c.hash().map(|h| (*i, h as i64))).collect::<PyResult<Vec<_>>>()?;
        Ok(self.counts.choose(
            &mut slot.counts, alone.as_deref_mut().map(|a| &mut a.counts), &self.rules, &described, &splits, &todo,
            coarsen, self.max_pairs,
        ))
    }
}
