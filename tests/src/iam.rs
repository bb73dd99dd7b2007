//! An IAM policy evaluator for template.yaml's function roles, held against the DynamoDB and
//! KMS requests a [`FaultProxy`] recorded. moto enforces no IAM, so tests/tests/iam.rs drives
//! each function's flows through the proxy and asks [`assert_policy_matches`] whether every
//! recorded request is allowed, and every grant used. How a request is authorized:
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
//! - SQS: the operation becomes the action, a batch its single form (`SendMessageBatch` needs
//!   `sqs:SendMessage`). Not checked: the queue (moto's queue URLs are not the template's ARNs).
//!
//! - Conditional policies (`!If [Condition, {Statement: ...}, !Ref AWS::NoValue]`) are taken as a
//!   deployment with given parameters takes them ([`template::Conditions`]), and `!Ref Table` in
//!   a condition value is the test deployment's table.
//!
//! The other way round, every grant must be used: each (action, key pattern) of a DynamoDB
//! statement and each (action, encryption context) of a KMS statement must be exercised by at
//! least one recorded request, so that a grant the code no longer needs fails the test too.
//! Anything in template.yaml this module does not understand (a SAM policy template, a Deny, an
//! unknown condition, an IAM resource of its own) fails the test rather than being ignored.
//! template.yaml itself is read by [`crate::template`].

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use serde_norway::Value as Yaml;

use crate::TestEnv;
use crate::faults::FaultProxy;
use crate::template::{self, Conditions};

/// Item-level DynamoDB actions that change the table.
pub const WRITE_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
];

// ---- the template's grants ----------------------------------------------------------------------

/// A statement's `Resource`, as far as the table is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// `!GetAtt Table.Arn`.
    Table,
    /// `!Sub "${Table.Arn}/index/<pattern>"`.
    TableIndex(String),
    /// `"*"`.
    Any,
    /// Anything else (a KMS key, a log group): never the table.
    Other(String),
}

/// A statement's condition on the partition keys of the items it allows.
#[derive(Debug, Clone, PartialEq)]
pub enum LeadingKeys {
    /// No `dynamodb:LeadingKeys` condition: every item.
    Unrestricted,
    /// `ForAllValues:StringLike`.
    Like(Vec<String>),
    /// `ForAllValues:StringEquals`.
    Equals(Vec<String>),
}

impl LeadingKeys {
    /// Its values; `None` for no condition.
    pub fn patterns(&self) -> Vec<Option<&str>> {
        match self {
            LeadingKeys::Unrestricted => vec![None],
            LeadingKeys::Like(p) | LeadingKeys::Equals(p) => p.iter().map(|p| Some(p.as_str())).collect(),
        }
    }

    /// Whether `key` matches one value (`pattern`) of the condition.
    pub fn matches(&self, pattern: Option<&str>, key: &str) -> bool {
        match (self, pattern) {
            (_, None) | (LeadingKeys::Unrestricted, _) => true,
            (LeadingKeys::Like(_), Some(p)) => string_like(p, key),
            (LeadingKeys::Equals(_), Some(p)) => p == key,
        }
    }

    /// IAM's `ForAllValues`: every key matches one of the values (vacuously true for none).
    pub fn allows(&self, keys: &[String]) -> bool {
        keys.iter().all(|k| self.patterns().into_iter().any(|p| self.matches(p, k)))
    }
}

/// One `Allow` statement of a function's policies.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: String,
    pub actions: Vec<String>,
    pub resources: Vec<Resource>,
    pub leading_keys: LeadingKeys,
    /// `StringEquals` on `kms:EncryptionContext:<key>`: key -> allowed values.
    pub encryption_context: BTreeMap<String, Vec<String>>,
}

impl Statement {
    /// Whether one of its actions (with IAM's wildcards) is `action`.
    pub fn allows_action(&self, action: &str) -> bool {
        self.actions.iter().any(|a| string_like(&a.to_lowercase(), &action.to_lowercase()))
    }

    /// Whether it grants DynamoDB actions.
    pub fn is_dynamodb(&self) -> bool {
        self.actions.iter().any(|a| a.to_lowercase().starts_with("dynamodb:") || a == "*")
    }
}

/// A function's role: the binary it runs and the statements it is granted.
#[derive(Debug)]
pub struct Role {
    pub binary: String,
    pub statements: Vec<Statement>,
}

/// What template.yaml grants, as a deployment with given parameters takes it: each function's
/// role, and the table's partition-key attributes.
pub struct Policies {
    pub roles: Vec<Role>,
    table_hash_key: String,
    index_hash_keys: BTreeMap<String, String>,
}

/// The value of `!Ref Table` in a condition: stands for the deployment's table.
const TABLE_REF: &str = "${Table}";

impl Policies {
    /// The template as deployed with its parameters' defaults.
    pub fn load() -> Self {
        Self::with_parameters(&[])
    }

