//! Password hashing: argon2id (RFC 9106), stored as PHC strings.
//!
//! # Parameters
//! `m = 19456 KiB (19 MiB), t = 2, p = 1`, argon2id v19: OWASP's Password Storage Cheat Sheet
//! recommendation ("a minimum configuration of 19 MiB of memory, an iteration count of 2, and
//! 1 degree of parallelism"). Why this row of OWASP's table:
//! - Memory: a 128–256 MB Lambda holds the runtime, the SDK clients and the binary in about
//!   30 MB; 19 MiB per verification leaves ample room, where OWASP's 46 MiB row would crowd a
//!   128 MB function. A container serves one request at a time, so one verification's memory
//!   is all it needs.
//! - Parallelism 1: Lambda gives CPU in proportion to memory (one whole vCPU only at 1769 MB),
//!   so at 128–256 MB there is less than one core to spread lanes over.
//! - Time: 21–27 ms per verification on one core of this 2-core AMD EPYC machine (`cargo run
//!   --release -p wxauth --example argon2_cost`; the release profile's `opt-level = "s"`
//!   measured no slower than 3 here). Lambda's CPU share at 128 MB is about 128/1769 of a vCPU,
//!   so some 0.3 s there, 0.15 s at 256 MB: acceptable for a sign-in, costly for an attacker
//!   with a stolen table.
//!
//! The parameters travel in each PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`),
//! so hashes made under other parameters still verify after these change.
//!
//! # Rules
//! - Verification is constant-time in the comparison (argon2's own) and costs the same whether
//!   or not the user exists: an unknown username [`burn_verification`]s against a dummy hash
//!   made once with these parameters and kept in the binary (built at run time, the first
//!   unknown username per container would pay a hash and a verification, and stand out).
//! - It is CPU-bound for tens of milliseconds: async callers use [`verify_password_blocking`],
//!   which runs it on the blocking pool, at most one per core at a time (so a burst of sign-ins
//!   on the local server cannot take 19 MiB times the blocking pool's 512 threads).
//! - Verification memory is reused: a pool of at most one 19 MiB block array per permit. Freed
//!   blocks of that size stay in the allocator's arena of the thread that freed them (glibc
//!   raises its mmap threshold to the largest block freed), so a fresh array per verification
//!   left one such array per blocking-pool thread and grew the local server's RSS to 240–354 MB
//!   over a soak of sign-ins.
//! - Passwords longer than [`MAX_PASSWORD_BYTES`] are never hashed, so they never verify
//!   either: refusing them early costs an attacker's megabyte inputs nothing and reveals
//!   nothing (known and unknown users alike).

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19_456;
/// Passes over the memory.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;
/// The shortest password [`check_policy`] accepts, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password hashed or verified, in bytes (UTF-8).
pub const MAX_PASSWORD_BYTES: usize = 256;

/// An argon2id hash as a PHC string, the form it is stored in.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A hash read back from storage. Not checked here: a malformed one never verifies.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)") // offline-crackable: never in a log line
    }
}

