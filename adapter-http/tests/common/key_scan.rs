//! Looking for the signing keys' private halves where they must not be: a data dir's files, a
//! `pg_dump`. The keys are opened with the system secret (as the server does) so the scan knows
//! what to look for, in every encoding the bytes could be stored or dumped in.

use base64ct::Encoding;
use engine::jose::signing::{Keyring, SigningKeysRecord};
use engine::jose::KeyMaterial;
use engine::sealing::SystemSecrets;
use engine::store::{decode, Store, Table};
use std::sync::Arc;

/// Lower-case hex, as `pg_dump` writes `bytea`.
pub fn hex(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().flat_map(|b| format!("{b:02x}").into_bytes()).collect()
}

/// The public kids (stored in clear: the scan's positive control) and the needles: each private
/// key raw, as base64url (how the engine encodes it), as base64 (a PEM body), and the hex of
/// those; and the markers of key material in clear (PEM headers, the clear JSON form).
pub struct Needles {
    pub kids: Vec<String>,
    pub needles: Vec<(String, Vec<u8>)>,
}

pub fn private_key_needles(store: &impl Store, secrets: SystemSecrets) -> Needles {
    let keyring = Keyring::new(Arc::new(secrets));
    let (mut kids, mut needles) = (Vec::new(), Vec::new());
    for (tenant, bytes) in store.scan(Table::SigningKeys, "").unwrap() {
        for k in decode::<SigningKeysRecord>(&bytes).unwrap().keys {
            let material = keyring.open(&tenant, &k).expect("every key opens with the secret");
            let b64url = match &material {
                KeyMaterial::RsaPkcs8(b) | KeyMaterial::P256Scalar(b) | KeyMaterial::P384Scalar(b) => b.clone(),
            };
            let raw = engine::secret::b64url_decode(&b64url).unwrap();
            let std_b64 = base64ct::Base64::encode_string(&raw);
            let name = format!("{tenant} key {}", k.kid);
            for (form, bytes) in [
                ("raw", raw.clone()),
                ("base64url", b64url.clone().into_bytes()),
                ("base64 (PEM body)", std_b64.as_bytes()[..40].to_vec()),
                ("hex", hex(&raw)),
                ("hex of base64url", hex(b64url.as_bytes())),
            ] {
                needles.push((format!("{name} as {form}"), bytes));
            }
            kids.push(k.kid.clone());
        }
    }
    assert!(!kids.is_empty(), "no signing keys: the scan would prove nothing");
    for marker in [
        "PRIVATE KEY",
        "\"kind\":\"rsa_pkcs8\"",
        "\"kind\":\"p256_scalar\"",
        "\"kind\":\"p384_scalar\"",
    ] {
        needles.push((format!("marker {marker}"), marker.as_bytes().to_vec()));
        needles.push((format!("marker {marker} in hex"), hex(marker.as_bytes())));
    }
    Needles { kids, needles }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
