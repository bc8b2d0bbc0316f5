//! Signing keys (ours) and verification keys (ours and clients'), with JWK conversion.
//! The one place that knows which crypto backend does which algorithm.

use super::JoseError;
use crate::secret::{b64url, b64url_decode};
use aws_lc_rs::signature::{self as aws_sig, KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use jose_jwk::jose_jwa::{Algorithm, Signing};
use jose_jwk::{Class, Ec, EcCurves, Jwk, Key, Parameters, Rsa};
use p256::ecdsa::signature::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use spec::SigningAlg;

/// Private key material as stored: RSA as PKCS#8 DER, P-256 and P-384 as the raw scalar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "b64", rename_all = "snake_case")]
pub enum KeyMaterial {
    /// RS256 key, PKCS#8 DER, base64url.
    RsaPkcs8(String),
    /// ES384 key, 48-byte scalar, base64url.
    P384Scalar(String),
    /// ES256 key, 32-byte scalar, base64url.
    P256Scalar(String),
}

impl KeyMaterial {
    /// Wraps PKCS#8 DER bytes of an RSA key.
    pub fn rsa_pkcs8(der: &[u8]) -> Self {
        KeyMaterial::RsaPkcs8(b64url(der))
    }
    /// Wraps a P-384 scalar.
    pub fn p384_scalar(bytes: &[u8]) -> Self {
        KeyMaterial::P384Scalar(b64url(bytes))
    }
    /// Wraps a P-256 scalar.
    pub fn p256_scalar(bytes: &[u8]) -> Self {
        KeyMaterial::P256Scalar(b64url(bytes))
    }
}

enum Private {
    Rsa(RsaKeyPair),
    P384(p384::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// One of our signing keys, ready to sign.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    private: Private,
    public: VerifyKey,
}

impl SigningKey {
    /// Parses stored material; the kid is the RFC 7638 thumbprint of the public key.
    pub fn from_material(m: &KeyMaterial) -> Result<Self, JoseError> {
        let (alg, private, public) = match m {
            KeyMaterial::RsaPkcs8(b) => {
                let der = b64url_decode(b).ok_or(JoseError::BadKey)?;
                let pair = RsaKeyPair::from_pkcs8(&der).map_err(|_| JoseError::BadKey)?;
                let c: RsaPublicKeyComponents<Vec<u8>> = pair.public_key().into();
                (SigningAlg::RS256, Private::Rsa(pair), VerifyKey::Rsa { n: c.n, e: c.e })
            }
            KeyMaterial::P384Scalar(b) => {
                let bytes = b64url_decode(b).ok_or(JoseError::BadKey)?;
                let sk = p384::ecdsa::SigningKey::from_slice(&bytes).map_err(|_| JoseError::BadKey)?;
                let vk = *sk.verifying_key();
                (SigningAlg::ES384, Private::P384(sk), VerifyKey::P384(vk))
            }
            KeyMaterial::P256Scalar(b) => {
                let bytes = b64url_decode(b).ok_or(JoseError::BadKey)?;
                let sk = p256::ecdsa::SigningKey::from_slice(&bytes).map_err(|_| JoseError::BadKey)?;
                let vk = *sk.verifying_key();
                (SigningAlg::ES256, Private::P256(sk), VerifyKey::P256(vk))
            }
        };
        Ok(SigningKey {
            kid: public.thumbprint(),
            alg,
            private,
            public,
        })
    }

    /// The key id published in the JWKS and written into headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }
    /// The algorithm this key signs with.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }
    /// The public half.
    pub fn public(&self) -> &VerifyKey {
        &self.public
    }

    /// Signs `msg` (PKCS#1 v1.5 and RFC 6979 ECDSA: deterministic).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match &self.private {
            Private::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                // aws-lc-rs ignores the rng argument for PKCS#1 v1.5 signatures.
                pair.sign(
                    &aws_sig::RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    msg,
                    &mut sig,
                )
                .expect("RSA signing with a valid key does not fail");
                sig
            }
            Private::P384(sk) => {
                let sig: p384::ecdsa::Signature = sk.sign(msg);
                sig.to_bytes().to_vec()
            }
            Private::P256(sk) => {
                let sig: p256::ecdsa::Signature = sk.sign(msg);
                sig.to_bytes().to_vec()
            }
        }
    }

    /// The public JWK (use=sig, alg, kid) for the JWKS.
    pub fn jwk(&self) -> Jwk {
        let mut jwk = self.public.jwk();
        jwk.prm = Parameters {
            alg: Some(Algorithm::Signing(match self.alg {
                SigningAlg::RS256 => Signing::Rs256,
                SigningAlg::ES256 => Signing::Es256,
                SigningAlg::ES384 => Signing::Es384,
            })),
            kid: Some(self.kid.clone()),
            cls: Some(Class::Signing),
            ..Default::default()
        };
        jwk
    }
}

