//! Keyed BLAKE2b as `hashlib.blake2b(data, key=..., person=..., digest_size=...)` computes it,
//! with the key's block compressed once per key instead of once per hash: the per-line loop takes
//! several keyed hashes a line (event id, client, visitor, the day's values), each of a few bytes.

use blake2::digest::core_api::{Block, Buffer, UpdateCore, VariableOutputCore};
use blake2::digest::Output;
use blake2::Blake2bVarCore;

#[derive(Clone)]
pub struct Keyed {
    keyed: Blake2bVarCore, // the state after the key block (not the last block)
    fresh: Blake2bVarCore, // the state before it, for an empty message (then the key block is last)
    key_block: Block<Blake2bVarCore>,
    size: usize,
}

impl Keyed {
    /// `key`: 1 to 64 bytes; `person`: at most 16; `size`: 1 to 64.
    pub fn new(key: &[u8], person: &[u8], size: usize) -> Keyed {
        assert!(!key.is_empty() && key.len() <= 64 && person.len() <= 16 && (1..=64).contains(&size));
        let fresh = Blake2bVarCore::new_with_params(&[], person, key.len(), size);
        let mut key_block = Block::<Blake2bVarCore>::default();
        key_block[..key.len()].copy_from_slice(key);
        let mut keyed = fresh.clone();
        keyed.update_blocks(std::slice::from_ref(&key_block));
        Keyed {
            keyed,
            fresh,
            key_block,
            size,
        }
    }

    /// The digest of `parts` joined, into `out` (`size` bytes).
    pub fn digest_into(&self, parts: &[&[u8]], out: &mut [u8]) {
        let mut full = Output::<Blake2bVarCore>::default();
        if parts.iter().all(|p| p.is_empty()) {
            let mut core = self.fresh.clone();
            let mut buffer = Buffer::<Blake2bVarCore>::new(&self.key_block);
            core.finalize_variable_core(&mut buffer, &mut full);
        } else {
            let mut core = self.keyed.clone();
            let mut buffer = Buffer::<Blake2bVarCore>::default();
            for p in parts {
                buffer.digest_blocks(p, |blocks| core.update_blocks(blocks));
            }
            core.finalize_variable_core(&mut buffer, &mut full);
        }
        out.copy_from_slice(&full[..self.size]);
    }

    /// `int.from_bytes(digest) >> 1` of an 8-byte digest: the 63-bit hashes the reference keeps.
    pub fn hash63(&self, parts: &[&[u8]]) -> u64 {
        let mut out = [0u8; 8];
        self.digest_into(parts, &mut out);
        u64::from_be_bytes(out) >> 1
    }
}

#[cfg(test)]
mod tests {
    use super::Keyed;
    use blake2::digest::consts::U8;
    use blake2::digest::Mac;
    use blake2::Blake2bMac;

    #[test]
    fn keyed_equals_the_mac_for_every_length_around_a_block() {
        for person in [&b""[..], b"logscrub-client"] {
            let k = Keyed::new(b"a key of thirty-two bytes, 32 b!", person, 8);
            for n in [0usize, 1, 7, 127, 128, 129, 255, 256, 300] {
                let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
                let mut mac =
                    Blake2bMac::<U8>::new_with_salt_and_personal(b"a key of thirty-two bytes, 32 b!", &[], person)
                        .unwrap();
                mac.update(&data);
                let want: [u8; 8] = mac.finalize().into_bytes().into();
                let mut got = [0u8; 8];
                let (a, b) = data.split_at(n / 3);
                k.digest_into(&[a, b], &mut got);
                assert_eq!(got, want, "{n} bytes");
            }
        }
    }
}
