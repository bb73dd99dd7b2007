//! The IAM policies of template.yaml, held against what the code really does. moto enforces no
//! IAM, so every other test would pass with a policy that is too narrow (the function fails in
//! AWS) or too broad (a compromised function could publish a signing key or rewrite a client).
//!
//! Each test drives one function's flows through its own handler with an [`App`] whose SDK
//! clients go through a [`FaultProxy`], which records every DynamoDB and KMS request. Setup
//! (clients, users, tokens obtained from other functions) goes through the test's own deployment
//! directly, so the recording holds that one function's requests only. Then every request is
//! checked against the statements template.yaml grants the function (found by its
//! `BuildProperties.Binary`):
//! - DynamoDB: the operation becomes the IAM action (a `TransactWriteItems` part is authorized
//!   as `PutItem`/`UpdateItem`/`DeleteItem`/`ConditionCheckItem` on its own key, a
//!   `TransactGetItems` part as `GetItem`); the item's partition key (for `Query`, the value the
//!   key condition compares the partition key with) must match the statement's
//!   `dynamodb:LeadingKeys` (`ForAllValues:StringLike` with `*`/`?` wildcards, or
//!   `ForAllValues:StringEquals`); the table must be the deployment's, and a request naming an
//!   index needs a `${Table.Arn}/index/...` resource.
//! - KMS: the operation becomes the action (`kms:Sign`, `kms:Decrypt`, ...), and a
//!   `StringEquals` condition on `kms:EncryptionContext:<key>` must hold for the request's
//!   encryption context. Not checked: KMS resources (moto's key ids are not the template's
//!   ARNs) and `aws:ResourceTag/...` conditions (moto's keys carry no tags).
//!
//! - Conditional policies (`!If [Condition, {Statement: ...}, !Ref AWS::NoValue]`) are taken as a
//!   deployment with given parameters takes them (the conditions' `!Equals`/`!Not` evaluated over
//!   the parameters' defaults and the test's overrides), and `!Ref Table` in a condition value is
//!   the test deployment's table.
//!
//! The other way round, every grant must be used: each (action, key pattern) of a DynamoDB
//! statement and each (action, encryption context) of a KMS statement must be exercised by at
//! least one recorded request, so that a grant the code no longer needs fails the test too.
//! Anything in template.yaml this file does not understand (a SAM policy template, a Deny, an
//! unknown condition, an IAM resource of its own) fails the test rather than being ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lambda_http::Body;
use serde_json::{Value as Json, json};
use serde_norway::Value as Yaml;
use wxauth::App;
use wxauth::store::clients::ClientKind;
use wxauth_provision::KeyCustody;
use wxauth_tests::faults::FaultProxy;
use wxauth_tests::{
    ISSUER, MiniProgram, PKCE_CHALLENGE, PKCE_VERIFIER, Reply, SignInPage, TestEnv, WECHAT_GRANT, bearer_request,
    encrypted_profile, form_request, location_params, mock_session_key, open_sign_in, read_sign_in_page, reply,
    sign_in_form_request, sign_in_page_request, submit_sign_in, with_basic,
};

const TEMPLATE: &str = include_str!("../../template.yaml");

/// Every function the tests below drive; a function added to template.yaml must be added here,
/// with its flows.
const DRIVEN: &[&str] = &[
    "token",
    "authorize",
    "revoke",
    "introspect",
    "jwks",
    "metadata",
    "userinfo",
    "wechat-decrypt",
    "wechat-phone",
    "wechat-session",
];

/// Item-level DynamoDB actions that change the table.
const WRITE_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
];

// ---- the template ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Resource {
    /// `!GetAtt Table.Arn`.
    Table,
    /// `!Sub "${Table.Arn}/index/<pattern>"`.
    TableIndex(String),
    /// `"*"`.
    Any,
    /// Anything else (a KMS key, a log group): never the table.
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
enum LeadingKeys {
    /// No `dynamodb:LeadingKeys` condition: every item.
    Unrestricted,
    /// `ForAllValues:StringLike`.
    Like(Vec<String>),
    /// `ForAllValues:StringEquals`.
    Equals(Vec<String>),
}

impl LeadingKeys {
    fn patterns(&self) -> Vec<Option<&str>> {
        match self {
            LeadingKeys::Unrestricted => vec![None],
            LeadingKeys::Like(p) | LeadingKeys::Equals(p) => p.iter().map(|p| Some(p.as_str())).collect(),
        }
    }

    fn matches(&self, pattern: Option<&str>, key: &str) -> bool {
        match (self, pattern) {
            (_, None) | (LeadingKeys::Unrestricted, _) => true,
            (LeadingKeys::Like(_), Some(p)) => string_like(p, key),
            (LeadingKeys::Equals(_), Some(p)) => p == key,
        }
    }

    /// IAM's `ForAllValues`: every key matches one of the values (vacuously true for none).
    fn allows(&self, keys: &[String]) -> bool {
        keys.iter().all(|k| self.patterns().into_iter().any(|p| self.matches(p, k)))
    }
}

#[derive(Debug, Clone)]
struct Statement {
    sid: String,
    actions: Vec<String>,
    resources: Vec<Resource>,
    leading_keys: LeadingKeys,
    /// `StringEquals` on `kms:EncryptionContext:<key>`: key -> allowed values.
    encryption_context: BTreeMap<String, Vec<String>>,
}

impl Statement {
    fn allows_action(&self, action: &str) -> bool {
        self.actions.iter().any(|a| string_like(&a.to_lowercase(), &action.to_lowercase()))
    }

