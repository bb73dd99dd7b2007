//! The time of day, in the units wxauth stores and signs.

/// Clock skew tolerated on a token's `exp` (and kept on its deny-list entry).
pub const LEEWAY_SECONDS: i64 = 30;

/// Seconds since the Unix epoch: the unit of every stored time and every JWT claim.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// Milliseconds since the Unix epoch (EMF timestamps).
pub fn unix_now_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}
