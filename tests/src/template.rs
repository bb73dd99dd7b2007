//! The one reader of template.yaml in the tests: the functions as Lambda would run them
//! (binary, memory size, timeout, environment: Globals, then the function's own; routes; IAM
//! policies as written), the resources, the DynamoDB tables' keys, and the parameters and
//! conditions a deployment resolves. What the policies mean is [`crate::iam`]'s business.

use std::collections::BTreeMap;
use std::sync::LazyLock;

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
    /// Whether an SQS event source mapping feeds it.
    pub consumes_queue: bool,
    /// `Policies` as written: inline `Statement` lists, `!If`s, anything else.
    pub policies: Vec<Yaml>,
    /// Whether it names a `Role` of its own instead of the one SAM makes from `Policies`.
    pub own_role: bool,
}

/// How a deployment resolves what the template leaves to CloudFormation: `Ref`s of resources
/// and `GetAtt`s (`("Table", "test-…")`, `("DataKey.Arn", "…")`), and parameters to override
/// (others take their `Default`).
pub struct Resolver<'a> {
    pub values: &'a [(&'a str, String)],
}

/// The template, parsed once.
pub fn document() -> &'static Yaml {
    static DOCUMENT: LazyLock<Yaml> = LazyLock::new(|| serde_norway::from_str(TEMPLATE).expect("template.yaml parses"));
    &DOCUMENT
}

fn resource_mapping() -> &'static serde_norway::Mapping {
    document()["Resources"].as_mapping().expect("Resources")
}

