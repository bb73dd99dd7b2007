//! `demo-web`'s back-channel logout endpoint on the local server (API.md's local stack): it
//! checks every logout token as a relying party must (Back-Channel Logout 1.0 §2.6) and lists
//! what it received, newest first, at `GET /demo/backchannel-logout`. Local only, in memory.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::{Value, json};
use wxauth::App;
use wxauth::tokens::logout::{BACKCHANNEL_LOGOUT_EVENT, TYP};

/// How far a logout token's `iat` may lie from now (it is fresh from every attempt).
const IAT_WINDOW_SECONDS: i64 = 300;

struct Received {
    logout_token: String,
    claims: Value,
    valid: bool,
}

static RECEIVED: Mutex<Vec<Received>> = Mutex::new(Vec::new());

/// `POST`: a logout token as `application/x-www-form-urlencoded`; 200 when it is valid, else
/// 400 (§2.8). `GET`: what came, newest first.
pub async fn serve(app: &App, method: &http::Method, body: &[u8]) -> Response {
    if method == http::Method::GET {
        let list: Vec<Value> = RECEIVED
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .map(|r| json!({"logout_token": r.logout_token, "claims": r.claims, "valid": r.valid}))
            .collect();
        return (StatusCode::OK, [(http::header::CONTENT_TYPE, "application/json")], Value::from(list).to_string())
            .into_response();
    }
    if method != http::Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, [(http::header::ALLOW, "GET, POST")]).into_response();
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let Some(token) = form.into_iter().find(|(k, _)| k == "logout_token").map(|(_, v)| v) else {
        return (StatusCode::BAD_REQUEST, "no logout_token").into_response();
    };
    let checked = check(app, &token).await;
    let mut received = RECEIVED.lock().expect("lock");
    let replayed = |claims: &Value| {
        let seen: HashSet<&Value> = received.iter().filter(|r| r.valid).map(|r| &r.claims["jti"]).collect();
        seen.contains(&claims["jti"])
    };
    let (claims, valid) = match checked {
        Some(claims) => {
            let fresh = !replayed(&claims);
            (claims, fresh)
        }
        None => (Value::Null, false),
    };
    received.push(Received { logout_token: token, claims, valid });
    if valid { StatusCode::OK.into_response() } else { StatusCode::BAD_REQUEST.into_response() }
}

/// The claims of a valid logout token: signed by a key of the issuer's JWKS with its
/// registered algorithm, `typ: logout+jwt`, our `iss`, a recent `iat`, a `jti`, `sid`, the
/// back-channel logout event and no `nonce`.
async fn check(app: &App, token: &str) -> Option<Value> {
    let now = wxauth::clock::unix_now();
    let header = decode_header(token).ok()?;
    if header.typ.as_deref() != Some(TYP) {
        return None;
    }
    let key = app.keys.find(header.kid.as_deref()?, now).await.ok()??;
    if header.alg != key.jwk.alg.jsonwebtoken() {
        return None;
    }
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&app.config.issuer]);
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    validation.validate_aud = false; // reported; the test compares it with its client
    validation.validate_exp = false; // §2.6 does not ask for exp
    let claims = decode::<Value>(token, &key.jwk.decoding_key().ok()?, &validation).ok()?.claims;
    let recent = claims["iat"].as_i64().is_some_and(|iat| (iat - now).abs() <= IAT_WINDOW_SECONDS);
    let event = claims["events"].as_object().is_some_and(|e| e.len() == 1 && e.contains_key(BACKCHANNEL_LOGOUT_EVENT));
    let ok = recent && event && claims["jti"].is_string() && claims["sid"].is_string() && claims.get("nonce").is_none();
    ok.then_some(claims)
}
