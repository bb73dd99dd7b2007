//! DynamoDB: one table, one module per item kind.
//!
//! # Schema
//! Keys `pk` and `sk` (strings); TTL on `expires_at` (epoch seconds). DynamoDB deletes expired
//! items late (up to days), so **every read checks `expires_at` itself**. One GSI, `gsi1`
//! (`gsi1pk`/`gsi1sk`, keys only), lists a user's token families and browser sessions for
//! "revoke everything of this user".
//!
//! Each item kind is mapped in exactly one module, its owner: the key builder (`key`, or
//! `<kind>_key` where a module owns several kinds), `to_item` and `from_item`, and the
//! operations on it. Tests and tools build keys with the same functions.
//!
//! | item | pk | sk | owner | notes |
//! |---|---|---|---|---|
//! | client | `CLIENT#<client_id>` | `CLIENT` | [`clients`] | secret only as a hash; WeChat app secret sealed (`WXE1` envelope under a KMS data key, context purpose + appid) |
//! | user | `USER#<user_id>` | `USER` | [`users`] | `openids` map appid -> openid, `unionid`; a password user's `username` and `password_hash` (written by [`usernames`]) |
//! | openid -> user | `OPENID#<appid>#<openid>` | `MAP` | [`users`] | created with the user in one transaction |
//! | unionid -> user | `UNIONID#<unionid>` | `MAP` | [`users`] | " |
//! | username -> user | `USERNAME#<username>` | `MAP` | [`usernames`] | lowercased username; created with the user in one transaction |
//! | refresh token | `RT#<sha256(token)>` | `RT` | [`refresh_tokens`] | family, client, subject, scope, `used_at` once rotated |
//! | token family | `FAMILY#<family_id>` | `FAMILY` | [`refresh_tokens`] | `revoked`; `gsi1pk = USER#<sub>`; rotated with its tokens in one transaction |
//! | WeChat session key | `WXSK#<appid>#<openid>` | `WXSK` | [`session_keys`] | current and previous key, sealed (`WXE1` envelope under a KMS data key, context purpose + appid + openid) |
//! | signing key | `SIGNKEY` | `<kid>` | [`signing_keys`] | public JWK, KMS key id, custody (an envelope key's private half wrapped by KMS), `active_from` |
//! | revoked access token | `JTI#<jti>` | `JTI` | [`revoked_tokens`] | until the token's `exp` |
//! | password failures | `PWFAIL#<username>` | `PWFAIL` | [`password_failures`] | until the window and the lock are over |
//! | pending sign-in request | `AUTHZ#<sha256(id)>` | `AUTHZ` | [`authorizations`] | 10 minutes, consumed once |
//! | authorization code | `CODE#<sha256(code)>` | `CODE` | [`authorizations`] | 60 seconds, redeemed once; records what it issued |
//! | browser session | `SESSION#<sha256(cookie)>` | `SESSION` | [`browser_sessions`] | user, `sid`, `auth_time`, method, clients; idle and absolute limits; `gsi1pk = USER#<sub>` |
//! | consent | `CONSENT#<user_id>#<client_id>` | `CONSENT` | [`consents`] | the scopes allowed (a string set, united by `ADD`), `CONSENT_TTL` after the last approval |
//! | WeChat web app | `WECHATWEB` | `APP#<appid>` | [`wechat_web_apps`] | kind (Official Account, website app), callback domain, sealed app secret, the domain-verification file |
//! | WeChat server access token | `WXTOKEN#<appid>` | `WXTOKEN` | [`server_tokens`] | sealed (`WXE1` envelope under a KMS data key), until 5 minutes before it expires |
//! | scan sign-in ticket | `SCAN#<sha256(ticket)>` | `SCAN` | [`scan_tickets`] | 5 minutes; the pending request it completes, the browser's binding hash, status, the first scanner (conditional), used once |
//! | scan code image | `SCAN#<sha256(ticket)>` | `IMAGE` | [`scan_tickets`] | WeChat's PNG for the ticket, as long as the ticket lives |
//! | device grant | `DEVICE#<sha256(device_code)>` | `DEVICE` | [`device_grants`] | RFC 8628, 10 minutes; client, scope, `device_status` (pending, then approved with the user, `auth_time`, `amr`, `sid`, `granted_scope`, or denied: conditional, once), `poll_interval`, `next_poll_at` (a poll is one conditional update), redeemed once (`redeemed_by`) |
//! | user code -> device grant | `USERCODE#<sha256(user_code)>` | `USERCODE` | [`device_grants`] | `device_hash`; created with the grant in one transaction (a user code held by a live grant cancels it) |
//! | deployment settings | `DEPLOYMENT` | `SETTINGS` | [`deployment`] | the issuer and the default audience, recorded by `wxauth-admin init --issuer`; read by the admin tool only (never a function), to refuse them as a client's audience |
//!
//! What wins a race is written with a condition or in a transaction, so two concurrent requests
//! can never both win it: creating a client, a user and its mappings, a token family, a signing
//! key, a device grant and its user code (`attribute_not_exists(pk)`); updating a client (`attribute_exists(pk)`: one deleted
//! meanwhile is not recreated); rotation, redemption, consumption, revocation of a family,
//! the password-failure lease, the session keys, a browser session's use, a consent's
//! scopes, and a device grant's polls, answer and redemption (conditions on the item's state). Written
//! without a condition, where a retry must succeed and no race can be lost: the pending sign-in
//! request, a scan ticket and its image, the authorization code and the browser session (keys are hashes of 128 or 256 random bits), the deny-list entry
//! of a revoked access token, the WeChat server access token and the deployment settings (the
//! newest wins), and the deletes
//! of a client, of a password-failure counter and (in its transaction) of a deleted user's item.
//!
//! The helpers: [`item`] (keys, attributes, typed getters), [`backend`] ([`Store`], reads that
//! honour `expires_at`, conditional writes, transactions, DynamoDB errors); [`table`] creates the
//! table, [`client_cache`] keeps clients per container.

pub mod authorizations;
pub mod backend;
pub mod browser_sessions;
pub mod client_cache;
pub mod clients;
pub mod consents;
pub mod deployment;
pub mod device_grants;
pub mod item;
pub mod password_failures;
pub mod refresh_tokens;
pub mod revoked_tokens;
pub mod scan_tickets;
pub mod server_tokens;
pub mod session_keys;
pub mod signing_keys;
pub mod table;
pub mod usernames;
pub mod users;
pub mod wechat_web_apps;

pub use backend::{Store, Written};
pub use item::Key;
