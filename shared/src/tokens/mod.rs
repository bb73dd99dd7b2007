//! What we hand to clients: access tokens (JWT), refresh tokens (opaque, rotated), and the
//! random secrets underneath.

pub mod access;
pub mod refresh;
pub mod secret;
