//! DynamoDB: one table, one module per item kind.
//!
//! # Schema
//! Keys `pk` and `sk` (strings); TTL on `expires_at` (epoch seconds). DynamoDB deletes expired
//! items late (up to days), so **every read checks `expires_at` itself**. One GSI, `gsi1`
//! (`gsi1pk`/`gsi1sk`), lists a user's token families for "revoke everything of this user".
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | client | `CLIENT#<client_id>` | `CLIENT` | secret only as a hash; WeChat app secret KMS-encrypted |
//! | user | `USER#<user_id>` | `USER` | `openids` map appid -> openid, `unionid` |
//! | openid -> user | `OPENID#<appid>#<openid>` | `MAP` | created with the user in one transaction |
//! | unionid -> user | `UNIONID#<unionid>` | `MAP` | " |
//! | refresh token | `RT#<sha256(token)>` | `RT` | family, client, subject, scope, `used_at` once rotated |
//! | token family | `FAMILY#<family_id>` | `FAMILY` | `revoked`; `gsi1pk = USER#<sub>` |
//! | WeChat session key | `WXSK#<appid>#<openid>` | `WXSK` | current and previous key, KMS-encrypted |
//! | signing key | `SIGNKEY` | `<kid>` | public JWK, KMS key id, `active_from` |
//! | revoked access token | `JTI#<jti>` | `JTI` | until the token's `exp` |
//! | username -> user | `USERNAME#<username>` | `MAP` | lowercased username; the argon2id hash is the user's `password_hash` |
//! | password failures | `PWFAIL#<username>` | `PWFAIL` | until the window and the lock are over |
//! | pending sign-in request | `AUTHZ#<sha256(id)>` | `AUTHZ` | 10 minutes, consumed once |
//! | authorization code | `CODE#<sha256(code)>` | `CODE` | 60 seconds, redeemed once; records what it issued |
//! | WeChat server access token | `WXTOKEN#<appid>` | `WXTOKEN` | KMS-encrypted, until 5 minutes before it expires |
//!
//! Items are written with conditions (`attribute_not_exists(pk)`) or in transactions, so two
//! concurrent requests can never both win a race (first login, rotation, single use).

pub mod authorizations;
pub mod backend;
pub mod client_cache;
pub mod clients;
pub mod item;
pub mod password_failures;
pub mod passwords;
pub mod refresh_tokens;
pub mod revoked_tokens;
pub mod server_tokens;
pub mod session_keys;
pub mod signing_keys;
pub mod table;
pub mod users;

pub use backend::{Store, Written};
pub use item::Key;
