//! # wxauth-provision
//!
//! Setting a deployment up: the KMS keys, clients. What `wxauth-admin` does, as a library, so
//! that tests prepare their own tables exactly the same way.
//!
//! A crate of its own, apart from `wxauth`: the Lambda functions serve a deployment, they never
//! set one up, so their binaries do not link this.
//!
//! - `signing_keys`: a deployment's signing key, new (in KMS or in envelope custody) or adopted.
//! - `rotation`: bringing a new signing key in and retiring the ones it replaces.
//! - `data_key`: the symmetric KMS key that seals app secrets, session keys and envelope keys.
//! - `clients`: registering and updating a client, its grants, redirect URIs and secrets.
//! - `deployment`: the deployment's issuer and default audience, recorded in the table and never
//!   a client's audience.
//! - `wechat_web_apps`: registering a WeChat web app (Official Account, website app).
//! - `logout_queue`: the back-channel logout queue and its dead-letter queue, on an emulator
//!   (template.yaml makes them on AWS).

mod clients;
mod data_key;
mod deployment;
mod logout_queue;
mod rotation;
mod signing_keys;
mod wechat_web_apps;

pub use clients::{ClientUpdate, NewClient, acceptable_redirect_uri, create_client, default_grants, update_client};
pub use data_key::ensure_data_key;
pub use deployment::{check_client_audience, record_deployment};
pub use logout_queue::{LogoutQueues, MAX_RECEIVE_COUNT, create_logout_queues, ensure_logout_queue};
pub use rotation::{Rotation, rotate_signing_key};
pub use signing_keys::{
    DEFAULT_ALGORITHM, DEFAULT_CUSTODY, KeyCustody, SIGNING_KEY_TAG, adopt_signing_key, create_envelope_signing_key,
    create_signing_key, ensure_signing_key,
};
pub use wechat_web_apps::{NewWebApp, create_wechat_web_app, issuer_host};