/// The hasher with this deployment's parameters.
fn argon2() -> Argon2<'static> {
    // The constants are within argon2's bounds (a unit test builds them).
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` under a fresh random salt (16 bytes from the OS).
pub fn hash_password(password: &str) -> anyhow::Result<PasswordHash> {
    if password.len() > MAX_PASSWORD_BYTES {
        anyhow::bail!("password longer than {MAX_PASSWORD_BYTES} bytes");
    }
    let hash: phc::PasswordHash =
        argon2().hash_password(password.as_bytes()).map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    Ok(PasswordHash(hash.to_string()))
}

/// Whether `password` is the one `stored` was made from. The comparison is constant-time; the
/// parameters are the stored hash's own.
pub fn verify_password(password: &str, stored: &PasswordHash) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let parsed = match phc::PasswordHash::new(&stored.0) {
        Ok(parsed) => parsed,
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash is malformed");
            return false;
        }
    };
    match verify_with_pooled_memory(password.as_bytes(), &parsed) {
        Ok(matches) => matches,
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash cannot be verified");
            false
        }
    }
}

/// What argon2's own verifier does (the stored hash's algorithm, version and parameters, a
/// constant-time comparison), in memory from [`MEMORY_POOL`].
fn verify_with_pooled_memory(password: &[u8], stored: &phc::PasswordHash) -> anyhow::Result<bool> {
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("argon2: {e}");
    let algorithm = Algorithm::try_from(stored.algorithm.as_str()).map_err(|e| err(&e))?;
    let version = stored.version.map(Version::try_from).transpose().map_err(|e| err(&e))?.unwrap_or_default();
    let params = Params::try_from(stored).map_err(|e| err(&e))?;
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else { anyhow::bail!("no salt or hash") };
    let mut computed = vec![0u8; expected.len()];
    let hasher = Argon2::new(algorithm, version, params.clone());
    let mut memory = MEMORY_POOL.take(params.block_count());
    let hashed = hasher.hash_password_into_with_memory(password, salt, &mut computed, &mut memory[..]);
    // Wiped, as argon2's own allocation is on drop: the blocks hold state derived from the password.
    memory.fill(Block::default());
    MEMORY_POOL.give_back(memory, max_verifications());
    hashed.map_err(|e| err(&e))?;
    Ok(bool::from(computed.ct_eq(expected.as_bytes())))
}

/// Block arrays of finished verifications under this deployment's parameters, for the next
/// ones. Their contents are overwritten before use: argon2 fills every block.
struct MemoryPool(Mutex<Vec<Vec<Block>>>);

static MEMORY_POOL: MemoryPool = MemoryPool(Mutex::new(Vec::new()));

/// [`MEMORY_KIB`] in argon2's 1 KiB blocks.
const POOLED_BLOCKS: usize = MEMORY_KIB as usize;

impl MemoryPool {
    fn take(&self, blocks: usize) -> Vec<Block> {
        let pooled = if blocks == POOLED_BLOCKS { self.0.lock().ok().and_then(|mut pool| pool.pop()) } else { None };
        // A hash made under other parameters gets memory of its own size, not kept.
        pooled.unwrap_or_else(|| vec![Block::default(); blocks])
    }

    /// Keeps `memory` for the next verification, up to `keep` arrays.
    fn give_back(&self, memory: Vec<Block>, keep: usize) {
        if memory.len() != POOLED_BLOCKS {
            return;
        }
        if let Ok(mut pool) = self.0.lock()
            && pool.len() < keep
        {
            pool.push(memory);
        }
    }
}

/// Does the same work as [`verify_password`] against [`DUMMY_HASH`], so an unknown username
/// costs what a known one does.
pub fn burn_verification(password: &str) {
    let _ = verify_password(password, &PasswordHash::from_stored(DUMMY_HASH.to_string()));
}

/// The hash of a random password nobody knows (generated once, then discarded), under exactly
/// [`MEMORY_KIB`], [`ITERATIONS`] and [`PARALLELISM`]: a unit test fails when those change and
/// this does not.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$jmU5QiDjpzC/aSu9F1enXg$azfO3NWqcT+DH52qrtoXeMoHQ+yBgoU3fsoK3Gp5ahc";

/// [`verify_password`] (or, with no stored hash, [`burn_verification`] and `false`) on the
/// blocking pool, at most one per core at a time.
pub async fn verify_password_blocking(password: String, stored: Option<PasswordHash>) -> bool {
    // Never closed, so `acquire` cannot fail; the permit moves into the task, so a cancelled
    // request still holds it until its verification is over.
    let permit = verifications().acquire().await.ok();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match &stored {
            Some(stored) => verify_password(&password, stored),
            None => {
                burn_verification(&password);
                false
            }
        }
    });
    match task.await {
        Ok(matches) => matches,
        Err(e) => {
            tracing::error!(error = %e, "password verification task failed");
            false
        }
    }
}

/// Bounds concurrent verifications to the cores there are: more gains no throughput, only
/// memory.
fn verifications() -> &'static tokio::sync::Semaphore {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| tokio::sync::Semaphore::new(max_verifications()))
}

fn max_verifications() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Minimal policy for admin-set passwords: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes, not all whitespace. The error is a sentence for the operator.
pub fn check_policy(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err("the password must be at least 8 characters long");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err("the password must be at most 256 bytes long");
    }
    if password.chars().all(char::is_whitespace) {
        return Err("the password must not be all whitespace");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_within_argon2s_bounds() {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid parameters");
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (19_456, 2, 1));
        assert_eq!(params.block_count(), POOLED_BLOCKS, "the pool keeps arrays of exactly this size");
    }

    #[test]
    fn a_hashed_password_verifies() {
        let hash = hash_password("correct horse battery staple").expect("hash");
        assert!(verify_password("correct horse battery staple", &hash));
    }

    #[test]
    fn verification_memory_is_reused_not_allocated_anew() {
        let pool = MemoryPool(Mutex::new(Vec::new()));
        let first = pool.take(POOLED_BLOCKS);
        let address = first.as_ptr();
        pool.give_back(first, 1);
        let again = pool.take(POOLED_BLOCKS);
        assert_eq!(again.as_ptr(), address, "the same 19 MiB, not a fresh allocation");
        let other = pool.take(POOLED_BLOCKS);
        pool.give_back(again, 1);
        pool.give_back(other, 1);
        assert_eq!(pool.0.lock().expect("pool").len(), 1, "at most `keep` arrays are kept");
        pool.give_back(vec![Block::default(); 8], 2);
        assert_eq!(pool.0.lock().expect("pool").len(), 1, "memory of other parameters is not kept");
    }

    #[test]
    fn a_hash_made_under_other_parameters_still_verifies() {
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8_192, 1, 1, None).expect("params"));
        let hash = PasswordHash(other.hash_password(b"old parameters").expect("hash").to_string());
        assert!(verify_password("old parameters", &hash));
        assert!(!verify_password("other", &hash));
    }

    #[test]
    fn a_wrong_password_does_not_verify() {
        let hash = hash_password("correct horse battery staple").expect("hash");
        assert!(!verify_password("correct horse battery stapler", &hash));
        assert!(!verify_password("", &hash));
    }

    #[test]
    fn the_phc_string_names_argon2id_and_the_owasp_parameters() {
        let hash = hash_password("correct horse battery staple").expect("hash");
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.as_str());
    }

    #[test]
    fn each_hash_has_its_own_salt() {
        let a = hash_password("same password").expect("hash");
        let b = hash_password("same password").expect("hash");
        assert_ne!(a, b);
        assert!(verify_password("same password", &a) && verify_password("same password", &b));
    }

    #[test]
    fn a_stored_hash_round_trips_through_its_string() {
        let hash = hash_password("correct horse battery staple").expect("hash");
        let stored = PasswordHash::from_stored(hash.as_str().to_string());
        assert!(verify_password("correct horse battery staple", &stored));
    }

    #[test]
    fn a_malformed_stored_hash_never_verifies() {
        assert!(!verify_password("anything", &PasswordHash::from_stored("not a phc string".into())));
        assert!(!verify_password("", &PasswordHash::from_stored(String::new())));
    }

    #[test]
    fn an_overlong_password_is_neither_hashed_nor_verified() {
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(hash_password(&long).is_err());
        let at_limit = "x".repeat(MAX_PASSWORD_BYTES);
        let hash = hash_password(&at_limit).expect("hash at the limit");
        assert!(verify_password(&at_limit, &hash));
        assert!(!verify_password(&long, &hash));
    }

    #[test]
    fn the_dummy_hash_has_todays_parameters_and_parses() {
        let expected = format!("$argon2id$v=19$m={MEMORY_KIB},t={ITERATIONS},p={PARALLELISM}$");
        assert!(DUMMY_HASH.starts_with(&expected), "regenerate DUMMY_HASH with the new parameters");
        let parsed = phc::PasswordHash::new(DUMMY_HASH).expect("a PHC string");
        assert_eq!(parsed.salt.map(|salt| salt.len()), Some(16));
        assert_eq!(parsed.hash.map(|hash| hash.len()), Some(32));
        assert!(!verify_password("some password", &PasswordHash::from_stored(DUMMY_HASH.to_string())));
    }

    #[test]
    fn the_debug_form_hides_the_hash() {
        let hash = hash_password("correct horse battery staple").expect("hash");
        assert_eq!(format!("{hash:?}"), "PasswordHash(..)");
    }

    #[tokio::test]
    async fn blocking_verification_verifies_or_burns() {
        let hash = hash_password("correct horse battery staple").expect("hash");
        assert!(verify_password_blocking("correct horse battery staple".into(), Some(hash.clone())).await);
        assert!(!verify_password_blocking("wrong".into(), Some(hash)).await);
        assert!(!verify_password_blocking("correct horse battery staple".into(), None).await);
    }

    #[test]
    fn the_policy_wants_eight_characters_at_most_256_bytes_and_not_only_whitespace() {
        assert!(check_policy("12345678").is_ok());
        assert!(check_policy("pässwörd").is_ok(), "characters, not bytes");
        assert!(check_policy("1234567").is_err());
        assert!(check_policy("ääääääa").is_err(), "7 characters in 14 bytes");
        assert!(check_policy("").is_err());
        assert!(check_policy("        ").is_err());
        assert!(check_policy(" \t\n \u{3000}   ").is_err());
        assert!(check_policy("  pass word  ").is_ok());
        assert!(check_policy(&"x".repeat(256)).is_ok());
        assert!(check_policy(&"x".repeat(257)).is_err());
        assert!(check_policy(&"é".repeat(129)).is_err(), "129 characters in 258 bytes");
    }
}
