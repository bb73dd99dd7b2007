//! The route table (`wxauth_local::routes::ROUTES`, through which the local server and these
//! tests dispatch) against template.yaml: the same paths, methods and functions, and the local
//! server's own pages in no template.

use std::collections::BTreeSet;

use wxauth_local::routes::{ROUTES, Serves};
use wxauth_tests::template;

/// `(path, METHOD, function)` of every route that reaches a function.
type Routed = BTreeSet<(String, String, String)>;

#[test]
fn the_route_table_routes_what_template_yaml_routes_and_marks_the_rest_local_only() {
    let templated: Routed = template::functions()
        .into_iter()
        .flat_map(|f| f.routes.into_iter().map(move |(method, path)| (path, method, f.binary.clone())))
        .collect();
    let tabled: Routed = ROUTES
        .iter()
        .filter_map(|r| match r.serves {
            Serves::Function(function) => Some((r, function.name())),
            Serves::DemoCallback | Serves::DemoBackchannelLogout => None,
        })
        .flat_map(|(r, name)| r.methods.iter().map(move |m| (r.path.to_string(), m.to_string(), name.to_string())))
        .collect();
    let missing: Vec<_> = templated.difference(&tabled).collect();
    assert!(missing.is_empty(), "routed by template.yaml, not by the route table: {missing:?}");
    let extra: Vec<_> = tabled.difference(&templated).collect();
    assert!(extra.is_empty(), "routed by the route table, not by template.yaml: {extra:?}");

    let local_only: Vec<&str> =
        ROUTES.iter().filter(|r| !matches!(r.serves, Serves::Function(_))).map(|r| r.path).collect();
    assert_eq!(local_only, ["/demo/callback", "/demo/logged-out", "/demo/backchannel-logout"]);
    for path in local_only {
        assert!(templated.iter().all(|(p, _, _)| p != path), "{path} is the local server's own, not the template's");
    }
}
