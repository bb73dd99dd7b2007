//! The functions of template.yaml as Lambda would run them: binary, memory size, timeout,
//! environment (Globals, then the function's own), routes.

use serde_norway::Value as Yaml;

pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// One `AWS::Serverless::Function`.
#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: the package, and the folder of its `bootstrap`.
    pub binary: String,
    pub memory_mb: u64,
    pub timeout_s: u64,
    /// Variables with their template values (`!Ref`, `!GetAtt` or plain), unresolved.
    environment: Vec<(String, Yaml)>,
    /// `(METHOD, /path)` of its HttpApi events.
    pub routes: Vec<(String, String)>,
}

/// How a deployment resolves what the template leaves to CloudFormation: `Ref`s of resources
/// and `GetAtt`s (`("Table", "test-…")`, `("DataKey.Arn", "…")`), and parameters to override
/// (others take their `Default`).
pub struct Resolver<'a> {
    pub values: &'a [(&'a str, String)],
}

fn template() -> Yaml {
    serde_norway::from_str(TEMPLATE).expect("template.yaml parses")
}

/// Every function of the template.
pub fn functions() -> Vec<Function> {
    let doc = template();
    let globals = &doc["Globals"]["Function"];
    let mut out = Vec::new();
    for (id, resource) in doc["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let props = &resource["Properties"];
        let number = |name: &str| props[name].as_u64().or_else(|| globals[name].as_u64()).expect(name);
        let mut environment: Vec<(String, Yaml)> = Vec::new();
        for source in [&globals["Environment"]["Variables"], &props["Environment"]["Variables"]] {
            for (name, value) in source.as_mapping().into_iter().flatten() {
                let name = name.as_str().expect("variable name").to_string();
                environment.retain(|(n, _)| *n != name);
                environment.push((name, value.clone()));
            }
        }
        let routes = props["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(|(_, e)| e["Type"].as_str() == Some("HttpApi"))
            .map(|(_, e)| {
                let p = &e["Properties"];
                (p["Method"].as_str().expect("Method").to_uppercase(), p["Path"].as_str().expect("Path").to_string())
            })
            .collect();
        out.push(Function {
            logical_id: id.as_str().expect("logical id").to_string(),
            binary: resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary").to_string(),
            memory_mb: number("MemorySize"),
            timeout_s: number("Timeout"),
            environment,
            routes,
        });
    }
    out
}

/// The function serving `method path` (an event's `routeKey`).
pub fn function_for_route(route_key: &str) -> Function {
    let (method, path) = route_key.split_once(' ').expect("METHOD /path");
    functions()
        .into_iter()
        .find(|f| f.routes.iter().any(|(m, p)| m == method && p == path))
        .unwrap_or_else(|| panic!("no function of template.yaml serves {route_key}"))
}

/// The function whose binary is `binary`.
pub fn function(binary: &str) -> Function {
    functions().into_iter().find(|f| f.binary == binary).unwrap_or_else(|| panic!("no function {binary}"))
}

impl Function {
    /// Its environment with every value resolved; a value the resolver cannot give fails.
    pub fn environment(&self, resolver: &Resolver<'_>) -> Vec<(String, String)> {
        let doc = template();
        self.environment.iter().map(|(name, value)| (name.clone(), resolve(&doc, resolver, name, value))).collect()
    }
}

fn resolve(doc: &Yaml, resolver: &Resolver<'_>, variable: &str, value: &Yaml) -> String {
    let given = |key: &str| resolver.values.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Tagged(tagged) => {
            let target = tagged.value.as_str().unwrap_or_default();
            given(target)
                .or_else(|| {
                    (tagged.tag == "Ref")
                        .then(|| &doc["Parameters"][target]["Default"])
                        .and_then(|d| d.as_str().map(str::to_string).or_else(|| d.as_u64().map(|n| n.to_string())))
                })
                .unwrap_or_else(|| panic!("{variable}: the tests cannot resolve !{} {target}", tagged.tag))
        }
        other => panic!("{variable}: unexpected value {other:?}"),
    }
}
