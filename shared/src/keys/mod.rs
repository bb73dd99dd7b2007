//! Signing keys (KMS-held, ES256), their public JWKs, and the data key for secrets at rest.

pub mod data_key;
pub mod jwks;
pub mod registry;
pub mod signer;
pub mod verify;
