//! A user's WeChat session keys in one mini program, as ciphertexts: nothing here holds a session
//! key in plaintext.

/// The stored ciphertexts of one user's session keys in one mini program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSessionKeys {
    pub current: Vec<u8>,
    pub current_at: i64,
    /// The key replaced by `current`, while it is still usable.
    pub previous: Option<Vec<u8>>,
}
