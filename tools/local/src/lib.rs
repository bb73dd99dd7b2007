//! The local server as a library: its route table and dispatch ([`routes`]), and the connection
//! front that checks each request head ([`front`]). `main.rs` runs them on one port; the
//! integration tests (`wxauth-tests`) take the route table from here, so that the routes are
//! written once for the server and the tests, and checked against `template.yaml` there.

pub mod front;
pub mod routes;
