//! The window owner's share cap (`slots._Counts.join`, the reference): one slot's or one day's
//! events per group and per (group, client) pair, and the rule that one more event of a client
//! fits a group only while it then holds no more of it than all the other clients together (one,
//! when it is alone). Groups and clients arrive as Python's hashes of them; a pair is one u64.

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
