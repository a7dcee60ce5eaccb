//! A batch's aggregate updates summed per (site, window, dimension, value), for
//! `TrafficAggregator.add_sums` to merge into its buckets as `add` would have, line by line.
//!
//! Everything keeps the order of first sight: windows, buckets within a window, distinct visitors
//! and the first k distinct clients of a bucket. Visitors are held as exact, distinct hashes, so
//! the Python side feeds its sets and sketches the very sequence per-line updates would have.
//! One table of (bucket, hash) pairs serves every bucket: a batch has about as many buckets as
//! lines with one-minute windows, and a table each would cost more than the sums.

use std::rc::Rc;

use crate::maps::{Map, Set};

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
    clients: u32,
}

pub struct WindowSums {
    pub site: Rc<str>,
    pub window: i64,
    pub lines: u64,
    pub buckets: Vec<u32>, // into `Sums::buckets`, in order of first sight
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

/// The sums of one batch (cleared, not freed, between batches).
pub struct Sums {
    k: usize,
    total: Rc<str>,
    pub windows: Vec<WindowSums>,
    pub buckets: Vec<BucketSums>,
    index: Map<(Rc<str>, i64), u32>,
    keys: Map<(u32, u8, Rc<str>), u32>,
    seen: Set<(u32, u64)>,
    visitors: Vec<(u32, u64)>, // (bucket, visitor), distinct, in order of arrival
    clients_seen: Set<(u32, u64)>,
    clients: Vec<(u32, u64)>,
}

/// Each bucket's hashes in order of arrival, grouped by bucket: `(offsets, hashes)`, bucket `b`'s
/// being `hashes[offsets[b]..offsets[b + 1]]`.
fn grouped(pairs: &[(u32, u64)], buckets: usize) -> (Vec<usize>, Vec<u64>) {
    let mut offsets = vec![0usize; buckets + 1];
    for &(b, _) in pairs {
        offsets[b as usize + 1] += 1;
    }
    for i in 0..buckets {
        offsets[i + 1] += offsets[i];
    }
    let mut next = offsets.clone();
    let mut hashes = vec![0u64; pairs.len()];
    for &(b, h) in pairs {
        hashes[next[b as usize]] = h;
        next[b as usize] += 1;
    }
    (offsets, hashes)
}

/// A batch's sums as they leave: every bucket's clients and visitors grouped.
pub struct Taken {
    pub windows: Vec<WindowSums>,
    pub buckets: Vec<BucketSums>,
    pub clients: (Vec<usize>, Vec<u64>),
    pub visitors: (Vec<usize>, Vec<u64>),
}

impl Sums {
    pub fn new(k: usize) -> Sums {
        Sums {
            k,
            total: Rc::from(""),
            windows: Vec::new(),
            buckets: Vec::new(),
            index: Map::default(),
            keys: Map::default(),
            seen: Set::default(),
            visitors: Vec::new(),
            clients_seen: Set::default(),
            clients: Vec::new(),
        }
    }

    /// Room for `lines` more lines' updates without growing tables midway.
    pub fn reserve(&mut self, lines: usize) {
        self.seen.reserve(lines * 7);
        self.visitors.reserve(lines * 7);
    }

    pub fn add(&mut self, u: &Update<'_>) {
        let windows = &mut self.windows;
        let w = *self.index.entry((u.site.clone(), u.window)).or_insert_with(|| {
            windows.push(WindowSums {
                site: u.site.clone(),
                window: u.window,
                lines: 0,
                buckets: Vec::new(),
            });
            (windows.len() - 1) as u32
        });
        let window = &mut self.windows[w as usize];
        window.lines += 1;
        for (dim, value) in std::iter::once((0u8, &self.total)).chain(u.dims.iter().map(|(d, v)| (*d, v))) {
            let key = (w, dim, value.clone());
            let b = match self.keys.get(&key) {
                Some(&b) => b,
                None => {
                    let b = self.buckets.len() as u32;
                    self.buckets.push(BucketSums {
                        dim,
                        value: value.clone(),
                        requests: 0,
                        bytes: 0,
                        status: [0; 6],
                        clients: 0,
                    });
                    window.buckets.push(b);
                    self.keys.insert(key, b);
                    b
                }
            };
            let bucket = &mut self.buckets[b as usize];
            bucket.requests += 1;
            bucket.bytes += u.bytes as u128;
            bucket.status[u.status] += 1;
            if self.seen.insert((b, u.visitor)) {
                self.visitors.push((b, u.visitor));
            }
            if (bucket.clients as usize) < self.k && self.clients_seen.insert((b, u.client)) {
                bucket.clients += 1;
                self.clients.push((b, u.client));
            }
        }
    }

    /// Forget what a batch that failed midway added.
    pub fn clear(&mut self) {
        self.take();
    }

    /// The batch's sums; the tables stay, empty, for the next batch.
    pub fn take(&mut self) -> Taken {
        let n = self.buckets.len();
        let taken = Taken {
            clients: grouped(&self.clients, n),
            visitors: grouped(&self.visitors, n),
            windows: std::mem::take(&mut self.windows),
            buckets: std::mem::take(&mut self.buckets),
        };
        self.index.clear();
        self.keys.clear();
        self.seen.clear();
        self.visitors.clear();
        self.clients_seen.clear();
        self.clients.clear();
        taken
    }
}
