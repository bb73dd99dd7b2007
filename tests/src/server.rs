//! A deployment's routes served in-process, as the local server serves them (its route table,
//! the functions' handlers): the requests tests send, and the replies they read. A
//! [`TestEnv`](crate::TestEnv) is one over the test's own deployment; [`Server::new`] makes one
//! over any other [`App`], such as one whose AWS clients go through the fault proxy.

use std::sync::Arc;

use lambda_http::{Body, Request};
use serde_json::Value;
use wxauth::App;
use wxauth_local::routes::{self, Function, Serves};

use crate::{ISSUER, MiniProgram, Reply, WECHAT_GRANT, bearer_request, form_request, reply, with_basic};

/// One deployment's [`App`] behind the route table.
pub struct Server {
    pub app: Arc<App>,
}

impl Server {
    pub fn new(app: App) -> Self {
        Server { app: Arc::new(app) }
    }

    /// Any route's raw response (for redirects and HTML), dispatched by path as the local
    /// server dispatches it; a path no function serves fails the test.
    pub async fn dispatch(&self, req: Request) -> wxauth::http::Response {
        match routes::route(req.uri().path()).map(|r| r.serves) {
            // Boxed: every handler's future in one enum is big, and a test thread's stack is not.
            Some(Serves::Function(function)) => Box::pin(function.handle(&self.app, req)).await,
            _ => panic!("no function serves {}", req.uri().path()),
        }
    }

    /// Any route, parsed.
    pub async fn call(&self, req: Request) -> Reply {
        reply(self.dispatch(req).await)
    }

    pub async fn get(&self, path: &str) -> Reply {
        let req = http::Request::builder().method("GET").uri(path).body(Body::Empty).expect("request");
        self.call(req).await
    }

    /// `POST /oauth/token` with a form body.
    pub async fn token(&self, params: &[(&str, &str)]) -> Reply {
        self.token_request(form_request("/oauth/token", params)).await
    }

    /// `req`, whatever its path, to the token function.
    pub async fn token_request(&self, req: Request) -> Reply {
        reply(Function::Token.handle(&self.app, req).await)
    }

    /// A form POST to `path` authenticated with HTTP Basic.
    pub async fn post_basic(&self, path: &str, id: &str, secret: &str, params: &[(&str, &str)]) -> Reply {
        self.call(with_basic(form_request(path, params), id, secret)).await
    }

    /// A call to a protected resource with `Authorization: Bearer <access_token>` and, for POST,
    /// a JSON body.
    pub async fn protected(&self, method: &str, path: &str, access_token: &str, body: Option<Value>) -> Reply {
        self.call(bearer_request(method, path, access_token, body)).await
    }

    /// The WeChat grant with `code` through `mp`, whatever it answers.
    pub async fn wechat_login(&self, mp: &MiniProgram, code: &str) -> Reply {
        self.token(&[("grant_type", WECHAT_GRANT), ("client_id", &mp.client_id), ("code", code)]).await
    }

    /// The WeChat grant with `code` through `mp`, asking for `scope`.
    pub async fn wechat_login_scoped(&self, mp: &MiniProgram, code: &str, scope: &str) -> Reply {
        self.token(&[("grant_type", WECHAT_GRANT), ("client_id", &mp.client_id), ("code", code), ("scope", scope)])
            .await
    }

    /// Logs `code` in through `mp`; panics unless it succeeds.
    pub async fn login(&self, mp: &MiniProgram, code: &str) -> Reply {
        let reply = self.wechat_login(mp, code).await;
        assert_eq!(reply.status, 200, "login with {code}: {}", reply.json);
        reply
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> Reply {
        self.token(&[("grant_type", "refresh_token"), ("client_id", client_id), ("refresh_token", refresh_token)]).await
    }

    /// A refresh asking for a narrower `scope`.
    pub async fn refresh_scoped(&self, client_id: &str, refresh_token: &str, scope: &str) -> Reply {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ])
        .await
    }

    /// `grant_type=password` for `username`, as the confidential `client` (id, secret).
    pub async fn password_grant(&self, client: &(String, String), username: &str, password: &str) -> Reply {
        self.post_basic(
            "/oauth/token",
            &client.0,
            &client.1,
            &[("grant_type", "password"), ("username", username), ("password", password)],
        )
        .await
    }

    /// `grant_type=client_credentials` as the confidential client `id`.
    pub async fn client_credentials(&self, id: &str, secret: &str) -> Reply {
        self.post_basic("/oauth/token", id, secret, &[("grant_type", "client_credentials")]).await
    }

    /// `POST /oauth/revoke` of `token` by the public client `client_id`.
    pub async fn revoke(&self, client_id: &str, token: &str) -> Reply {
        self.call(form_request("/oauth/revoke", &[("client_id", client_id), ("token", token)])).await
    }

    /// The access token's claims after verifying it against this deployment's JWKS document,
    /// the way a resource server would.
    pub async fn verify_with_jwks(&self, jwt: &str) -> (jsonwebtoken::Header, Value) {
        self.verify_against_jwks(jwt, ISSUER).await
    }

    /// An ID token's header and claims after verifying it against the JWKS, as a relying party
    /// `client_id` would (OpenID Connect Core §3.1.3.7: `aud` is the client).
    pub async fn verify_id_token(&self, jwt: &str, client_id: &str) -> (jsonwebtoken::Header, Value) {
        let (header, claims) = self.verify_against_jwks(jwt, client_id).await;
        assert_eq!(header.typ.as_deref(), Some("JWT"), "an ID token is no access token");
        assert_eq!(claims["azp"], client_id);
        (header, claims)
    }

    async fn verify_against_jwks(&self, jwt: &str, audience: &str) -> (jsonwebtoken::Header, Value) {
        let jwks = self.get("/.well-known/jwks.json").await;
        let header = jsonwebtoken::decode_header(jwt).expect("JWT header");
        let kid = header.kid.clone().expect("kid");
        let jwk = jwks.json["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .expect("kid published");
        // As a resource server would: the algorithm is the JWK's, not the token's.
        let jwk: wxauth::keys::jwks::Jwk = serde_json::from_value(jwk.clone()).expect("a JWK");
        let key = jwk.decoding_key().expect("key");
        assert_eq!(header.alg, jwk.alg.jsonwebtoken(), "signed with its key's registered algorithm");
        let mut validation = jsonwebtoken::Validation::new(jwk.alg.jsonwebtoken());
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(jwt, &key, &validation).expect("the JWT verifies against the JWKS");
        (data.header, data.claims)
    }
}
