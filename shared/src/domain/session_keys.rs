//! A user's WeChat session keys in one mini program, as ciphertexts: nothing here holds a session
//! key in plaintext.

/// A session key to store: its ciphertext, and until when it and the key it replaces are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSessionKey {
    pub ciphertext: Vec<u8>,
    /// The replaced key stays usable until then.
    pub previous_until: i64,
    /// The whole item expires then.
    pub expires_at: i64,
}

/// The stored ciphertexts of one user's session keys in one mini program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSessionKeys {
    pub current: Vec<u8>,
    pub current_at: i64,
    /// The key replaced by `current`, while it is still usable.
    pub previous: Option<Vec<u8>>,
}