    fn is_dynamodb(&self) -> bool {
        self.actions.iter().any(|a| a.to_lowercase().starts_with("dynamodb:") || a == "*")
    }
}

/// A function's role: the binary it runs and the statements it is granted.
#[derive(Debug)]
struct Role {
    binary: String,
    statements: Vec<Statement>,
}

/// What template.yaml says: the roles, and the table's partition-key attributes.
struct Template {
    roles: Vec<Role>,
    table_hash_key: String,
    index_hash_keys: BTreeMap<String, String>,
}

/// The value of `!Ref Table` in a condition: stands for the deployment's table.
const TABLE_REF: &str = "${Table}";

/// The template's conditions, true or false for one set of parameters.
struct Conditions(BTreeMap<String, bool>);

impl Conditions {
    fn evaluate(doc: &Yaml, overrides: &[(&str, &str)]) -> Self {
        let mut parameters: BTreeMap<String, String> = BTreeMap::new();
        for (name, parameter) in doc.get("Parameters").and_then(Yaml::as_mapping).expect("Parameters") {
            let default = match parameter.get("Default") {
                Some(Yaml::String(s)) => s.clone(),
                Some(Yaml::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            parameters.insert(name.as_str().expect("a parameter name").to_string(), default);
        }
        for (name, value) in overrides {
            assert!(parameters.contains_key(*name), "no parameter {name}");
            parameters.insert(name.to_string(), value.to_string());
        }
        let mut conditions = BTreeMap::new();
        for (name, condition) in doc.get("Conditions").and_then(Yaml::as_mapping).expect("Conditions") {
            conditions.insert(name.as_str().expect("a condition name").to_string(), truth(condition, &parameters));
        }
        Conditions(conditions)
    }

    fn holds(&self, name: &str) -> bool {
        *self.0.get(name).unwrap_or_else(|| panic!("no condition {name}"))
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
        other => panic!("a condition operand tests/tests/iam.rs does not understand: {other:?}"),
    };
    match condition {
        Yaml::Tagged(t) if t.tag == "Equals" => {
            let operands = t.value.as_sequence().expect("!Equals [a, b]");
            value(&operands[0]) == value(&operands[1])
        }
        Yaml::Tagged(t) if t.tag == "Not" => !truth(&t.value.as_sequence().expect("!Not [c]")[0], parameters),
        other => panic!("a condition tests/tests/iam.rs does not understand: {other:?}"),
    }
}

impl Template {
    /// The template as deployed with its parameters' defaults.
    fn load() -> Self {
        Self::with_parameters(&[])
    }

    /// The template as deployed with `overrides` of its parameters' defaults.
    fn with_parameters(overrides: &[(&str, &str)]) -> Self {
        let doc: Yaml = serde_norway::from_str(TEMPLATE).expect("template.yaml parses");
        let conditions = Conditions::evaluate(&doc, overrides);
        let resources = doc.get("Resources").and_then(Yaml::as_mapping).expect("Resources");
        let mut roles = Vec::new();
        let mut table = None;
        for (name, resource) in resources {
            let name = name.as_str().expect("a resource name");
            let kind = resource.get("Type").and_then(Yaml::as_str).unwrap_or_default();
            match kind {
                "AWS::Serverless::Function" => roles.push(role(name, resource, &conditions)),
                "AWS::DynamoDB::Table" => {
                    assert!(table.is_none(), "one table: the policies' `!GetAtt Table.Arn` would be ambiguous");
                    assert_eq!(name, "Table", "the policies name the table `Table`");
                    table = Some(resource);
                }
                other => assert!(
                    !other.starts_with("AWS::IAM::") && other != "AWS::Lambda::Function",
                    "{name} ({other}) grants or runs something tests/tests/iam.rs does not see: teach it"
                ),
            }
        }
        let table = table.expect("the table");
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
        let properties = table.get("Properties").expect("table properties");
        let table_hash_key = hash_key(properties.get("KeySchema").expect("KeySchema"));
        let index_hash_keys = properties
            .get("GlobalSecondaryIndexes")
            .and_then(Yaml::as_sequence)
            .map(|indexes| {
                indexes
                    .iter()
                    .map(|i| {
                        let name = i.get("IndexName").and_then(Yaml::as_str).expect("IndexName").to_string();
                        (name, hash_key(i.get("KeySchema").expect("index KeySchema")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Template { roles, table_hash_key, index_hash_keys }
    }

    fn role(&self, binary: &str) -> &Role {
        self.roles.iter().find(|r| r.binary == binary).unwrap_or_else(|| panic!("no function runs {binary}"))
    }
}

fn role(name: &str, function: &Yaml, conditions: &Conditions) -> Role {
    let binary = function
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Yaml::as_str)
        .unwrap_or_else(|| panic!("{name}: no Metadata.BuildProperties.Binary"))
        .to_string();
    let properties = function.get("Properties").expect("Properties");
    assert!(properties.get("Role").is_none(), "{name}: a role of its own is not understood here: teach the test");
    let mut statements = Vec::new();
    for policy in properties.get("Policies").and_then(Yaml::as_sequence).map(Vec::as_slice).unwrap_or_default() {
        // `!If [Condition, policy, !Ref AWS::NoValue]`: the branch the deployment takes.
        let policy = match policy {
            Yaml::Tagged(tagged) if tagged.tag == "If" => {
                let branches = tagged.value.as_sequence().expect("!If [condition, then, else]");
                let condition = branches[0].as_str().expect("an !If condition name");
                &branches[if conditions.holds(condition) { 1 } else { 2 }]
            }
            policy => policy,
        };
        if matches!(policy, Yaml::Tagged(t) if t.tag == "Ref" && t.value.as_str() == Some("AWS::NoValue")) {
            continue;
        }
        let mapping = policy.as_mapping().filter(|m| m.len() == 1 && m.contains_key("Statement"));
        let Some(mapping) = mapping else {
            panic!(
                "{name}: only inline `- Statement:` policies are understood here, not {policy:?} (a SAM policy \
                 template or a managed policy grants what this test cannot check)"
            )
        };
        for statement in mapping["Statement"].as_sequence().expect("a list of statements") {
            statements.push(parse_statement(name, statement));
        }
    }
    Role { binary, statements }
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Tagged(tagged) if tagged.tag == "Ref" && tagged.value.as_str() == Some("Table") => {
            vec![TABLE_REF.to_string()]
        }
        Yaml::Sequence(items) => items.iter().flat_map(strings).collect(),
        other => panic!("expected a string or a list of strings, not {other:?}"),
    }
}

fn parse_resource(value: &Yaml) -> Vec<Resource> {
    match value {
        Yaml::Sequence(items) => items.iter().flat_map(parse_resource).collect(),
        Yaml::String(s) if s == "*" => vec![Resource::Any],
        Yaml::String(s) => vec![Resource::Other(s.clone())],
        Yaml::Tagged(tagged) if tagged.tag == "GetAtt" => {
            let target = match &tagged.value {
                Yaml::String(s) => s.clone(),
                Yaml::Sequence(parts) => strings(&Yaml::Sequence(parts.clone())).join("."),
                other => panic!("!GetAtt {other:?}"),
            };
            vec![if target == "Table.Arn" { Resource::Table } else { Resource::Other(format!("!GetAtt {target}")) }]
        }
        Yaml::Tagged(tagged) if tagged.tag == "Sub" => {
            let text = tagged.value.as_str().expect("!Sub with a plain string");
            match text.strip_prefix("${Table.Arn}/index/") {
                Some(index) => vec![Resource::TableIndex(index.to_string())],
                None => vec![Resource::Other(format!("!Sub {text}"))],
            }
        }
        other => panic!("a resource tests/tests/iam.rs does not understand: {other:?}"),
    }
}

fn parse_statement(function: &str, statement: &Yaml) -> Statement {
    let sid = statement.get("Sid").and_then(Yaml::as_str).unwrap_or("(no Sid)").to_string();
    let at = format!("{function}/{sid}");
    for key in statement.as_mapping().expect("a statement").keys() {
        let key = key.as_str().expect("a key");
        assert!(
            matches!(key, "Sid" | "Effect" | "Action" | "Resource" | "Condition"),
            "{at}: `{key}` is not understood by tests/tests/iam.rs: teach it"
        );
    }
    assert_eq!(statement.get("Effect").and_then(Yaml::as_str), Some("Allow"), "{at}: only Allow is understood here");
    let actions = strings(statement.get("Action").unwrap_or_else(|| panic!("{at}: no Action")));
    let resources = parse_resource(statement.get("Resource").unwrap_or_else(|| panic!("{at}: no Resource")));
    let mut leading_keys = LeadingKeys::Unrestricted;
    let mut encryption_context = BTreeMap::new();
    if let Some(condition) = statement.get("Condition") {
        for (operator, keys) in condition.as_mapping().expect("a condition") {
            let operator = operator.as_str().expect("an operator");
            for (key, values) in keys.as_mapping().expect("condition keys") {
                let key = key.as_str().expect("a condition key");
                match (operator, key) {
                    ("ForAllValues:StringLike", "dynamodb:LeadingKeys") => {
                        leading_keys = LeadingKeys::Like(strings(values));
                    }
                    ("ForAllValues:StringEquals", "dynamodb:LeadingKeys") => {
                        leading_keys = LeadingKeys::Equals(strings(values));
                    }
                    ("StringEquals", key) if key.starts_with("kms:EncryptionContext:") => {
                        let name = key.trim_start_matches("kms:EncryptionContext:").to_string();
                        encryption_context.insert(name, strings(values));
                    }
                    // Not checked (see the module docs): moto's keys carry no tags.
                    ("StringEquals", key) if key.starts_with("aws:ResourceTag/") => {}
                    (operator, key) => {
                        panic!("{at}: condition {operator} {key} is not understood here: teach the test")
                    }
                }
            }
        }
    }
    Statement { sid, actions, resources, leading_keys, encryption_context }
}

/// IAM's `StringLike`: `*` matches any run of characters, `?` any one character.
fn string_like(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // matches[j]: the pattern read so far matches v[..j].
    let mut matches = vec![false; v.len() + 1];
    matches[0] = true;
    for c in p {
        let mut next = vec![false; v.len() + 1];
        for j in 0..=v.len() {
            next[j] = match c {
                '*' => matches[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && matches[j - 1],
                c => j > 0 && matches[j - 1] && v[j - 1] == c,
            };
        }
        matches = next;
    }
    matches[v.len()]
}

// ---- the recorded requests ---------------------------------------------------------------------

/// One authorization DynamoDB or KMS makes: an action on a table (or index) and item keys, or a
/// KMS action with an encryption context.
#[derive(Debug, Clone)]
struct Call {
    /// Where it came from, e.g. `TransactWriteItems part 2`.
    origin: String,
    action: String,
    table: Option<String>,
    index: Option<String>,
    leading_keys: Vec<String>,
    encryption_context: BTreeMap<String, String>,
}

impl Call {
    fn dynamodb(origin: String, action: &str, table: &Json, index: Option<String>, keys: Vec<String>) -> Self {
        Call {
            origin,
            action: format!("dynamodb:{action}"),
            table: table.as_str().map(str::to_string),
            index,
            leading_keys: keys,
            encryption_context: BTreeMap::new(),
        }
    }

    fn describe(&self) -> String {
        let mut text = self.action.clone();
        if !self.leading_keys.is_empty() {
            text += &format!(" on pk {}", self.leading_keys.join(", "));
        }
        if let Some(index) = &self.index {
            text += &format!(" through index {index}");
        }
        if !self.encryption_context.is_empty() {
            text += &format!(" with EncryptionContext {:?}", self.encryption_context);
        }
        format!("{text} ({})", self.origin)
    }
}

fn pk(template: &Template, item: &Json, what: &str) -> String {
    item[&template.table_hash_key]["S"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no string partition key in {item}"))
        .to_string()
}

/// The partition-key value of a Query: what its key condition compares the (table's or
/// index's) partition key with.
fn query_partition_key(template: &Template, body: &Json) -> Vec<String> {
    let index = body["IndexName"].as_str();
    let hash_key = match index {
        Some(index) => template.index_hash_keys.get(index).unwrap_or_else(|| panic!("no index {index}")),
        None => &template.table_hash_key,
    };
    let condition = body["KeyConditionExpression"].as_str().expect("a Query without KeyConditionExpression");
    let name = |token: &str| {
        let token = token.trim();
        body["ExpressionAttributeNames"][token].as_str().map(str::to_string).unwrap_or_else(|| token.to_string())
    };
    for clause in condition.split(" AND ").chain(condition.split(" and ")) {
        if let Some((left, right)) = clause.split_once('=')
            && !left.ends_with(['<', '>'])
            && name(left) == *hash_key
        {
            let value = &body["ExpressionAttributeValues"][right.trim()]["S"];
            return vec![value.as_str().expect("a string partition key value").to_string()];
        }
    }
    panic!("cannot tell the partition key of the Query {body}")
}

fn dynamodb_calls(template: &Template, operation: &str, n: usize, body: &Json) -> Vec<Call> {
    let origin = format!("{operation} #{n}");
    let key = |field: &str| vec![pk(template, &body[field], &origin)];
    let table = &body["TableName"];
    match operation {
        "GetItem" | "UpdateItem" | "DeleteItem" => {
            let keys = key("Key");
            vec![Call::dynamodb(origin, operation, table, None, keys)]
        }
        "PutItem" => {
            let keys = key("Item");
            vec![Call::dynamodb(origin, operation, table, None, keys)]
        }
        "Query" => {
            let index = body["IndexName"].as_str().map(str::to_string);
            vec![Call::dynamodb(origin, operation, table, index, query_partition_key(template, body))]
        }
        "Scan" => {
            vec![Call::dynamodb(origin, operation, table, body["IndexName"].as_str().map(str::to_string), vec![])]
        }
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .expect("TransactItems")
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let origin = format!("{origin} part {}", i + 1);
                let (kind, inner) = part.as_object().and_then(|o| o.iter().next()).expect("a transaction part");
                let (action, field) = match kind.as_str() {
                    "Put" => ("PutItem", "Item"),
                    "Update" => ("UpdateItem", "Key"),
                    "Delete" => ("DeleteItem", "Key"),
                    "ConditionCheck" => ("ConditionCheckItem", "Key"),
                    "Get" => ("GetItem", "Key"),
                    other => panic!("{origin}: a transaction part {other}"),
                };
                let keys = vec![pk(template, &inner[field], &origin)];
                Call::dynamodb(origin, action, &inner["TableName"], None, keys)
            })
            .collect(),
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .expect("RequestItems")
            .iter()
            .map(|(table, requests)| {
                let items: Vec<&Json> = match operation {
                    "BatchGetItem" => requests["Keys"].as_array().expect("Keys").iter().collect(),
                    _ => requests
                        .as_array()
                        .expect("write requests")
                        .iter()
                        .map(|r| {
                            if r["PutRequest"].is_object() {
                                &r["PutRequest"]["Item"]
                            } else {
                                &r["DeleteRequest"]["Key"]
                            }
                        })
                        .collect(),
                };
                let keys = items.into_iter().map(|item| pk(template, item, &origin)).collect();
                Call::dynamodb(origin.clone(), operation, &json!(table), None, keys)
            })
            .collect(),
        // Anything else (PartiQL, table administration): its own action, no item keys.
        other => vec![Call::dynamodb(origin, other, table, None, vec![])],
    }
}

/// Every DynamoDB and KMS request `proxy` saw, as the authorizations they need. A request to
/// any other service, or without an `X-Amz-Target`, fails the test.
fn recorded(template: &Template, proxy: &FaultProxy) -> Vec<Call> {
    let mut calls = Vec::new();
    for target in proxy.targets() {
        let bodies = proxy.requests(&target);
        if let Some(operation) = target.strip_prefix("DynamoDB_20120810.") {
            for (n, body) in bodies.iter().enumerate() {
                calls.extend(dynamodb_calls(template, operation, n + 1, body));
            }
        } else if let Some(operation) = target.strip_prefix("TrentService.") {
            for (n, body) in bodies.iter().enumerate() {
                let context = body["EncryptionContext"]
                    .as_object()
                    .map(|c| c.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                    .unwrap_or_default();
                calls.push(Call {
                    origin: format!("{operation} #{}", n + 1),
                    action: format!("kms:{operation}"),
                    table: None,
                    index: None,
                    leading_keys: vec![],
                    encryption_context: context,
                });
            }
        } else {
            panic!("a request this test cannot check went through the proxy: {target:?} {bodies:?}");
        }
    }
    calls
}

// ---- the check ---------------------------------------------------------------------------------

fn allows(statement: &Statement, call: &Call, tables: &[String]) -> bool {
    if !statement.allows_action(&call.action) {
        return false;
    }
    if call.action.starts_with("dynamodb:") {
        let resource_ok = statement.resources.iter().any(|r| match (r, &call.index) {
            (Resource::Any, _) => true,
            (_, _) if call.table.as_ref().is_none_or(|t| !tables.contains(t)) => false,
            (Resource::Table, None) => true,
            (Resource::TableIndex(pattern), Some(index)) => string_like(pattern, index),
            _ => false,
        });
        resource_ok && statement.leading_keys.allows(&call.leading_keys)
    } else {
        // KMS: resources and aws:ResourceTag conditions are not checked (see the module docs).
        statement.encryption_context.iter().all(|(key, values)| {
            call.encryption_context
                .get(key)
                .is_some_and(|value| values.iter().any(|v| v == value || v == TABLE_REF && tables.contains(value)))
        })
    }
}

/// Fails unless every request `proxy` recorded is allowed to `binary`'s role, and every grant of
/// that role was used by one of them.
fn assert_policy_matches(binary: &str, proxy: &FaultProxy, envs: &[&TestEnv]) {
    assert_policy_matches_with(&[], binary, proxy, envs)
}

/// [`assert_policy_matches`] for the template deployed with `parameters`.
fn assert_policy_matches_with(parameters: &[(&str, &str)], binary: &str, proxy: &FaultProxy, envs: &[&TestEnv]) {
    let template = Template::with_parameters(parameters);
    let role = template.role(binary);
    let tables: Vec<String> = envs.iter().map(|e| e.app.store.table().to_string()).collect();
    let calls = recorded(&template, proxy);
    let mut problems = Vec::new();
    for call in &calls {
        if !role.statements.iter().any(|s| allows(s, call, &tables)) {
            problems.push(format!(
                "{binary}: {} is not allowed by template.yaml{}",
                call.describe(),
                call.table
                    .as_ref()
                    .filter(|t| !tables.contains(t))
                    .map(|t| format!(" (table {t})"))
                    .unwrap_or_default()
            ));
        }
    }
    for statement in &role.statements {
        for action in &statement.actions {
            if statement.is_dynamodb() {
                for pattern in statement.leading_keys.patterns() {
                    let used = calls.iter().any(|c| {
                        statement.allows_action(&c.action)
                            && string_like(&action.to_lowercase(), &c.action.to_lowercase())
                            && allows(statement, c, &tables)
                            && (c.leading_keys.is_empty() && pattern.is_none()
                                || c.leading_keys.iter().any(|k| statement.leading_keys.matches(pattern, k)))
                    });
                    if !used {
                        problems.push(format!(
                            "{binary}: template.yaml grants {action} on {} ({}), but none of this function's flows \
                             used it: drop the grant, or add the flow that needs it to tests/tests/iam.rs",
                            pattern.unwrap_or("every item"),
                            statement.sid
                        ));
                    }
                }
            } else {
                let used = calls.iter().any(|c| {
                    string_like(&action.to_lowercase(), &c.action.to_lowercase()) && allows(statement, c, &tables)
                });
                if !used {
                    problems.push(format!(
                        "{binary}: template.yaml grants {action} with {:?} ({}), but none of this function's flows \
                         used it",
                        statement.encryption_context, statement.sid
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "template.yaml and the code disagree:\n{}", problems.join("\n"));
}

// ---- the template on its own -------------------------------------------------------------------

#[test]
fn every_function_is_driven_and_no_function_may_write_the_signing_key_registry_or_clients() {
    let template = Template::load();
    let binaries: BTreeSet<&str> = template.roles.iter().map(|r| r.binary.as_str()).collect();
    assert_eq!(binaries, DRIVEN.iter().copied().collect(), "every function of template.yaml has its flows here");
    let protected = ["SIGNKEY", "CLIENT#any-client"];
    for role in &template.roles {
        for statement in role.statements.iter().filter(|s| s.is_dynamodb()) {
            let at = format!("{}/{}", role.binary, statement.sid);
            assert_ne!(
                statement.leading_keys,
                LeadingKeys::Unrestricted,
                "{at}: every DynamoDB grant names the partition keys it may touch (dynamodb:LeadingKeys)"
            );
            // ForAllValues is true for a request without leading keys, which a Scan is.
            assert!(!statement.allows_action("dynamodb:Scan"), "{at}: a Scan passes any LeadingKeys condition");
            for action in WRITE_ACTIONS.iter().filter(|a| statement.allows_action(a)) {
                for key in protected {
                    assert!(
                        !statement.leading_keys.allows(&[key.to_string()]),
                        "{at}: {action} on {key} would let this function forge what every verifier trusts"
                    );
                }
            }
        }
    }
}

#[test]
fn string_like_follows_iam() {
    assert!(string_like("JTI#*", "JTI#abc"));
    assert!(string_like("JTI#*", "JTI#"));
    assert!(!string_like("JTI#*", "XJTI#abc"));
    assert!(!string_like("USER#*", "USERNAME#bob"));
    assert!(string_like("a?c", "abc"));
    assert!(!string_like("a?c", "ac"));
    assert!(string_like("*", "SIGNKEY"));
    assert!(string_like("SIGNKEY", "SIGNKEY"));
    assert!(!string_like("SIGNKEY", "SIGNKEY2"));
}

// ---- requests ----------------------------------------------------------------------------------

const REDIRECT: &str = "https://app.example/callback";

async fn token(app: &App, params: &[(&str, &str)]) -> Reply {
    reply(token::handle(app, form_request("/oauth/token", params)).await)
}

async fn token_basic(app: &App, id: &str, secret: &str, params: &[(&str, &str)]) -> Reply {
    reply(token::handle(app, with_basic(form_request("/oauth/token", params), id, secret)).await)
}

async fn wechat_login(app: &App, mp: &MiniProgram, code: &str) -> Reply {
    token(app, &[("grant_type", WECHAT_GRANT), ("client_id", &mp.client_id), ("code", code)]).await
}

async fn refresh(app: &App, client_id: &str, refresh_token: &str) -> Reply {
    token(app, &[("grant_type", "refresh_token"), ("client_id", client_id), ("refresh_token", refresh_token)]).await
}

fn code_query(client_id: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "s"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

/// The sign-in page, opened through `app`.
async fn open_page(app: &App, query: &[(&str, &str)]) -> Result<SignInPage, wxauth::http::Response> {
    read_sign_in_page(authorize::handle(app, sign_in_page_request(query)).await)
}

/// The sign-in form of `page`, posted through `app` with the browser's cookie.
async fn submit(app: &App, page: &SignInPage, fields: &[(&str, &str)]) -> wxauth::http::Response {
    authorize::handle(app, sign_in_form_request(page, fields, true)).await
}

/// A code for `username`, obtained through the test's own deployment (setup, not the function
/// under test).
async fn code_via_env(env: &TestEnv, client_id: &str, username: &str, password: &str) -> String {
    let page = open_sign_in(env, &code_query(client_id)).await.expect("the sign-in page");
    let res =
        submit_sign_in(env, &page, &[("username", username), ("password", password), ("decision", "approve")], true)
            .await;
    location_params(&res).get("code").expect("a code").clone()
}

// ---- the functions' flows ----------------------------------------------------------------------

#[tokio::test]
async fn the_token_functions_policy_allows_exactly_what_its_grants_do() {
    token_function_flows(KeyCustody::Envelope, "envelope").await;
}

#[tokio::test]
async fn the_token_functions_policy_with_kms_held_keys_allows_exactly_what_its_grants_do() {
    token_function_flows(KeyCustody::Kms, "kms").await;
}

/// Every flow of the token function, its signing key held in `custody`, checked against the
/// template deployed with `SigningKeyCustody` = `parameter`.
async fn token_function_flows(custody: KeyCustody, parameter: &str) {
    let env = TestEnv::with_key(wxauth_provision::DEFAULT_ALGORITHM, custody, |_| {}).await;
    let proxy = FaultProxy::start().await;
    let app = proxy.app(&env).await;
    let (shop, game) = (env.miniprogram().await, env.miniprogram().await);

    // WeChat: a first login, a returning one, a unionid recorded on a known openid, an openid
    // linked to a user by its unionid, a first login with a unionid, and a unionid that
    // already belongs to another user (only the openid mapping is marked).
    let first = wechat_login(&app, &shop, "ok-tia").await;
    assert_eq!(first.status, 200, "{}", first.json);
    for (mp, code) in [
        (&shop, "ok-tia~2"),
        (&shop, "ok-tia~3.u"),
        (&game, "ok-tia.u"),
        (&shop, "ok-uma.u"),
        (&game, "ok-uma"),
        (&game, "ok-uma~2.u"),
    ] {
        let login = wechat_login(&app, mp, code).await;
        assert_eq!(login.status, 200, "{code}: {}", login.json);
    }
    let bad_code = wechat_login(&app, &shop, "err-40029").await;
    assert_eq!((bad_code.status, bad_code.error()), (400, "invalid_grant"));
    let unknown_client = token(&app, &[("grant_type", WECHAT_GRANT), ("client_id", "nobody"), ("code", "x")]).await;
    assert_eq!(unknown_client.status, 401);

    // Refresh: rotation, reuse (revokes the family), an unknown token, and a retry within the
    // reuse grace (replaces the successor).
    let rotated = refresh(&app, &shop.client_id, first.str("refresh_token")).await;
    assert_eq!(rotated.status, 200, "{}", rotated.json);
    let reused = refresh(&app, &shop.client_id, first.str("refresh_token")).await;
    assert_eq!((reused.status, reused.error()), (400, "invalid_grant"));
    let unknown = refresh(&app, &shop.client_id, "never-issued").await;
    assert_eq!((unknown.status, unknown.error()), (400, "invalid_grant"));
    let mut graced = proxy.app(&env).await;
    graced.config.refresh_reuse_grace = Duration::from_secs(30);
    let login = env.login(&shop, "ok-wes").await;
    for attempt in ["rotates", "replaces the successor"] {
        let reply = refresh(&graced, &shop.client_id, login.str("refresh_token")).await;
        assert_eq!(reply.status, 200, "{attempt}: {}", reply.json);
    }

    // authorization_code: redemption, then a replay (revokes what the code issued).
    let (web, _) = env.client(ClientKind::Public, &[], &[REDIRECT], "openid", None).await;
    env.password_user("tcode", "tcode's password").await;
    let code = code_via_env(&env, &web, "tcode", "tcode's password").await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("client_id", web.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", PKCE_VERIFIER),
    ];
    let redeemed = token(&app, &exchange).await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.json);
    let replayed = token(&app, &exchange).await;
    assert_eq!((replayed.status, replayed.error()), (400, "invalid_grant"));

    // client_credentials, with the right secret and a wrong one.
    let (service, secret) = env.client(ClientKind::Confidential, &[], &[], "reports:read", None).await;
    let secret = secret.expect("a secret");
    let grant = [("grant_type", "client_credentials")];
    assert_eq!(token_basic(&app, &service, &secret, &grant).await.status, 200);
    assert_eq!(token_basic(&app, &service, "wrong", &grant).await.status, 401);

    // password: a wrong password then the right one (counts, then clears the failures), and a
    // username locked by repeated failures.
    let (first_party, secret) =
        env.client(ClientKind::Confidential, &["password", "refresh_token"], &[], "openid", None).await;
    let secret = secret.expect("a secret");
    env.password_user("tpat", "tpat's password").await;
    env.password_user("tlou", "tlou's password").await;
    let password = |username: &'static str, password: &'static str| {
        let (app, first_party, secret) = (&app, first_party.clone(), secret.clone());
        async move {
            let params = [("grant_type", "password"), ("username", username), ("password", password)];
            token_basic(app, &first_party, &secret, &params).await
        }
    };
    assert_eq!(password("tpat", "wrong").await.status, 400);
    let signed_in = password("tpat", "tpat's password").await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.json);
    for _ in 0..wxauth::store::password_failures::MAX_FAILURES {
        assert_eq!(password("tlou", "wrong").await.status, 400);
    }
    assert_eq!(password("tlou", "tlou's password").await.status, 400, "locked");

    assert_policy_matches_with(&[("SigningKeyCustody", parameter)], "token", &proxy, &[&env]);
}

#[tokio::test]
async fn the_authorize_functions_policy_allows_exactly_what_its_pages_do() {
    authorize_function_flows(KeyCustody::Envelope, "envelope").await;
}

#[tokio::test]
async fn the_authorize_functions_policy_with_kms_held_keys_allows_exactly_what_its_pages_do() {
    authorize_function_flows(KeyCustody::Kms, "kms").await;
}

async fn authorize_function_flows(custody: KeyCustody, parameter: &str) {
    let env = TestEnv::with_key(wxauth_provision::DEFAULT_ALGORITHM, custody, |_| {}).await;
    let proxy = FaultProxy::start().await;
    let app = proxy.app(&env).await;
    let (web, _) = env.client(ClientKind::Public, &[], &[REDIRECT], "openid", None).await;
    let (implicit, _) = env.client(ClientKind::Public, &["implicit"], &[REDIRECT], "openid", None).await;
    env.password_user("ava", "ava's password").await;
    let right = [("username", "ava"), ("password", "ava's password"), ("decision", "approve")];

    // The code flow: the page, a wrong password (the page again), the right one (a code), and
    // the same form posted again.
    let page = open_page(&app, &code_query(&web)).await.expect("the page");
    let wrong = submit(&app, &page, &[("username", "ava"), ("password", "nope"), ("decision", "approve")]).await;
    assert_eq!(wrong.status(), 200);
    assert!(location_params(&submit(&app, &page, &right).await).contains_key("code"));
    assert_eq!(submit(&app, &page, &right).await.status(), 400, "a sign-in request answers once");

    // Denied.
    let page = open_page(&app, &code_query(&web)).await.expect("the page");
    let denied = location_params(&submit(&app, &page, &[("decision", "deny")]).await);
    assert_eq!(denied.get("error").map(String::as_str), Some("access_denied"));

    // Implicit: an access token in the fragment.
    let query = [("response_type", "token"), ("client_id", implicit.as_str()), ("redirect_uri", REDIRECT)];
    let page = open_page(&app, &query).await.expect("the page");
    assert!(location_params(&submit(&app, &page, &right).await).contains_key("access_token"));

    // An unknown client: an error page.
    let unknown = open_page(&app, &code_query("nobody")).await.expect_err("an error page");
    assert_eq!(unknown.status(), 400);

    assert_policy_matches_with(&[("SigningKeyCustody", parameter)], "authorize", &proxy, &[&env]);
}

#[tokio::test]
async fn the_revoke_functions_policy_allows_exactly_what_revocation_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.app(&env).await;
    let (mp, other) = (env.miniprogram().await, env.miniprogram().await);
    let login = env.login(&mp, "ok-rae").await;
    let revoke = |client_id: String, token: String, hint: Option<&'static str>| {
        let app = &app;
        async move {
            let mut params = vec![("client_id", client_id.as_str()), ("token", token.as_str())];
            params.extend(hint.map(|h| ("token_type_hint", h)));
            reply(revoke::handle(app, form_request("/oauth/revoke", &params)).await)
        }
    };
    let foreign = revoke(other.client_id.clone(), login.str("refresh_token").into(), None).await;
    assert_eq!((foreign.status, foreign.error()), (400, "unauthorized_client"));
    assert_eq!(revoke(mp.client_id.clone(), login.str("refresh_token").into(), None).await.status, 200);
    let access = login.str("access_token").to_string();
    assert_eq!(revoke(mp.client_id.clone(), access.clone(), Some("access_token")).await.status, 200);
    assert_eq!(revoke(mp.client_id.clone(), access, None).await.status, 200, "refresh first, then access");
    assert_eq!(revoke(mp.client_id.clone(), "never-issued".into(), None).await.status, 200);
    let unknown_client = revoke("nobody".into(), "x".into(), None).await;
    assert_eq!(unknown_client.status, 401);

    assert_policy_matches("revoke", &proxy, &[&env]);
}

#[tokio::test]
async fn the_introspect_functions_policy_allows_exactly_what_introspection_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.app(&env).await;
    // A first-party confidential client: it may introspect its own refresh tokens too.
    let (rs, secret) =
        env.client(ClientKind::Confidential, &["password", "refresh_token"], &[], "openid", Some(ISSUER)).await;
    let secret = secret.expect("a secret");
    env.password_user("ira", "ira's password").await;
    let grant = [("grant_type", "password"), ("username", "ira"), ("password", "ira's password")];
    let tokens = env.post_basic("/oauth/token", &rs, &secret, &grant).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    let introspect = |token: String| {
        let (app, rs, secret) = (&app, &rs, &secret);
        async move {
            let req = with_basic(form_request("/oauth/introspect", &[("token", &token)]), rs, secret);
            reply(introspect::handle(app, req).await)
        }
    };
    for token in [tokens.str("access_token"), tokens.str("refresh_token")] {
        let answer = introspect(token.to_string()).await;
        assert_eq!(answer.json["active"], true, "{}", answer.json);
    }
    assert_eq!(introspect("garbage".into()).await.json["active"], false);
    env.post_basic("/oauth/revoke", &rs, &secret, &[("token", tokens.str("access_token"))]).await;
    assert_eq!(introspect(tokens.str("access_token").into()).await.json["active"], false, "revoked");
    let (public, _) = env.client(ClientKind::Public, &[], &[REDIRECT], "openid", None).await;
    let req = form_request("/oauth/introspect", &[("client_id", &public), ("token", "x")]);
    assert_eq!(reply(introspect::handle(&app, req).await).status, 401);

    assert_policy_matches("introspect", &proxy, &[&env]);
}

#[tokio::test]
async fn the_userinfo_functions_policy_allows_exactly_what_userinfo_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.app(&env).await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-uli.u").await;
    let access = login.str("access_token");
    for method in ["GET", "POST"] {
        let info = reply(userinfo::handle(&app, bearer_request(method, "/userinfo", access, None)).await);
        assert_eq!(info.status, 200, "{method}: {}", info.json);
    }
    env.call(form_request("/oauth/revoke", &[("client_id", &mp.client_id), ("token", access)])).await;
    assert_eq!(reply(userinfo::handle(&app, bearer_request("GET", "/userinfo", access, None)).await).status, 401);
    assert_eq!(reply(userinfo::handle(&app, bearer_request("GET", "/userinfo", "garbage", None)).await).status, 401);

    assert_policy_matches("userinfo", &proxy, &[&env]);
}

#[tokio::test]
async fn the_wechat_decrypt_functions_policy_allows_exactly_what_decryption_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.app(&env).await;
    let mp = env.miniprogram().await;
    let first = env.login(&mp, "ok-dee").await;
    let decrypt = |access: &str, body: Json| {
        let req = bearer_request("POST", "/wechat/decrypt", access, Some(body));
        let app = &app;
        async move { reply(wechat_decrypt::handle(app, req).await) }
    };
    let profile = encrypted_profile(&mock_session_key("dee"), &mp.appid, "Dee");
    assert_eq!(decrypt(first.str("access_token"), profile.clone()).await.status, 200);
    // After a second login the data is still under the previous key: two decryptions.
    let second = env.login(&mp, "ok-dee~2").await;
    assert_eq!(decrypt(second.str("access_token"), profile).await.status, 200);
    let garbled = decrypt(second.str("access_token"), json!({"encrypted_data": "AAAA", "iv": "AAAA"})).await;
    assert_eq!(garbled.status, 400);

    assert_policy_matches("wechat-decrypt", &proxy, &[&env]);
}

#[tokio::test]
async fn the_wechat_phone_functions_policy_allows_exactly_what_phone_numbers_need() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-pia").await;
    async fn phone(app: &App, access: &str, code: &str) -> u16 {
        reply(
            wechat_phone::handle(app, bearer_request("POST", "/wechat/phone", access, Some(json!({"code": code}))))
                .await,
        )
        .status
    }
    let access = login.str("access_token");
    // One container fetches the server access token and caches it in the table; a second one
    // reads it from there; WeChat then rejects it and the second renews it.
    let (first, second) = (proxy.app(&env).await, proxy.app(&env).await);
    assert_eq!(phone(&first, access, "phone-13800000001").await, 200);
    assert_eq!(phone(&second, access, "phone-13800000002").await, 200);
    env.mock_post("/mock/access-tokens/invalidate", json!({"appid": mp.appid})).await;
    assert_eq!(phone(&second, access, "phone-13800000003").await, 200);
    assert_eq!(phone(&second, access, "err-40029").await, 400);

    assert_policy_matches("wechat-phone", &proxy, &[&env]);
}

#[tokio::test]
async fn the_wechat_session_functions_policy_allows_exactly_what_the_session_check_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-sia").await;
    // A first container fetches and caches the server access token, a second reads it.
    let (first, second) = (proxy.app(&env).await, proxy.app(&env).await);
    for app in [&first, &second] {
        let req = bearer_request("GET", "/wechat/session", login.str("access_token"), None);
        let answer = reply(wechat_session::handle(app, req).await);
        assert_eq!((answer.status, answer.json["valid"].as_bool()), (200, Some(true)), "{}", answer.json);
    }

    assert_policy_matches("wechat-session", &proxy, &[&env]);
}

#[tokio::test]
async fn the_jwks_and_metadata_functions_policies_allow_exactly_what_they_do() {
    let env = TestEnv::new().await;
    let get = || http::Request::builder().method("GET").body(Body::Empty).expect("request");
    let proxy = FaultProxy::start().await;
    assert_eq!(reply(jwks::handle(&proxy.app(&env).await, get()).await).status, 200);
    assert_policy_matches("jwks", &proxy, &[&env]);
    let proxy = FaultProxy::start().await;
    assert_eq!(reply(metadata::handle(&proxy.app(&env).await, get()).await).status, 200);
    assert!(recorded(&Template::load(), &proxy).is_empty(), "the metadata function calls no AWS service");
    assert_policy_matches("metadata", &proxy, &[&env]);
}
