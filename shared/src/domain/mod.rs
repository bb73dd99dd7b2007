//! The things wxauth deals in, apart from how they are stored or carried: no DynamoDB, no HTTP,
//! no I/O. The store maps them to items; the rules decide with them.

pub mod access_claims;
