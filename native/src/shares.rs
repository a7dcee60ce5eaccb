//! The window owner's share cap (`slots._Counts.join`, the reference): one slot's or one day's
//! events per group and per (group, client) pair, and the rule that one more event of a client
//! fits a group only while it then holds no more of it than all the other clients together (one,
//! when it is alone). Groups and clients arrive as Python's hashes of them; a pair is one u64.

use std::borrow::Cow;

use crate::vocabulary::U64Map;

const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15; // odd: (group, client) as one u64
const SPLIT: u64 = 0xD6E8_FEB8_6659_FD93; // odd: a head and a split as another group

#[derive(Default)]
pub struct Counts {
    events: U64Map<u32>,
    mine: U64Map<u32>,
}

impl Counts {
    /// Count one event of `client` in its groups if it fits in every one: each of `heads` here
    /// (the day) and in `slot`; in the slot each head split by each of `splits` too, and in the day
    /// the first head's (the description's). Past `max_pairs` pairs a day, a client new to a group
    /// does not fit.
    pub fn join(&mut self, slot: &mut Counts, heads: &[i64], splits: &[i64], client: i64, max_pairs: usize) -> bool {
        let groups = groups(heads, splits);
        let salt = (client as u64).wrapping_mul(SPREAD);
        self.join_groups(slot, &groups, day_len(heads, splits), salt, max_pairs)
    }

    /// `join`, and the cap within `alone` too (the day's own slot, whose `slot` goes on with its
    /// first slot's counts: an analyst tells it apart by its span), over the slot's groups. Fits
    /// all, or counts in none.
    pub fn join_alone(
        &mut self, slot: &mut Counts, alone: &mut Counts, heads: &[i64], splits: &[i64], client: i64, max_pairs: usize,
    ) -> bool {
        let groups = groups(heads, splits);
        let salt = (client as u64).wrapping_mul(SPREAD);
        if !groups.iter().all(|&g| alone.fits(g, salt))
            || !self.join_groups(slot, &groups, day_len(heads, splits), salt, max_pairs)
        {
            return false;
        }
        alone.count(&groups, salt);
        true
    }

    fn join_groups(&mut self, slot: &mut Counts, groups: &[u64], day_len: usize, salt: u64, max_pairs: usize) -> bool {
        let day_groups = &groups[..day_len];
        for &g in day_groups {
            if !self.mine.contains_key(&(g ^ salt)) && self.mine.len() >= max_pairs {
                return false;
            }
        }
        if !day_groups.iter().all(|&g| self.fits(g, salt)) || !groups.iter().all(|&g| slot.fits(g, salt)) {
            return false;
        }
        self.count(day_groups, salt);
        slot.count(groups, salt);
        true
    }

    /// Whether one more event of the client `salt` stands for holds no more of group `g` than the
    /// other clients together.
    fn fits(&self, g: u64, salt: u64) -> bool {
        match self.mine.get(&(g ^ salt)) {
            None => true,
            Some(&m) => 2 * m < self.events.get(&g).copied().unwrap_or(0),
        }
    }

    fn count(&mut self, groups: &[u64], salt: u64) {
        for &g in groups {
            *self.events.entry(g).or_insert(0) += 1;
            *self.mine.entry(g ^ salt).or_insert(0) += 1;
        }
    }

    /// Count one event of `client` in its day's groups (as `join`), unchecked: a day's counts
    /// rebuilt from the joins a previous owner made (its slots' marks), in the order it made them.
    pub fn add(&mut self, heads: &[i64], splits: &[i64], client: i64) {
        let salt = (client as u64).wrapping_mul(SPREAD);
        self.count(&groups(heads, splits)[..day_len(heads, splits)], salt);
    }
}

/// What `Counts::choose` gives: (index, step; -1 as described) in the order joined, and the
/// indexes of those that fit nowhere.
pub type Chosen = (Vec<(usize, i64)>, Vec<usize>);

/// A coarser form of an event's fields: (position, the hash of the value shown there instead).
pub type Step = Vec<(usize, i64)>;

