//! `scrub/vocabulary.py`: what today's events may publish (invariant 2), counted on keyed hashes.
//!
//! The same rules, the same sightings and group joins to share with other workers, in the same
//! order; values are hashed from their JSON form (`orjson.dumps` of the reference's tuples), so a
//! value and its hash are the reference's.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use crate::keyed::Keyed;

pub const DAYS_KEPT: usize = 3;
pub const MAX_VALUES: usize = 2_000_000;

/// Hashes here are keyed BLAKE2b outputs: uniform already, so their low bits are a good hash.
#[derive(Default)]
pub struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (n >> 29);
    }
}

pub type Fast = BuildHasherDefault<Spread>;
pub type U64Set = HashSet<u64, Fast>;
pub type U64Map<V> = HashMap<u64, V, Fast>;

/// One visitor-key period's counts (`DayVocabulary`).
pub struct Day {
    k: usize,
    max_values: usize,
    published: U64Set,
    counting: U64Map<Vec<u64>>,
    pub sightings: Vec<u64>,
    alone: U64Map<u64>,
    shared: U64Set,
    pub joined: Vec<u64>,
    pub seeded: bool,
    hashes: HashMap<Vec<u8>, u64>,
    /// How many times `hashes` was emptied: a cache of hashes outside must start over with it.
    pub generation: u64,
    key: Option<Keyed>, // blake2b keyed with the day's secret, 8 bytes
}

impl Day {
    pub fn new(k: usize, secret: Option<&[u8]>, max_values: usize) -> Day {
        Day {
            k,
            max_values,
            published: U64Set::default(),
            counting: U64Map::default(),
            sightings: Vec::new(),
            alone: U64Map::default(),
            shared: U64Set::default(),
            joined: Vec::new(),
            seeded: false,
            hashes: HashMap::new(),
            generation: 0,
            key: secret.map(|s| Keyed::new(s, b"", 8)),
        }
    }

    /// `value(v)` with `v` given as its JSON form; None for a day known only from other workers.
    pub fn value(&mut self, json: &[u8]) -> Option<u64> {
        if let Some(&h) = self.hashes.get(json) {
            return Some(h);
        }
        let h = self.key.as_ref()?.hash63(&[json]);
        if self.hashes.len() >= self.max_values {
            self.hashes.clear();
            self.generation += 1;
        }
        self.hashes.insert(json.to_vec(), h);
        Some(h)
    }

    /// `shown(h, client)`: `client` showed value `h`; whether `h` may be published now.
    pub fn shown(&mut self, h: u64, client: u64) -> bool {
        if self.published.contains(&h) {
            return true;
        }
        let full = self.counting.len() >= self.max_values;
        let clients = match self.counting.get_mut(&h) {
            Some(c) => c,
            None if full => return false,
            None => self.counting.entry(h).or_default(),
        };
        if !clients.contains(&client) {
            clients.push(client);
            self.sightings.extend([h, client]);
            if clients.len() >= self.k {
                self.counting.remove(&h);
                self.published.insert(h);
                return true;
            }
        }
        false
    }

    /// `joins(group, client)`: whether an event of `client` may be published in `group` today
    /// (and if so, it is).
    pub fn joins(&mut self, group: u64, client: u64) -> bool {
        if self.shared.contains(&group) {
            return true;
        }
        match self.alone.get(&group) {
            None if self.alone.len() >= self.max_values => return false,
            None => {
                self.alone.insert(group, client);
            }
            Some(&alone) if alone == client => return false, // its second event there, with nobody else's
            Some(_) => {
                self.alone.remove(&group);
                self.shared.insert(group);
            }
        }
        self.joined.extend([group, client]);
        true
    }

    /// `published_values()`, as JSON forms (the order of the reference's dict is not kept: seeding
    /// publishes them all, whatever the order).
    pub fn published_values(&self) -> Vec<Vec<u8>> {
        self.hashes
            .iter()
            .filter(|(_, h)| self.published.contains(h))
            .map(|(v, _)| v.clone())
            .collect()
    }

    pub fn seed(&mut self, values: &[Vec<u8>]) {
        for v in values {
            if let Some(h) = self.value(v) {
                self.counting.remove(&h);
                self.published.insert(h);
            }
        }
        self.seeded = true;
    }

