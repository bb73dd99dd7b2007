//! What we hand to clients: access tokens (JWT), refresh tokens (opaque, rotated),
//! authorization codes (opaque, single use), and the random secrets underneath.

pub mod access;
pub mod codes;
pub mod refresh;
pub mod secret;
