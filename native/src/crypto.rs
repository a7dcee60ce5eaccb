//! Sealing and keyed hashes, as `crypto/envelope.py`, `crypto/subjects.py` and the scrubber do them.

use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use blake2::digest::consts::U8;
use blake2::Blake2bMac;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::json;

pub const VERSION: u32 = 3;

/// The associated data binding a sealed line to its key ids and kind: `logscrub/3|kid|skid|reason`.
pub fn aad(kid: &str, skid: Option<&str>, reason: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    write_aad(&mut out, kid, skid, reason);
    out
}

fn write_aad(out: &mut Vec<u8>, kid: &str, skid: Option<&str>, reason: Option<&str>) {
    out.extend_from_slice(b"logscrub/");
    json::write_u64(out, VERSION as u64);
    for part in [kid, skid.unwrap_or(""), reason.unwrap_or("")] {
        out.push(b'|');
        out.extend_from_slice(part.as_bytes());
    }
}

/// The associated data of the sealed subject key id: `logscrub/3/sk|kid`.
pub fn sk_aad(kid: &str) -> Vec<u8> {
    let mut out = Vec::new();
    write_sk_aad(&mut out, kid);
    out
}

fn write_sk_aad(out: &mut Vec<u8>, kid: &str) {
    out.extend_from_slice(b"logscrub/");
    json::write_u64(out, VERSION as u64);
    out.extend_from_slice(b"/sk|");
    out.extend_from_slice(kid.as_bytes());
}

/// A key that AES-256-GCM takes (32 bytes); built once per key and reused, like the reference's cache.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    pub fn new(secret: &[u8]) -> Option<Sealer> {
        Aes256Gcm::new_from_slice(secret).ok().map(|cipher| Sealer { cipher })
    }

    /// Ciphertext with its tag appended, as `AESGCM.encrypt` returns it.
    pub fn encrypt(&self, nonce: &[u8; 12], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        self.cipher
            .encrypt(Nonce::from_slice(nonce), Payload { msg: plaintext, aad })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail")
    }

    /// `encrypt` into `buf` (cleared first): no allocation once `buf` is big enough.
    pub fn encrypt_into(&self, nonce: &[u8; 12], plaintext: &[u8], aad: &[u8], buf: &mut Vec<u8>) {
        buf.clear();
        buf.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        buf.extend_from_slice(&tag);
    }
}

/// Append `bytes` in standard base64, as `b2a_base64(..., newline=False)` writes it.
fn write_b64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let n = STANDARD.encode_slice(bytes, &mut out[start..]).expect("sized for it");
    out.truncate(start + n);
}

/// Buffers `seal_json` reuses from line to line.
#[derive(Default)]
pub struct Scratch {
    aad: Vec<u8>,
    ct: Vec<u8>,
}

/// `orjson.dumps(envelope.seal(...))` appended to `out`: `seal` and `Envelope::write_json` in one
/// step, without the intermediate buffers (the per-line loop's path). `ingested` is already
/// rounded to milliseconds (`json::py_round3`: a batch shares it).
#[allow(clippy::too_many_arguments)]
pub fn seal_json(
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    data: &Sealer,
    subject: Option<(&str, &Sealer)>,
    line: &[u8],
    kid: &str,
    ingested: f64,
    reason: Option<&str>,
    source: Option<&str>,
    nonce: [u8; 12],
) {
    let skid = subject.map(|(id, _)| id);
    out.extend_from_slice(b"{\"v\":");
    json::write_u64(out, VERSION as u64);
    out.extend_from_slice(b",\"kid\":");
    json::write_str(out, kid);
    out.extend_from_slice(b",\"ingested\":");
    json::write_f64(out, ingested);
    if let Some(id) = skid {
        scratch.aad.clear();
        write_sk_aad(&mut scratch.aad, kid);
        data.encrypt_into(&nonce, id.as_bytes(), &scratch.aad, &mut scratch.ct);
        out.extend_from_slice(b",\"sk\":\"");
        write_b64(out, &scratch.ct);
        out.push(b'"');
    }
    if let Some(reason) = reason {
        out.extend_from_slice(b",\"reason\":");
        json::write_str(out, reason);
    }
    if let Some(source) = source {
        out.extend_from_slice(b",\"src\":");
        json::write_str(out, source);
    }
    out.extend_from_slice(b",\"nonce\":\"");
    write_b64(out, &nonce);
    out.extend_from_slice(b"\",\"ct\":\"");
    scratch.aad.clear();
    write_aad(&mut scratch.aad, kid, skid, reason);
    let sealer = subject.map_or(data, |(_, s)| s);
    sealer.encrypt_into(&nonce, line, &scratch.aad, &mut scratch.ct);
    write_b64(out, &scratch.ct);
    out.extend_from_slice(b"\"}");
}