    /// `merge_joined(flat)`: another worker's (group, client) pairs.
    pub fn merge_joined(&mut self, flat: &[u64]) {
        for pair in flat.chunks_exact(2) {
            let (group, client) = (pair[0], pair[1]);
            if self.shared.contains(&group) {
                continue;
            }
            match self.alone.get(&group) {
                None => {
                    if self.alone.len() < self.max_values {
                        self.alone.insert(group, client);
                    }
                }
                Some(&alone) if alone != client => {
                    self.alone.remove(&group);
                    self.shared.insert(group);
                }
                Some(_) => {}
            }
        }
    }

    /// `merge(flat)`: another worker's (value, client) sightings.
    pub fn merge(&mut self, flat: &[u64]) {
        for pair in flat.chunks_exact(2) {
            let (h, client) = (pair[0], pair[1]);
            if self.published.contains(&h) {
                continue;
            }
            let full = self.counting.len() >= self.max_values;
            let clients = match self.counting.get_mut(&h) {
                Some(c) => c,
                None if full => continue,
                None => self.counting.entry(h).or_default(),
            };
            if !clients.contains(&client) {
                clients.push(client);
            }
            if clients.len() >= self.k {
                self.counting.remove(&h);
                self.published.insert(h);
            }
        }
    }
}

pub type DayRef = Rc<RefCell<Day>>;

/// The counts of the last few days, by visitor key id (`Vocabulary`).
pub struct Vocabulary {
    pub k: usize,
    pub max_values: usize,
    days: Vec<(String, DayRef)>, // in the order the reference's OrderedDict holds them
}

/// `_period_of`: `visitor-20261128T000000-ab12cd34` -> `20261128T000000`.
fn period_of(kid: &str) -> &str {
    if kid.matches('-').count() >= 2 {
        kid.split('-').nth(1).unwrap_or(kid)
    } else {
        kid
    }
}

impl Vocabulary {
    pub fn new(k: usize, max_values: usize) -> Vocabulary {
        Vocabulary {
            k,
            max_values,
            days: Vec::new(),
        }
    }

    fn find(&self, kid: &str) -> Option<&DayRef> {
        self.days.iter().find(|(d, _)| d == kid).map(|(_, day)| day)
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.find(kid).is_some()
    }

    /// `day(kid, secret)`: the days kept are those used last, never the one asked for; a day heard
    /// of only from other workers is not kept if it is older than every day kept.
    pub fn day(&mut self, kid: &str, secret: Option<&[u8]>) -> DayRef {
        if let Some(i) = self.days.iter().position(|(d, _)| d == kid) {
            let day = self.days[i].1.clone();
            if let Some(s) = secret {
                {
                    let mut d = day.borrow_mut();
                    if d.key.is_none() {
                        d.key = Some(Keyed::new(s, b"", 8));
                    }
                }
                let entry = self.days.remove(i); // `move_to_end`
                self.days.push(entry);
            }
            return day;
        }
        if secret.is_none()
            && self.days.len() >= DAYS_KEPT
            && self.days.iter().all(|(d, _)| period_of(kid) < period_of(d))
        {
            // Too old to keep: not stored.
            return Rc::new(RefCell::new(Day::new(self.k, None, self.max_values)));
        }
        let day = Rc::new(RefCell::new(Day::new(self.k, secret, self.max_values)));
        self.days.push((kid.to_owned(), day.clone()));
        while self.days.len() > DAYS_KEPT {
            // The least recently used goes, never the day asked for.
            let i = self.days.iter().position(|(d, _)| d != kid).expect("more than one day kept");
            self.days.remove(i);
        }
        day
    }

    /// `take_sightings()`: (kid, sightings, joins) per day that has any, emptied.
    pub fn take_sightings(&mut self) -> Vec<(String, Vec<u64>, Vec<u64>)> {
        let mut out = Vec::new();
        for (kid, day) in &self.days {
            let mut d = day.borrow_mut();
            if !d.sightings.is_empty() || !d.joined.is_empty() {
                out.push((
                    kid.clone(),
                    std::mem::take(&mut d.sightings),
                    std::mem::take(&mut d.joined),
                ));
            }
        }
        out
    }

    /// `merge(record)`, the record's fields already read.
    pub fn merge(&mut self, kid: &str, sightings: &[u64], joined: &[u64]) {
        let day = self.day(kid, None);
        if self.contains(kid) {
            let mut d = day.borrow_mut();
            d.merge(sightings);
            d.merge_joined(joined);
        }
    }
}