/// Every resource: its logical id and `Type`.
pub fn resources() -> Vec<(String, String)> {
    resource_mapping()
        .iter()
        .map(|(id, r)| {
            (id.as_str().expect("logical id").to_string(), r["Type"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// Every function of the template, in the template's order.
pub fn functions() -> Vec<Function> {
    let globals = &document()["Globals"]["Function"];
    let mut out = Vec::new();
    for (id, resource) in resource_mapping() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().expect("logical id");
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
        let consumes_queue =
            props["Events"].as_mapping().into_iter().flatten().any(|(_, e)| e["Type"].as_str() == Some("SQS"));
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no Metadata.BuildProperties.Binary"));
        out.push(Function {
            logical_id: id.to_string(),
            binary: binary.to_string(),
            memory_mb: number("MemorySize"),
            timeout_s: number("Timeout"),
            environment,
            routes,
            consumes_queue,
            policies: props["Policies"].as_sequence().cloned().unwrap_or_default(),
            own_role: props.get("Role").is_some(),
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

/// The function an event goes to: by its `routeKey` (API Gateway), or the queue consumer for
/// an SQS event.
pub fn function_for_event(event: &serde_json::Value) -> Function {
    if let Some(route_key) = event["routeKey"].as_str() {
        return function_for_route(route_key);
    }
    assert_eq!(event["Records"][0]["eventSource"], "aws:sqs", "an API Gateway or SQS event");
    functions().into_iter().find(|f| f.consumes_queue).expect("a function fed by a queue")
}

/// The function whose binary is `binary`.
pub fn function(binary: &str) -> Function {
    functions().into_iter().find(|f| f.binary == binary).unwrap_or_else(|| panic!("no function {binary}"))
}

impl Function {
    /// Its environment with every value resolved; a value the resolver cannot give fails.
    pub fn environment(&self, resolver: &Resolver<'_>) -> Vec<(String, String)> {
        self.environment.iter().map(|(name, value)| (name.clone(), resolve(resolver, name, value))).collect()
    }
}

fn resolve(resolver: &Resolver<'_>, variable: &str, value: &Yaml) -> String {
    let given = |key: &str| resolver.values.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        // `!If [condition, then, else]`: the branch the parameters' defaults choose.
        Yaml::Tagged(tagged) if tagged.tag == "If" => match Conditions::evaluate(&[]).take(value) {
            Some(branch) => resolve(resolver, variable, branch),
            None => String::new(),
        },
        Yaml::Tagged(tagged) => {
            let target = tagged.value.as_str().unwrap_or_default();
            given(target)
                .or_else(|| (tagged.tag == "Ref").then(|| parameter_default(target)).flatten())
                .unwrap_or_else(|| panic!("{variable}: the tests cannot resolve !{} {target}", tagged.tag))
        }
        other => panic!("{variable}: unexpected value {other:?}"),
    }
}

/// A parameter's `Default`, when it is a string or a number.
fn parameter_default(name: &str) -> Option<String> {
    match document()["Parameters"][name].get("Default") {
        Some(Yaml::String(s)) => Some(s.clone()),
        Some(Yaml::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Every parameter as a deployment sets it: `overrides`, else its `Default`, else empty. An
/// override of a parameter the template does not have fails.
pub fn parameters(overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
    let declared = document()["Parameters"].as_mapping().expect("Parameters");
    let mut parameters: BTreeMap<String, String> = declared
        .keys()
        .map(|name| {
            let name = name.as_str().expect("a parameter name");
            (name.to_string(), parameter_default(name).unwrap_or_default())
        })
        .collect();
    for (name, value) in overrides {
        assert!(parameters.contains_key(*name), "no parameter {name}");
        parameters.insert(name.to_string(), value.to_string());
    }
    parameters
}

/// The template's `Conditions`, each true or false for one deployment's parameters.
pub struct Conditions(BTreeMap<String, bool>);

impl Conditions {
    /// The conditions of a deployment with `overrides` of the parameters' defaults.
    pub fn evaluate(overrides: &[(&str, &str)]) -> Self {
        let parameters = parameters(overrides);
        let conditions = document()["Conditions"].as_mapping().expect("Conditions");
        Conditions(
            conditions
                .iter()
                .map(|(name, c)| (name.as_str().expect("a condition name").to_string(), truth(c, &parameters)))
                .collect(),
        )
    }

    pub fn holds(&self, name: &str) -> bool {
        *self.0.get(name).unwrap_or_else(|| panic!("no condition {name}"))
    }

    /// `value` as the deployment takes it: the branch of an `!If [condition, then, else]`, and
    /// nothing for `!Ref AWS::NoValue`.
    pub fn take<'a>(&self, value: &'a Yaml) -> Option<&'a Yaml> {
        let value = match value {
            Yaml::Tagged(tagged) if tagged.tag == "If" => {
                let branches = tagged.value.as_sequence().expect("!If [condition, then, else]");
                let condition = branches[0].as_str().expect("an !If condition name");
                &branches[if self.holds(condition) { 1 } else { 2 }]
            }
            value => value,
        };
        let no_value = matches!(value, Yaml::Tagged(t) if t.tag == "Ref" && t.value.as_str() == Some("AWS::NoValue"));
        (!no_value).then_some(value)
    }
}

/// `!Equals [a, b]` and `!Not [c]` over `!Ref`s of parameters and literals.
fn truth(condition: &Yaml, parameters: &BTreeMap<String, String>) -> bool {
    let value = |v: &Yaml| match v {
        Yaml::String(s) => s.clone(),
        Yaml::Tagged(t) if t.tag == "Ref" => {
            let name = t.value.as_str().expect("!Ref name");
            parameters.get(name).unwrap_or_else(|| panic!("!Ref {name}: not a parameter")).clone()
        }
        other => panic!("a condition operand tests/src/template.rs does not understand: {other:?}"),
    };
    match condition {
        Yaml::Tagged(t) if t.tag == "Equals" => {
            let operands = t.value.as_sequence().expect("!Equals [a, b]");
            value(&operands[0]) == value(&operands[1])
        }
        Yaml::Tagged(t) if t.tag == "Not" => !truth(&t.value.as_sequence().expect("!Not [c]")[0], parameters),
        other => panic!("a condition tests/src/template.rs does not understand: {other:?}"),
    }
}

/// An `AWS::DynamoDB::Table`: its partition-key attribute, and its indexes'.
#[derive(Debug)]
pub struct Table {
    pub logical_id: String,
    pub hash_key: String,
    /// Index name -> its partition-key attribute.
    pub index_hash_keys: BTreeMap<String, String>,
}

/// Every DynamoDB table of the template.
pub fn tables() -> Vec<Table> {
    let hash_key = |schema: &Yaml| {
        schema
            .as_sequence()
            .expect("KeySchema")
            .iter()
            .find(|k| k.get("KeyType").and_then(Yaml::as_str) == Some("HASH"))
            .and_then(|k| k.get("AttributeName"))
            .and_then(Yaml::as_str)
            .expect("a HASH key")
            .to_string()
    };
    resource_mapping()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::DynamoDB::Table"))
        .map(|(id, table)| {
            let properties = table.get("Properties").expect("table properties");
            let index_hash_keys = properties
                .get("GlobalSecondaryIndexes")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
                .map(|i| {
                    let name = i.get("IndexName").and_then(Yaml::as_str).expect("IndexName").to_string();
                    (name, hash_key(i.get("KeySchema").expect("index KeySchema")))
                })
                .collect();
            Table {
                logical_id: id.as_str().expect("logical id").to_string(),
                hash_key: hash_key(properties.get("KeySchema").expect("KeySchema")),
                index_hash_keys,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_follow_the_parameters_and_their_defaults() {
        assert!(!Conditions::evaluate(&[]).holds("HoldsKmsSigningKey"), "envelope custody by default");
        assert!(Conditions::evaluate(&[("SigningKeyCustody", "both")]).holds("HoldsKmsSigningKey"));
        assert!(Conditions::evaluate(&[("SigningKeyCustody", "kms")]).holds("HoldsKmsSigningKey"));
        assert!(!Conditions::evaluate(&[("SigningKeyCustody", "kms")]).holds("UnwrapsEnvelopeKeys"));
    }

    #[test]
    fn an_if_takes_its_branch_and_no_value_is_nothing() {
        let conditions = Conditions::evaluate(&[("SigningKeyCustody", "kms")]);
        let value: Yaml = serde_norway::from_str("!If [HoldsKmsSigningKey, yes, !Ref AWS::NoValue]").expect("yaml");
        assert_eq!(conditions.take(&value), Some(&Yaml::String("yes".into())));
        let envelope = Conditions::evaluate(&[]);
        assert_eq!(envelope.take(&value), None);
        let plain = Yaml::String("plain".into());
        assert_eq!(envelope.take(&plain), Some(&plain));
    }

    #[test]
    #[should_panic(expected = "no parameter Nonsense")]
    fn an_override_of_an_unknown_parameter_fails() {
        parameters(&[("Nonsense", "x")]);
    }

    #[test]
    fn every_function_has_its_binary_its_routes_and_the_one_table_its_keys() {
        let functions = functions();
        assert!(functions.iter().all(|f| !f.binary.is_empty() && f.memory_mb > 0 && f.timeout_s > 0));
        assert!(functions.iter().any(|f| f.routes.contains(&("POST".into(), "/oauth/token".into()))));
        let tables = tables();
        assert_eq!(tables.len(), 1);
        assert_eq!(
            (tables[0].hash_key.as_str(), tables[0].index_hash_keys.get("gsi1").map(String::as_str)),
            ("pk", Some("gsi1pk"))
        );
    }
}