/// What `envelope.seal` puts in an envelope, in its order.
pub struct Envelope<'a> {
    pub kid: &'a str,
    pub ingested: f64,       // already rounded to milliseconds
    pub sk: Option<Vec<u8>>, // the subject key id, sealed under the data key
    pub reason: Option<&'a str>,
    pub source: Option<&'a str>,
    pub nonce: [u8; 12],
    pub ct: Vec<u8>,
}

/// Seal `line` under the data key, or under the subject key when `subject` (its id and key) is
/// given; the id is then sealed under the data key with the same nonce.
#[allow(clippy::too_many_arguments)]
pub fn seal<'a>(
    data: &Sealer,
    subject: Option<(&str, &Sealer)>,
    line: &[u8],
    kid: &'a str,
    ingested: f64,
    reason: Option<&'a str>,
    source: Option<&'a str>,
    nonce: [u8; 12],
) -> Envelope<'a> {
    let skid = subject.map(|(id, _)| id);
    let sealer = subject.map_or(data, |(_, s)| s);
    let ct = sealer.encrypt(&nonce, line, &aad(kid, skid, reason));
    let sk = skid.map(|id| data.encrypt(&nonce, id.as_bytes(), &sk_aad(kid)));
    Envelope {
        kid,
        ingested: json::py_round3(ingested),
        sk,
        reason,
        source,
        nonce,
        ct,
    }
}

impl Envelope<'_> {
    pub fn nonce_b64(&self) -> String {
        STANDARD.encode(self.nonce)
    }

    pub fn sk_b64(&self) -> Option<String> {
        self.sk.as_ref().map(|sk| STANDARD.encode(sk))
    }

    pub fn ct_b64(&self) -> String {
        STANDARD.encode(&self.ct)
    }

    /// The envelope as `orjson.dumps` writes the reference's dict.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"v\":");
        json::write_u64(out, VERSION as u64);
        out.extend_from_slice(b",\"kid\":");
        json::write_str(out, self.kid);
        out.extend_from_slice(b",\"ingested\":");
        json::write_f64(out, self.ingested);
        if let Some(sk) = &self.sk {
            out.extend_from_slice(b",\"sk\":\"");
            out.extend_from_slice(STANDARD.encode(sk).as_bytes());
            out.push(b'"');
        }
        if let Some(reason) = self.reason {
            out.extend_from_slice(b",\"reason\":");
            json::write_str(out, reason);
        }
        if let Some(source) = self.source {
            out.extend_from_slice(b",\"src\":");
            json::write_str(out, source);
        }
        out.extend_from_slice(b",\"nonce\":\"");
        out.extend_from_slice(self.nonce_b64().as_bytes());
        out.extend_from_slice(b"\",\"ct\":\"");
        out.extend_from_slice(self.ct_b64().as_bytes());
        out.extend_from_slice(b"\"}");
    }
}

/// The scrubber's visitor hash: keyed blake2b-64 of `packed_ip \0 user agent`, top bit dropped.
pub fn visitor_hash(key: &[u8], packed_ip: &[u8], user_agent: &[u8]) -> Option<u64> {
    if key.is_empty() {
        // hashlib's blake2b(key=b"") is the unkeyed hash; the MAC would still add a key block.
        use blake2::digest::{Update, VariableOutput};
        let mut h = blake2::Blake2bVar::new(8).ok()?;
        h.update(packed_ip);
        h.update(b"\x00");
        h.update(user_agent);
        let mut digest = [0u8; 8];
        h.finalize_variable(&mut digest).ok()?;
        return Some(u64::from_be_bytes(digest) >> 1);
    }
    let mut mac = Blake2bMac::<U8>::new_with_salt_and_personal(key, &[], &[]).ok()?;
    mac.update(packed_ip);
    mac.update(b"\x00");
    mac.update(user_agent);
    let digest = mac.finalize().into_bytes();
    Some(u64::from_be_bytes(digest.into()) >> 1)
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// `subjects.subject_id`: a period's name for one client, keyed with the data key.
pub fn subject_id(data_secret: &[u8], packed_ip: &[u8]) -> String {
    let digest = hmac_sha256(data_secret, &[b"subject|", packed_ip]);
    URL_SAFE.encode(&digest[..9])
}

/// `IPGeneralizer` in pseudonym mode: `ip-` and 16 hex digits of HMAC-SHA256 of the packed address.
pub fn ip_pseudonym(key: &[u8], packed_ip: &[u8]) -> String {
    let digest = hmac_sha256(key, &[packed_ip]);
    let mut out = String::with_capacity(19);
    out.push_str("ip-");
    for b in &digest[..8] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}
