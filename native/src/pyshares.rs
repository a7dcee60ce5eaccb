//! `logscrub._native.ShareCounts`: the Python face of `shares::Counts` (thin conversions only).

use pyo3::prelude::*;

use crate::shares::Counts;

#[pyclass(unsendable, module = "logscrub._native")]
pub struct ShareCounts {
    counts: Counts,
    max_pairs: usize,
}

#[pymethods]
impl ShareCounts {
    #[new]
    fn new(max_pairs: usize) -> Self {
        ShareCounts { counts: Counts::default(), max_pairs }
    }

    /// `slots._Counts.join`: this is the day's counts, `slot` the slot's.
    fn join(&mut self, mut slot: PyRefMut<'_, ShareCounts>, heads: Vec<i64>, splits: Vec<i64>, client: i64) -> bool {
        self.counts.join(&mut slot.counts, &heads, &splits, client, self.max_pairs)
    }

    /// `slots._Counts.join_alone`: `join`, capped within `alone` (the day's own slot) as well.
    fn join_alone(
        &mut self, mut slot: PyRefMut<'_, ShareCounts>, mut alone: PyRefMut<'_, ShareCounts>, heads: Vec<i64>,
        splits: Vec<i64>, client: i64,
    ) -> bool {
        self.counts.join_alone(&mut slot.counts, &mut alone.counts, &heads, &splits, client, self.max_pairs)
    }

    /// `slots._Counts.add`: a join a previous owner made, counted in the day unchecked.
    fn add(&mut self, heads: Vec<i64>, splits: Vec<i64>, client: i64) {
        self.counts.add(&heads, &splits, client)
    }
}