/// How an event's field hashes make its groups (`slots._heads`, `slots._split_hashes`) and its
/// coarser forms (`slots._COARSER`), given by the reference (`slots._native_rules`).
pub struct Rules {
    pub projections: Vec<Step>, // the levels' views of an event, the site alone last
    pub coarser: Vec<Step>,     // the owner's coarser steps for an event over the cap
}

const TAG_EQ: u64 = 0x243F_6A88_85A3_08D3;
const TAG_PROJECTION: u64 = 0x1319_8A2E_0370_7344;
const TAG_SPLIT: u64 = 0xA409_3822_299F_31D0;

fn mix(tag: u64, values: &[i64]) -> i64 {
    let mut h = tag;
    for &v in values {
        h = (h.rotate_left(5) ^ v as u64).wrapping_mul(SPREAD);
    }
    // splitmix64's finalizer: every input bit moves every output bit
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    (h ^ (h >> 31)) as i64
}

fn masked(fields: &[i64], step: &Step) -> Vec<i64> {
    let mut out = fields.to_vec();
    mask(&mut out, step);
    out
}

fn mask(out: &mut [i64], step: &Step) {
    for &(j, v) in step {
        if j < out.len() {
            out[j] = v;
        }
    }
}

impl Rules {
    /// The groups of an event's client fields: its description's, then each projection's, tagged
    /// with the projection (a field a level drops may show as another level's does).
    pub fn heads(&self, fields: &[i64]) -> Vec<i64> {
        let mut heads = Vec::with_capacity(1 + self.projections.len());
        heads.push(mix(TAG_EQ, fields));
        let mut view = fields.to_vec(); // one buffer for every projection's view
        for (l, step) in self.projections.iter().enumerate() {
            view.copy_from_slice(fields);
            mask(&mut view, step);
            heads.push(mix(TAG_PROJECTION.wrapping_add(l as u64), &view));
        }
        heads
    }

    /// Each request field's hash, apart by position.
    pub fn splits(&self, request: &[i64]) -> Vec<i64> {
        request.iter().enumerate().map(|(j, &v)| mix(TAG_SPLIT.wrapping_add(j as u64), &[v])).collect()
    }
}

/// Each client's first event, then each one's second, and so on, those with fewest first
/// (`slots._turns`): the positions in `left`, in that order.
fn turns(left: &[(usize, i64, Option<Vec<i64>>)]) -> Vec<usize> {
    let mut made: U64Map<u32> = U64Map::default();
    let mut rank = Vec::with_capacity(left.len());
    for &(_, client, _) in left {
        let n = made.entry(client as u64).or_insert(0);
        rank.push(*n);
        *n += 1;
    }
    let mut order: Vec<usize> = (0..left.len()).collect();
    order.sort_by_key(|&j| (rank[j], made[&(left[j].1 as u64)])); // stable, as Python's sorted
    order
}

impl Counts {
    /// `slots._Counts.choose`: the events of `todo` ((index, client)) that join this day's and
    /// `slot`'s counts (and `alone`'s), in turns, as described and then, with `coarsen`, at each
    /// coarser step for those over the cap: (index, step; -1 as described) in the order joined,
    /// and the indexes of those that fit nowhere.
    #[allow(clippy::too_many_arguments)]
    pub fn choose(
        &mut self, slot: &mut Counts, mut alone: Option<&mut Counts>, rules: &Rules, described: &[Vec<i64>],
        splits: &[Vec<i64>], todo: &[(usize, i64)], coarsen: bool, max_pairs: usize,
    ) -> Chosen {
        let mut kept = Vec::new();
        let mut left: Vec<(usize, i64, Option<Vec<i64>>)> = todo.iter().map(|&(i, c)| (i, c, None)).collect();
        let steps = if coarsen { 1 + rules.coarser.len() } else { 1 };
        for s in 0..steps {
            let mut over = Vec::with_capacity(left.len());
            for j in turns(&left) {
                let (i, client) = (left[j].0, left[j].1);
                let base = if s == 0 {
                    Cow::Borrowed(&described[i]) // nothing tried before it: no copy unless it is over
                } else {
                    Cow::Owned(masked(&described[i], &rules.coarser[s - 1]))
                };
                if left[j].2.as_ref() == Some(&*base) {
                    over.push((i, client, left[j].2.take()));
                    continue;
                }
                let heads = rules.heads(&base);
                let joined = match alone.as_deref_mut() {
                    None => self.join(slot, &heads, &splits[i], client, max_pairs),
                    Some(a) => self.join_alone(slot, a, &heads, &splits[i], client, max_pairs),
                };
                if joined {
                    kept.push((i, s as i64 - 1));
                } else {
                    over.push((i, client, Some(base.into_owned())));
                }
            }
            left = over;
        }
        (kept, left.into_iter().map(|(i, _, _)| i).collect())
    }
}

