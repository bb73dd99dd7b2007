//! `examples/protected-api/template.yaml` wires its HTTP API's JWT authorizer to the wxauth
//! stack as the README says: issuer and audience from its parameters (the audience defaulting to
//! the issuer, as wxauth's `AUDIENCE` does), the Authorization header, and a required scope on
//! its route. cfn-lint (in `scripts/test`) checks that it is a valid template; this checks what
//! it means.

use serde_norway::Value as Yaml;

const TEMPLATE: &str = include_str!("../../examples/protected-api/template.yaml");

fn tagged<'a>(value: &'a Yaml, tag: &str) -> &'a Yaml {
    match value {
        Yaml::Tagged(t) if t.tag == tag => &t.value,
        other => panic!("expected !{tag}, found {other:?}"),
    }
}

fn reference(value: &Yaml) -> &str {
    tagged(value, "Ref").as_str().expect("a !Ref names a parameter")
}

#[test]
fn the_example_api_trusts_the_wxauth_issuer_and_audience_and_requires_a_scope() {
    let doc: Yaml = serde_norway::from_str(TEMPLATE).expect("the example template parses");
    let resources = &doc["Resources"];
    let api = resources
        .as_mapping()
        .expect("resources")
        .values()
        .find(|r| r["Type"] == "AWS::Serverless::HttpApi")
        .expect("an HTTP API");
    let auth = &api["Properties"]["Auth"];
    let authorizer = &auth["Authorizers"]["Wxauth"];
    assert_eq!(authorizer["IdentitySource"], "$request.header.Authorization");
    let jwt = &authorizer["JwtConfiguration"];
    assert_eq!(reference(&jwt["issuer"]), "WxauthIssuer");
    let audience = tagged(&jwt["audience"][0], "If").as_sequence().expect("!If [condition, then, else]");
    assert_eq!(audience[0], "AudienceIsIssuer");
    assert_eq!((reference(&audience[1]), reference(&audience[2])), ("WxauthIssuer", "WxauthAudience"));
    let condition = tagged(&doc["Conditions"]["AudienceIsIssuer"], "Equals").as_sequence().expect("!Equals");
    assert_eq!((reference(&condition[0]), &condition[1]), ("WxauthAudience", &Yaml::String(String::new())));

    let route = resources
        .as_mapping()
        .expect("resources")
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .flat_map(|f| f["Properties"]["Events"].as_mapping().expect("events").values().cloned().collect::<Vec<_>>())
        .find(|e| e["Type"] == "HttpApi")
        .expect("a route on the HTTP API");
    assert_eq!(route["Properties"]["Auth"]["Authorizer"], "Wxauth");
    let scopes = route["Properties"]["Auth"]["AuthorizationScopes"].as_sequence().expect("scopes");
    assert_eq!(scopes.iter().map(reference).collect::<Vec<_>>(), ["RequiredScope"]);
    // The issuer must be exactly the tokens' `iss`: https and no trailing slash, as wxauth's own.
    let pattern = doc["Parameters"]["WxauthIssuer"]["AllowedPattern"].as_str().expect("pattern");
    let root: Yaml = serde_norway::from_str(include_str!("../../template.yaml")).expect("template.yaml");
    assert_eq!(
        Some(pattern),
        root["Parameters"]["Issuer"]["AllowedPattern"].as_str(),
        "the same rule as wxauth's Issuer"
    );
}
