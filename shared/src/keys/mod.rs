//! Signing keys (KMS-held or envelope-held, RS256 or ES256), their public JWKs, and the data key
//! for secrets at rest.

pub mod algorithm;
pub mod data_key;
pub mod jwks;
pub mod local_key;
pub mod registry;
pub mod signer;
pub mod verify;

#[cfg(test)]
mod test_keys;
