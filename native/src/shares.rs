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
    /// Count one event of `client` in each of its groups, here (the day) and in `slot`, if it fits
    /// in every one of them: each of `heads`, alone and split by each of `splits`. Past `max_pairs`
    /// pairs a day, a client new to a group does not fit.
    pub fn join(&mut self, slot: &mut Counts, heads: &[i64], splits: &[i64], client: i64, max_pairs: usize) -> bool {
        let mut groups = Vec::with_capacity(heads.len() * (splits.len() + 1));
        for &head in heads {
            let head = head as u64;
            groups.push(head);
            groups.extend(splits.iter().map(|&s| (head ^ (s as u64).wrapping_mul(SPLIT)).wrapping_mul(SPREAD)));
        }
        let salt = (client as u64).wrapping_mul(SPREAD);
        for &g in &groups {
            let pair = g ^ salt;
            if let Some(&m) = slot.mine.get(&pair) {
                if 2 * m >= slot.events.get(&g).copied().unwrap_or(0) {
                    return false;
                }
            }
            match self.mine.get(&pair) {
                None if self.mine.len() >= max_pairs => return false,
                None => {}
                Some(&m) => {
                    if 2 * m >= self.events.get(&g).copied().unwrap_or(0) {
                        return false;
                    }
                }
            }
        }
        for &g in &groups {
            let pair = g ^ salt;
            for counts in [&mut *slot, &mut *self] {
                *counts.events.entry(g).or_insert(0) += 1;
                *counts.mine.entry(pair).or_insert(0) += 1;
            }
        }
        true
    }
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
}
