//! # mock-wechat
//!
//! A stand-in for the WeChat server API, for local development and
//! integration tests. It speaks the real API: same paths, parameters, field
//! names, error codes and messages, and — like WeChat — serves every JSON
//! answer of its WeChat routes with HTTP 200 and `Content-Type: text/plain`.
//! Error answers are `{"errcode": N, "errmsg": "<WeChat's text>, rid: <hex>"}`.
//! Its behaviour is driven by the *names* of the codes a test sends (for web
//! sign-in, of the user typed into the sign-in page), by an optional
//! fixtures file, and by a few control endpoints under `/mock/`. The
//! sign-in pages answer HTML (`text/html; charset=utf-8`) and redirects,
//! and `getwxacodeunlimit` its image (`image/png`).
//! Any other path answers a plain 404.
//!
//! ## Running
//!
//! `cargo run -p mock-wechat` binds `127.0.0.1:$MOCK_WECHAT_PORT` (default
//! 3100; `0` picks a free port) and prints exactly one line to stdout,
//! `mock-wechat listening on http://127.0.0.1:<port>`. `MOCK_WECHAT_FIXTURES`
//! may name a JSON fixtures file (see below). All state is in memory; every
//! key includes the appid (or the code's name), so parallel tests using
//! distinct appids or names never interfere.
//!
//! ## Files: one per WeChat API
//!
//! | file | what it holds |
//! |---|---|
//! | [`jscode2session`] | `GET /sns/jscode2session`: login codes, fixture codes, session keys |
//! | [`stable_token`] | `POST /cgi-bin/stable_token`: the server's access token, `force_refresh` |
//! | [`phone`] | `POST /wxa/business/getuserphonenumber`: phone codes |
//! | [`checksession`] | `GET /wxa/checksession`: the session key's signature |
//! | [`web_authorize`] | `GET`/`POST /connect/oauth2/authorize` and `/connect/qrconnect`: the web sign-in pages ("approve as"), their checks and error pages, the `user` conventions, the `mock_wechat_user` cookie |
//! | [`sns_oauth2`] | `GET /sns/oauth2/access_token` and `/sns/oauth2/refresh_token`: the pages' codes, the user's access and refresh tokens |
//! | [`sns_userinfo`] | `GET /sns/userinfo` and `/sns/auth`: what a user access token can do |
//! | [`wxacode`] | `POST /wxa/getwxacodeunlimit`: mini-program codes as PNGs of QR codes of `page?scene=…`, WeChat's checks (scene, page, the app's published pages), the codes made, the failures `POST /mock/wxacode-errors` asks for |
//! | [`tokens`] | access tokens, shared by every API that takes `access_token` (41001, 40001, 42001) |
//! | [`errors`] | [`errors::WxError`]: WeChat's error codes, named once, and their `errmsg` texts |
//! | [`state`] | [`state::Mock`], the one state behind one mutex: apps (secret, web kind and domain, published pages), one-time codes, call counters, `rid`s |
//! | [`control`] | the control routes under `/mock/` (`application/json`) |
//! | [`fixtures`] | the fixtures file (`MOCK_WECHAT_FIXTURES`) and the code and app shapes `POST /mock/codes` and `POST /mock/apps` share |
//! | [`routes`] | the router assembled from the files above, and WeChat's way of answering |
//!
//! Each API's file starts with WeChat's URL, method, parameters and
//! documented errors and the mock's conventions for it, then holds its
//! request type, its rules (an `impl Mock` block), its axum handler and its
//! unit tests.
//!
//! ## Code conventions at a glance
//!
//! | code | API | answer |
//! |---|---|---|
//! | `ok-<name>` | jscode2session | once: openid `openid-<base>`, session key `base64(sha256("mock-wechat session key:" + name)[..16])`; again 40163 |
//! | `ok-<name>.u` | jscode2session | the same plus unionid `unionid-<base>` |
//! | `ok-<base>~<nonce>` | jscode2session | the same user (`openid-<base>`) with another session key |
//! | `busy-<name>[.u]` | jscode2session | -1 `system error` once, then as `ok-<name>[.u]` |
//! | `err-<errcode>` | jscode2session, getuserphonenumber | that error, every time (`err--1` is -1) |
//! | `phone-<digits>` | getuserphonenumber | that number (country code 86), once |
//! | `busy-phone-<digits>` | getuserphonenumber | -1 `system error` once, then as `phone-<digits>` |
//! | a fixture code | jscode2session | its session or error (fixtures file or `POST /mock/codes`) |
//! | anything else | both | 40029 `invalid code` |
//!
//! A code works once *per appid* and expires 5 minutes after the mock first
//! saw it (fixture codes: after registration). Apps registered with a secret
//! (fixtures file or `POST /mock/apps`) refuse any other (40125); other
//! appids take any secret.
//!
//! Web sign-in has no code names: the sign-in page issues a random code for
//! the `user` typed into its form (or remembered by the `mock_wechat_user`
//! cookie, for `snsapi_base`), and the code means that user:
//!
//! | `user` | `/sns/oauth2/access_token` answers |
//! |---|---|
//! | `<name>` | openid `openid-<base>-<appid>` |
//! | `<name>.u` | the same, plus unionid `unionid-<base>` (as `ok-<name>.u` above) under `snsapi_userinfo` and `snsapi_login`, never `snsapi_base` |
//! | `<name>.snap` | snapshot user: openid `openid-snap-<base>-<appid>`, `"is_snapshotuser": 1` |
//! | `busy-<name>[.u\|.snap]` | -1 `system error` once, then as `<name>[.u\|.snap]` |
//! | `err-<errcode>` | that error, every time (`err--1` is -1) |
//!
//! (`<base>`: `<name>` up to any `~`.) Web codes work once, for the appid
//! that asked, and expire 5 minutes after issue (42003 `code expired`).
//! Web sign-in needs a web app: `POST /mock/apps` (or the fixtures file)
//! with `kind` `official-account` or `website` and a `domain`, the host
//! every `redirect_uri` must have.
//!
//! Mini-program codes (`POST /wxa/getwxacodeunlimit`, [`wxacode`]) are PNGs
//! of QR codes whose text is `{page}?scene={scene}`. With `check_path` and
//! `env_version` `release` (both the defaults), `page` must be one of the
//! app's published pages: its `pages` (fixtures file or `POST /mock/apps`),
//! by default `pages/index/index` (the main page, for a code without `page`)
//! and `pages/scan/scan`; else 41030 `invalid page`.
//!
//! ## Fixtures file (`MOCK_WECHAT_FIXTURES`)
//!
//! ```text
//! {"codes": {"<code>": {"appid", "openid", "session_key", "unionid"?} | {"errcode": N}},
//!  "apps": {"<appid>": "<secret>" | {"secret", "kind"?, "domain"?, "pages"?}}}
//! ```
//!
//! Codes expire 5 minutes after the mock loaded the file.
//!
//! ## Control routes (`/mock/`, [`control`])
//!
//! | route | does |
//! |---|---|
//! | `POST /mock/apps` `{"appid", "secret", "kind"?, "domain"?, "pages"?}` | registers (or replaces) an app |
//! | `POST /mock/codes` `{"code", ...}` | adds a fixture login code |
//! | `POST /mock/access-tokens/expire`, `/invalidate` `{"appid"}` | makes the app's token expired (42001) or invalid (40001) |
//! | `GET /mock/calls?appid=` | calls received per API (`getwxacodeunlimit` included) |
//! | `GET /mock/wxacodes?appid=` | `[{"scene", "page", "env_version", "check_path", "width"}]`: the codes made, newest first |
//! | `POST /mock/wxacode-errors` `{"appid", "errcode", "times"}` | the app's next `times` `getwxacodeunlimit` calls answer `errcode` (45009, 41030, 40001, -1, ...) |
//! | `GET /mock/health` | `ok` |
//!
//! ## Adding a WeChat API
//!
//! Each API is a file ([`web_authorize`], [`sns_oauth2`], [`sns_userinfo`]:
//! one concept each, a file holding an API's closely tied pair of routes;
//! [`wxacode`], the latest, is a small example of the whole pattern). A
//! new file brings its `PATH` and `handle`, routed in [`routes::router`];
//! the state only it reads as a type of its own, held in a field of
//! [`state::Mock`]; its call counter in [`state::Calls`] and [`state::Api`];
//! its error numbers in [`errors::WxError`]; a caller's `access_token`
//! resolved by [`state::Mock::resolve_token`] (the server's) or
//! [`state::Mock::resolve_user_token`] (a signed-in user's); and its rows in
//! the tables above.

pub mod checksession;
pub mod control;
pub mod errors;
pub mod fixtures;
pub mod jscode2session;
pub mod phone;
pub mod routes;
pub mod sns_oauth2;
pub mod sns_userinfo;
pub mod stable_token;
pub mod state;
pub mod tokens;
pub mod web_authorize;
pub mod wxacode;

#[cfg(test)]
mod testing;