    /// The template as deployed with `overrides` of its parameters' defaults.
    pub fn with_parameters(overrides: &[(&str, &str)]) -> Self {
        let conditions = Conditions::evaluate(overrides);
        for (name, kind) in template::resources() {
            assert!(
                !kind.starts_with("AWS::IAM::") && kind != "AWS::Lambda::Function",
                "{name} ({kind}) grants or runs something tests/src/iam.rs does not see: teach it"
            );
        }
        let roles = template::functions().iter().map(|f| role(f, &conditions)).collect();
        let mut tables = template::tables();
        assert_eq!(tables.len(), 1, "one table: the policies' `!GetAtt Table.Arn` would be ambiguous");
        let table = tables.remove(0);
        assert_eq!(table.logical_id, "Table", "the policies name the table `Table`");
        Policies { roles, table_hash_key: table.hash_key, index_hash_keys: table.index_hash_keys }
    }

    /// The role of the function running `binary`.
    pub fn role(&self, binary: &str) -> &Role {
        self.roles.iter().find(|r| r.binary == binary).unwrap_or_else(|| panic!("no function runs {binary}"))
    }
}

fn role(function: &template::Function, conditions: &Conditions) -> Role {
    let name = &function.logical_id;
    assert!(!function.own_role, "{name}: a role of its own is not understood here: teach the test");
    let mut statements = Vec::new();
    // `!If [Condition, policy, !Ref AWS::NoValue]`: the branch the deployment takes.
    for policy in function.policies.iter().filter_map(|p| conditions.take(p)) {
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
    Role { binary: function.binary.clone(), statements }
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
        other => panic!("a resource tests/src/iam.rs does not understand: {other:?}"),
    }
}

