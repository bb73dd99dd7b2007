//! What we hand to clients: access tokens and ID tokens (JWS, [`jws`]), refresh tokens (opaque,
//! rotated), authorization codes (opaque, single use), and the random secrets underneath.

pub mod access;
pub mod codes;
pub mod id;
pub mod jws;
pub mod logout;
pub mod refresh;
