//! The local server as a library: its route table and dispatch ([`routes`]), the connection
//! front that checks each request head ([`front`]), the back-channel logout queue's event
//! source ([`event_source`]) and `demo-web`'s back-channel logout endpoint ([`demo_rp`]). `main.rs` runs them on one port; the
//! integration tests (`wxauth-tests`) take the route table from here, so that the routes are
//! written once for the server and the tests, and checked against `template.yaml` there.

pub mod demo_rp;
pub mod event_source;
pub mod front;
pub mod routes;
