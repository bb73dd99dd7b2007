//! The integration tests, linked into one binary. They talk to moto (DynamoDB, KMS), the mock
//! WeChat and the local server that `scripts/test` starts. The harness (deployments, requests,
//! the sign-in page, template.yaml, the fault proxy) is the `wxauth_tests` library in tests/src.

// One file per endpoint; the token endpoint's, one per grant.
mod authorization_code; // POST /oauth/token, grant_type=authorization_code
mod authorize; // /oauth/authorize: the sign-in page and the authorization request
mod backchannel; // back-channel logout: the queue, the handler, relying parties up and down
mod client_credentials; // POST /oauth/token, grant_type=client_credentials
mod device; // the device authorization grant (RFC 8628): /oauth/device_authorization, its polls, /device; oauth2's device flow
mod discovery; // the JWKS and the metadata documents
mod introspect; // POST /oauth/introspect
mod password; // POST /oauth/token, grant_type=password
mod refresh; // POST /oauth/token, grant_type=refresh_token
mod revoke; // POST /oauth/revoke
mod scan; // scan with the mini program: the desktop page's code, /wechat/scan, polling and continue
mod sessions; // /oauth/authorize with a browser session (SSO, prompt, max_age, id_token_hint, consent); /oauth/end_session
mod wechat_data; // /wechat/decrypt, /wechat/phone, /wechat/session, and /userinfo
mod wechat_login; // POST /oauth/token, the WeChat grant
mod wechat_web; // Sign in with WeChat on the web: /oauth/authorize offers, /oauth/wechat/callback, the verification file

// Across endpoints.
mod bad_requests; // client mistakes: 4xx with an RFC 6749 body, never a 5xx
mod custody; // signing-key custody and envelope encryption
mod faults; // AWS faults moto cannot produce, through the fault proxy
mod logs; // nothing secret or personal in a log line
mod openid; // OpenID Connect: ID tokens from every grant, the OIDC authorize parameters
mod outages; // an unreachable DynamoDB or KMS
mod properties; // property tests over sequences of requests

// The deployment as shipped and as configured.
mod admin_cli; // the wxauth-admin binary
mod events; // events/*.json through the handlers
mod examples; // examples/protected-api/template.yaml
mod iam; // template.yaml's IAM policies against the requests each function makes
mod lambda_runtime; // the release binaries under a Runtime API
mod local_server; // the local server over real HTTP
mod readme; // README.md: its contents list
mod registration; // client registration rules
mod routes; // the route table against template.yaml

// Client libraries written elsewhere, against the local server.
mod interop_oauth2;
mod interop_openidconnect;