/// The heads, then each head split by each split, the first head's first.
fn groups(heads: &[i64], splits: &[i64]) -> Vec<u64> {
    let mut groups: Vec<u64> = heads.iter().map(|&h| h as u64).collect();
    for &head in heads {
        let head = head as u64;
        groups.extend(splits.iter().map(|&s| (head ^ (s as u64).wrapping_mul(SPLIT)).wrapping_mul(SPREAD)));
    }
    groups
}

/// How many of `groups` count in the day: the heads, and the first head's splits.
fn day_len(heads: &[i64], splits: &[i64]) -> usize {
    heads.len() + if heads.is_empty() { 0 } else { splits.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_alone_holds_one_event_and_never_more_than_the_others() {
        let (mut day, mut slot) = (Counts::default(), Counts::default());
        assert!(day.join(&mut slot, &[1, 2], &[5], 7, 100));
        assert!(!day.join(&mut slot, &[1, 2], &[5], 7, 100)); // alone: one
        assert!(day.join(&mut slot, &[1, 2], &[5], 8, 100));
        assert!(!day.join(&mut slot, &[1, 2], &[5], 7, 100)); // 2 of 3 would be more than the others' 1
        assert!(day.join(&mut slot, &[1, 2], &[6], 9, 100));
        assert!(!day.join(&mut slot, &[1, 2], &[5], 7, 100)); // in the split by 5: 2 of 3
        assert!(day.join(&mut slot, &[1, 2], &[6], 7, 100)); // split by 6: 1 of 2; whole: 2 of 4
        let mut fresh_slot = Counts::default();
        assert!(!day.join(&mut fresh_slot, &[3], &[], 10, 2)); // the day holds its pairs' maximum
    }

    #[test]
    fn the_day_s_own_slot_caps_within_itself_too() {
        let (mut day, mut slot, mut alone) = (Counts::default(), Counts::default(), Counts::default());
        assert!(day.join(&mut slot, &[1], &[], 7, 100)); // the first slot's: the own slot goes on with it
        assert!(day.join(&mut slot, &[1], &[], 8, 100));
        assert!(day.join_alone(&mut slot, &mut alone, &[1], &[], 9, 100));
        assert!(!day.join_alone(&mut slot, &mut alone, &[1], &[], 9, 100)); // alone in `alone`: one
        assert_eq!(day.events.get(&1), Some(&3)); // refused by `alone`: counted nowhere
        assert!(day.join_alone(&mut slot, &mut alone, &[1], &[], 10, 100));
    }

    #[test]
    fn joins_added_back_count_as_the_joins_made() {
        let (mut day, mut slot) = (Counts::default(), Counts::default());
        assert!(day.join(&mut slot, &[1], &[], 7, 100));
        let mut rebuilt = Counts::default();
        rebuilt.add(&[1], &[], 7);
        assert!(!rebuilt.join(&mut Counts::default(), &[1], &[], 7, 100)); // alone in the day: one
        assert!(rebuilt.join(&mut Counts::default(), &[1], &[], 8, 100));
    }
}
