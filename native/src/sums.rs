//! A batch's aggregate updates summed per (site, window, dimension, value), for
//! `TrafficAggregator.add_sums` to merge into its buckets as `add` would have, line by line.
//!
//! Everything keeps the order of first sight: windows, buckets within a window, distinct visitors
//! and the first k distinct clients of a bucket. Visitors are held as exact, distinct hashes, so
//! the Python side feeds its sets and sketches the very sequence per-line updates would have.

use std::collections::HashMap;
use std::rc::Rc;

use crate::vocabulary::{Fast, U64Set};

pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// `_STATUS_INDEX.get(status_class, 5)`.
pub fn status_index(class: &str) -> usize {
    STATUS_CLASSES[..5].iter().position(|c| *c == class).unwrap_or(5)
}

pub struct BucketSums {
    pub dim: u8, // 0: total; else 1 + the dimension's place in DIMENSIONS
    pub value: Rc<str>,
    pub requests: u64,
    pub bytes: u128, // Python ints: a sum of 64-bit counts may pass 64 bits
    pub status: [u64; 6],
    pub clients: Vec<u64>,  // the first k distinct, in order of arrival
    pub visitors: Vec<u64>, // distinct, in order of arrival
    seen: U64Set,
}

pub struct WindowSums {
    pub site: Rc<str>,
    pub window: i64,
    pub lines: u64,
    pub buckets: Vec<BucketSums>,
    index: HashMap<(u8, Rc<str>), usize>,
}

/// One line's update: what `AggUpdate` holds.
pub struct Update<'a> {
    pub site: &'a Rc<str>,
    pub window: i64,
    pub visitor: u64,
    pub client: u64,
    pub bytes: u64,
    pub status: usize,
    pub dims: &'a [(u8, Rc<str>)],
}

pub struct Sums {
    k: usize,
    total: Rc<str>,
    pub windows: Vec<WindowSums>,
    index: HashMap<(Rc<str>, i64), usize>,
}

impl Sums {
    pub fn new(k: usize) -> Sums {
        Sums {
            k,
            total: Rc::from(""),
            windows: Vec::new(),
            index: HashMap::new(),
        }
    }

    pub fn add(&mut self, u: &Update<'_>) {
        let w = *self.index.entry((u.site.clone(), u.window)).or_insert_with(|| {
            self.windows.push(WindowSums {
                site: u.site.clone(),
                window: u.window,
                lines: 0,
                buckets: Vec::new(),
                index: HashMap::new(),
            });
            self.windows.len() - 1
        });
        let window = &mut self.windows[w];
        window.lines += 1;
        for (dim, value) in std::iter::once((0u8, &self.total)).chain(u.dims.iter().map(|(d, v)| (*d, v))) {
            let b = match window.index.get(&(dim, value.clone())) {
                Some(&b) => b,
                None => {
                    window.buckets.push(BucketSums {
                        dim,
                        value: value.clone(),
                        requests: 0,
                        bytes: 0,
                        status: [0; 6],
                        clients: Vec::new(),
                        visitors: Vec::new(),
                        seen: U64Set::with_hasher(Fast::default()),
                    });
                    window.index.insert((dim, value.clone()), window.buckets.len() - 1);
                    window.buckets.len() - 1
                }
            };
            let bucket = &mut window.buckets[b];
            bucket.requests += 1;
            bucket.bytes += u.bytes as u128;
            bucket.status[u.status] += 1;
            if bucket.seen.insert(u.visitor) {
                bucket.visitors.push(u.visitor);
            }
            if bucket.clients.len() < self.k && !bucket.clients.contains(&u.client) {
                bucket.clients.push(u.client);
            }
        }
    }

    pub fn take(&mut self) -> Vec<WindowSums> {
        self.index.clear();
        std::mem::take(&mut self.windows)
    }
}