fn parse_statement(function: &str, statement: &Yaml) -> Statement {
    let sid = statement.get("Sid").and_then(Yaml::as_str).unwrap_or("(no Sid)").to_string();
    let at = format!("{function}/{sid}");
    for key in statement.as_mapping().expect("a statement").keys() {
        let key = key.as_str().expect("a key");
        assert!(
            matches!(key, "Sid" | "Effect" | "Action" | "Resource" | "Condition"),
            "{at}: `{key}` is not understood by tests/src/iam.rs: teach it"
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
pub fn string_like(pattern: &str, value: &str) -> bool {
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
pub struct Call {
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

fn pk(policies: &Policies, item: &Json, what: &str) -> String {
    item[&policies.table_hash_key]["S"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no string partition key in {item}"))
        .to_string()
}

/// The partition-key value of a Query: what its key condition compares the (table's or
/// index's) partition key with.
fn query_partition_key(policies: &Policies, body: &Json) -> Vec<String> {
    let index = body["IndexName"].as_str();
    let hash_key = match index {
        Some(index) => policies.index_hash_keys.get(index).unwrap_or_else(|| panic!("no index {index}")),
        None => &policies.table_hash_key,
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

fn dynamodb_calls(policies: &Policies, operation: &str, n: usize, body: &Json) -> Vec<Call> {
    let origin = format!("{operation} #{n}");
    let key = |field: &str| vec![pk(policies, &body[field], &origin)];
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
            vec![Call::dynamodb(origin, operation, table, index, query_partition_key(policies, body))]
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
                let keys = vec![pk(policies, &inner[field], &origin)];
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
                let keys = items.into_iter().map(|item| pk(policies, item, &origin)).collect();
                Call::dynamodb(origin.clone(), operation, &json!(table), None, keys)
            })
            .collect(),
        // Anything else (PartiQL, table administration): its own action, no item keys.
        other => vec![Call::dynamodb(origin, other, table, None, vec![])],
    }
}

/// Every DynamoDB, KMS and SQS request `proxy` saw, as the authorizations they need. A request to
/// any other service, or without an `X-Amz-Target`, fails the test.
pub fn recorded(policies: &Policies, proxy: &FaultProxy) -> Vec<Call> {
    let mut calls = Vec::new();
    for target in proxy.targets() {
        let bodies = proxy.requests(&target);
        if let Some(operation) = target.strip_prefix("DynamoDB_20120810.") {
            for (n, body) in bodies.iter().enumerate() {
                calls.extend(dynamodb_calls(policies, operation, n + 1, body));
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
        } else if let Some(operation) = target.strip_prefix("AmazonSQS.") {
            // A batch is authorized as its single form (SendMessageBatch as sqs:SendMessage).
            let action = operation.strip_suffix("Batch").unwrap_or(operation);
            for n in 0..bodies.len() {
                calls.push(Call {
                    origin: format!("{operation} #{}", n + 1),
                    action: format!("sqs:{action}"),
                    table: None,
                    index: None,
                    leading_keys: vec![],
                    encryption_context: BTreeMap::new(),
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
pub fn assert_policy_matches(binary: &str, proxy: &FaultProxy, envs: &[&TestEnv]) {
    assert_policy_matches_with(&[], binary, proxy, envs)
}

/// [`assert_policy_matches`] for the template deployed with `parameters`.
pub fn assert_policy_matches_with(parameters: &[(&str, &str)], binary: &str, proxy: &FaultProxy, envs: &[&TestEnv]) {
    let policies = Policies::with_parameters(parameters);
    let role = policies.role(binary);
    let tables: Vec<String> = envs.iter().map(|e| e.app.store.table().to_string()).collect();
    let calls = recorded(&policies, proxy);
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

#[cfg(test)]
mod tests {
    use super::*;

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

    fn statement(yaml: &str) -> Statement {
        parse_statement("test", &serde_norway::from_str(yaml).expect("yaml"))
    }

    fn call(action: &str, table: &str, keys: &[&str]) -> Call {
        let keys = keys.iter().map(|k| k.to_string()).collect();
        Call::dynamodb("test".into(), action, &json!(table), None, keys)
    }

    #[test]
    fn leading_keys_are_for_all_values_and_like_takes_wildcards() {
        let like = LeadingKeys::Like(vec!["RT#*".into(), "FAM#?".into()]);
        assert!(like.allows(&["RT#abc".into(), "FAM#1".into()]));
        assert!(!like.allows(&["RT#abc".into(), "FAM#12".into()]), "every key must match");
        assert!(like.allows(&[]), "ForAllValues holds for no keys at all");
        let equals = LeadingKeys::Equals(vec!["RT#*".into()]);
        assert!(!equals.allows(&["RT#abc".into()]) && equals.allows(&["RT#*".into()]), "no wildcards in Equals");
    }

    #[test]
    fn a_dynamodb_statement_allows_its_actions_on_its_keys_in_the_deployments_table_only() {
        let granted = statement(
            "{Sid: Rt, Effect: Allow, Action: [dynamodb:GetItem], Resource: !GetAtt Table.Arn, \
             Condition: {ForAllValues:StringLike: {dynamodb:LeadingKeys: ['RT#*']}}}",
        );
        let tables = ["test-table".to_string()];
        assert!(allows(&granted, &call("GetItem", "test-table", &["RT#x"]), &tables));
        assert!(!allows(&granted, &call("PutItem", "test-table", &["RT#x"]), &tables), "another action");
        assert!(!allows(&granted, &call("GetItem", "test-table", &["CLIENT#x"]), &tables), "another key");
        assert!(!allows(&granted, &call("GetItem", "another-table", &["RT#x"]), &tables), "another table");
    }

    #[test]
    fn a_kms_statement_holds_the_encryption_context_to_its_values() {
        let granted = statement(
            "{Effect: Allow, Action: kms:Decrypt, Resource: '*', \
             Condition: {StringEquals: {'kms:EncryptionContext:table': !Ref Table}}}",
        );
        let decrypt = |context: &[(&str, &str)]| Call {
            origin: "test".into(),
            action: "kms:Decrypt".into(),
            table: None,
            index: None,
            leading_keys: vec![],
            encryption_context: context.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        let tables = ["test-table".to_string()];
        assert!(allows(&granted, &decrypt(&[("table", "test-table")]), &tables), "!Ref Table is the deployment's");
        assert!(!allows(&granted, &decrypt(&[("table", "other")]), &tables));
        assert!(!allows(&granted, &decrypt(&[]), &tables), "no context, no grant");
    }

    #[test]
    #[should_panic(expected = "only Allow")]
    fn a_deny_is_not_understood_rather_than_ignored() {
        statement("{Effect: Deny, Action: '*', Resource: '*'}");
    }

    #[test]
    #[should_panic(expected = "is not understood here")]
    fn an_unknown_condition_is_not_understood_rather_than_ignored() {
        statement("{Effect: Allow, Action: '*', Resource: '*', Condition: {IpAddress: {aws:SourceIp: 10.0.0.0/8}}}");
    }

    #[test]
    fn the_templates_roles_follow_the_custody_parameter() {
        let kms_actions = |custody: &str| -> Vec<String> {
            let policies = Policies::with_parameters(&[("SigningKeyCustody", custody)]);
            let role = policies.role("token");
            let mut actions: Vec<String> = role
                .statements
                .iter()
                .flat_map(|s| s.actions.iter().filter(|a| a.starts_with("kms:")).cloned())
                .collect();
            actions.sort();
            actions.dedup();
            actions
        };
        assert!(kms_actions("kms").contains(&"kms:Sign".to_string()), "{:?}", kms_actions("kms"));
        assert!(!kms_actions("envelope").contains(&"kms:Sign".to_string()), "{:?}", kms_actions("envelope"));
    }
}