/// A public key that verifies signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyKey {
    /// RSA modulus and exponent (big-endian, no leading zeros).
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// P-256 point.
    P256(p256::ecdsa::VerifyingKey),
    /// P-384 point.
    P384(p384::ecdsa::VerifyingKey),
}

impl VerifyKey {
    /// Reads a public key from a JWK; `None` for key types we do not verify with.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        match &jwk.key {
            Key::Rsa(r) => {
                let strip = |b: &[u8]| b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>();
                let (n, e) = (strip(&r.n), strip(&r.e));
                (n.len() >= 256 && !e.is_empty()).then_some(VerifyKey::Rsa { n, e })
            }
            Key::Ec(ec) => {
                let mut sec1 = vec![4u8];
                sec1.extend_from_slice(&ec.x);
                sec1.extend_from_slice(&ec.y);
                match ec.crv {
                    EcCurves::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                        .ok()
                        .map(VerifyKey::P256),
                    EcCurves::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                        .ok()
                        .map(VerifyKey::P384),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Reads a public key from a JWK as JSON; `None` for what [`VerifyKey::from_jwk`] refuses.
    pub fn from_json(jwk: &serde_json::Value) -> Option<Self> {
        // Drop `alg` and `key_ops` before typed parsing: jose-jwk rejects values it does not know.
        let mut k = jwk.clone();
        if let Some(o) = k.as_object_mut() {
            o.remove("alg");
            o.remove("key_ops");
        }
        let jwk: Jwk = serde_json::from_value(k).ok()?;
        VerifyKey::from_jwk(&jwk)
    }

    /// Whether this key can verify `alg`.
    pub fn fits(&self, alg: SigningAlg) -> bool {
        matches!(
            (self, alg),
            (VerifyKey::Rsa { .. }, SigningAlg::RS256)
                | (VerifyKey::P256(_), SigningAlg::ES256)
                | (VerifyKey::P384(_), SigningAlg::ES384)
        )
    }

    /// Verifies `sig` over `msg` under `alg`.
    pub fn verify(&self, alg: SigningAlg, msg: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        // JOSE-key-confusion-rejected
        if !self.fits(alg) {
            return Err(JoseError::BadAlgorithm);
        }
        let ok = match self {
            VerifyKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&aws_sig::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok(),
            VerifyKey::P256(vk) => p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok()),
            VerifyKey::P384(vk) => p384::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok()),
        };
        ok.then_some(()).ok_or(JoseError::BadSignature)
    }

    fn ec_xy(sec1: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let coords = &sec1[1..];
        let half = coords.len() / 2;
        (coords[..half].to_vec(), coords[half..].to_vec())
    }

    /// The bare public JWK (no parameters).
    pub fn jwk(&self) -> Jwk {
        let key = match self {
            VerifyKey::Rsa { n, e } => Key::Rsa(Rsa {
                n: n.clone().into(),
                e: e.clone().into(),
                prv: None,
            }),
            VerifyKey::P256(vk) => {
                let (x, y) = Self::ec_xy(&vk.to_sec1_bytes());
                Key::Ec(Ec {
                    crv: EcCurves::P256,
                    x: x.into(),
                    y: y.into(),
                    d: None,
                })
            }
            VerifyKey::P384(vk) => {
                let (x, y) = Self::ec_xy(&vk.to_sec1_bytes());
                Key::Ec(Ec {
                    crv: EcCurves::P384,
                    x: x.into(),
                    y: y.into(),
                    d: None,
                })
            }
        };
        Jwk {
            key,
            prm: Parameters::default(),
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            VerifyKey::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64url(e), b64url(n)),
            VerifyKey::P256(vk) => {
                let (x, y) = Self::ec_xy(&vk.to_sec1_bytes());
                format!(
                    r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64url(&x),
                    b64url(&y)
                )
            }
            VerifyKey::P384(vk) => {
                let (x, y) = Self::ec_xy(&vk.to_sec1_bytes());
                format!(
                    r#"{{"crv":"P-384","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64url(&x),
                    b64url(&y)
                )
            }
        };
        b64url(&Sha256::digest(canonical.as_bytes()))
    }
}

/// Parses a JWKS leniently: keys that do not parse or that we cannot verify with are skipped
/// (one exotic key must not make a whole client JWKS unusable). Returns (kid, key) pairs.
pub fn parse_jwks(jwks: &serde_json::Value) -> Vec<(Option<String>, VerifyKey)> {
    let Some(keys) = jwks.get("keys").and_then(|k| k.as_array()) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|k| k.get("use").and_then(|u| u.as_str()).is_none_or(|u| u == "sig"))
        .filter_map(|k| {
            let kid = k.get("kid").and_then(|v| v.as_str()).map(str::to_owned);
            VerifyKey::from_json(k).map(|vk| (kid, vk))
        })
        .collect()
}
