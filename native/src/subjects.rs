//! `crypto/subjects.py`'s `SubjectKeys`: one key per client address and data period, made on first
//! sight, its record (wrapped under the data key) pending until the driver stores it.

use std::rc::Rc;

use crate::crypto::{self, Sealer};
use crate::maps::Map;

pub const MAX_SUBJECTS: usize = 65536;
/// Random bytes one new subject key takes, in the reference's order of drawing them: the key id's
/// random part (4), the secret (32), the nonce wrapping it (12).
pub const RANDOM_PER_SUBJECT: usize = 4 + 32 + 12;

/// The current data period's subject keys.
#[derive(Default)]
pub struct Subjects {
    pub created: u64,
    pub pending: Vec<(String, Vec<u8>)>, // (keys-topic record key, wrapped subject key)
    kid: Option<String>,
    keys: Map<Vec<u8>, (Rc<str>, Rc<Sealer>)>,
    by_skid: Map<Rc<str>, Vec<u8>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Subjects {
    /// `for_subject(data_key, packed_ip)`: (subject key id, its sealer); `random` gives the bytes a
    /// new key needs (`RANDOM_PER_SUBJECT`).
    pub fn for_subject(
        &mut self,
        kid: &str,
        data_secret: &[u8],
        data: &Sealer,
        packed_ip: &[u8],
        random: &mut dyn FnMut() -> [u8; RANDOM_PER_SUBJECT],
    ) -> (Rc<str>, Rc<Sealer>) {
        if self.kid.as_deref() != Some(kid) {
            self.kid = Some(kid.to_owned());
            self.keys.clear();
            self.by_skid.clear();
        }
        if let Some((skid, sealer)) = self.keys.get(packed_ip) {
            return (skid.clone(), sealer.clone());
        }
        if self.keys.len() >= MAX_SUBJECTS {
            self.keys.clear();
            self.by_skid.clear();
        }
        let r = random();
        let skid: Rc<str> = format!("{}.{}", crypto::subject_id(data_secret, packed_ip), hex(&r[..4])).into();
        let secret = &r[4..36];
        let nonce: [u8; 12] = r[36..48].try_into().expect("12 bytes");
        let record = format!("subject/{kid}/{skid}");
        let mut wrapped = nonce.to_vec();
        wrapped.extend(data.encrypt(&nonce, secret, record.as_bytes()));
        self.pending.push((record, wrapped));
        let sealer = Rc::new(Sealer::new(secret).expect("32-byte subject key"));
        self.keys.insert(packed_ip.to_vec(), (skid.clone(), sealer.clone()));
        self.by_skid.insert(skid.clone(), packed_ip.to_vec());
        self.created += 1;
        (skid, sealer)
    }

    /// `drop(data_kid, skid)`: an erasure destroyed this key; the subject's next line gets a new one.
    pub fn drop_key(&mut self, kid: &str, skid: &str) {
        if self.kid.as_deref() == Some(kid) {
            if let Some(packed) = self.by_skid.remove(skid) {
                self.keys.remove(&packed);
            }
        }
    }
}
