//! WeChat may call the web-authorization callback twice with one code (the second request is
//! the one the browser shows). The first callback seals the session cookie it started under a
//! key only the browser holds — derived from its binding cookie — so the second can answer the
//! same sign-in without a second WeChat exchange, and the table alone never reveals a session.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// The key of the browser whose binding cookie is `binding`.
fn key(binding: &str) -> Result<RandomizedNonceKey, Error> {
    let material = Sha256::new().chain_update(b"wxauth wechat callback replay\0").chain_update(binding).finalize();
    RandomizedNonceKey::new(&AES_256_GCM, &material).map_err(|_| Error::Internal(anyhow::anyhow!("AES key")))
}

/// `session_cookie` sealed for the browser `binding`, bound to the request `id_hash`.
pub fn seal(binding: &str, id_hash: &str, session_cookie: &str) -> Result<Vec<u8>, Error> {
    let mut sealed = session_cookie.as_bytes().to_vec();
    let nonce = key(binding)?
        .seal_in_place_append_tag(Aad::from(id_hash.as_bytes()), &mut sealed)
        .map_err(|_| Error::Internal(anyhow::anyhow!("AES-GCM sealing failed")))?;
    Ok([nonce.as_ref(), sealed.as_slice()].concat())
}

/// The session cookie [`seal`] sealed, if this browser and request sealed it.
pub fn open(binding: &str, id_hash: &str, sealed: &[u8]) -> Option<String> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut in_out = ciphertext.to_vec();
    let plain = key(binding).ok()?.open_in_place(nonce, Aad::from(id_hash.as_bytes()), &mut in_out).ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_browser_and_request_open_it() {
        let sealed = seal("browser-a", "req-1", "session-value").expect("seals");
        assert!(!sealed.windows(13).any(|w| w == b"session-value"));
        assert_eq!(open("browser-a", "req-1", &sealed).as_deref(), Some("session-value"));
        assert_eq!(open("browser-b", "req-1", &sealed), None);
        assert_eq!(open("browser-a", "req-2", &sealed), None);
        assert_eq!(open("browser-a", "req-1", &sealed[..5]), None);
    }
}
