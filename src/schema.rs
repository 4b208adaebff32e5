//! `blocklist schema`: the JSON Schema (draft 2020-12) of desired-state and
//! include files, for editors (the YAML language server reads it through a
//! `# yaml-language-server: $schema=…` comment, as `blocklist.yaml.example`
//! shows). The file format is docs/file-format.md; the schema says what an
//! editor can check without reading other files: keys, kinds and their
//! settings, the shapes of phones, BSUIDs and dates. `validate` remains the
//! judge: it also checks includes, duplicates, conflicts and capacity.
//!
//! A copy is committed as `schema/blocklist.schema.json`; a test keeps it
//! equal to this output.

use serde_json::{Value, json};

use crate::config::Kind;
use crate::config::credentials_roles;

/// 8 to 15 digits, the first not 0 (a country code), with the separators
/// people write (`+`, spaces, dashes, dots, parentheses), as the loader
/// reads them.
const PHONE: &str = r"^[+\s().-]*[1-9][\s().-]*([0-9][\s().-]*){7,14}$";
/// Two capital letters (the country), a period, 1 to 128 letters and digits.
/// A parent BSUID (`US.ENT.…`) has a second period, so it does not match.
const BSUID: &str = "^[A-Z]{2}\\.[A-Za-z0-9]{1,128}$";
/// `YYYY-MM-DD` with the days each month has (29 February in any year:
/// leap years are `validate`'s to check).
const DATE: &str = "^[0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-9]))$";
const URL: &str = "^https?://[^?#@\\s]+$";
const VARIABLE: &str = "^[A-Z_][A-Z0-9_]{0,63}$";

/// The schema, pretty-printed with a trailing newline (the committed file).
pub fn text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema as a JSON value.
pub fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "blocklist desired-state or include file",
        "description": "One YAML file per business phone (business_phone, provider, blocked, ...), or an include file holding only blocked: (and include:). See docs/file-format.md; `blocklist validate` checks everything this schema cannot (includes, duplicates, conflicts, capacity).",
        "anyOf": [
            {"$ref": "#/$defs/desired_state"},
            {"$ref": "#/$defs/include_file"}
        ],
        "$defs": {
            "desired_state": {
                "title": "desired-state file",
                "type": "object",
                "required": ["business_phone", "provider"],
                "additionalProperties": false,
                "properties": {
                    "business_phone": {
                        "description": "The business number this file governs, with country code.",
                        "$ref": "#/$defs/phone"
                    },
                    "provider": {"$ref": "#/$defs/provider"},
                    "mode": {
                        "description": "exclusive (default): live users the file does not list are unblocked. additive: only blocks; unblocks only what unblock: names.",
                        "enum": ["exclusive", "additive", null]
                    },
                    "include": {"$ref": "#/$defs/include"},
                    "blocked": {"$ref": "#/$defs/blocked"},
                    "unblock": {
                        "description": "Who must be unblocked (additive mode). Entries cannot expire.",
                        "type": ["array", "null"],
                        "items": {"$ref": "#/$defs/unblock_entry"}
                    },
                    "safety": {"$ref": "#/$defs/safety"}
                }
            },
            "include_file": {
                "title": "include file (a shared list)",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "blocked": {"$ref": "#/$defs/blocked"},
                    "include": {"$ref": "#/$defs/include"}
                }
            },
            "include": {
                "description": "Shared list files, relative to this file.",
                "type": ["array", "null"],
                "items": {"type": "string", "minLength": 1}
            },
            "blocked": {
                "description": "Who must be blocked.",
                "type": ["array", "null"],
                "items": {"$ref": "#/$defs/blocked_entry"}
            },
            "phone": {
                "description": "A phone number with country code: +, spaces, dashes, dots and parentheses are allowed; 8 to 15 digits.",
                "anyOf": [
                    {"type": "string", "pattern": PHONE},
                    {"type": "integer", "minimum": 10_000_000_i64, "maximum": 999_999_999_999_999_i64}
                ]
            },
            "bsuid": {
                "description": "A business-scoped user ID: two capital letters, a period, 1 to 128 letters and digits (not a parent BSUID, CC.ENT.…).",
                "type": "string",
                "pattern": BSUID
            },
            "user": {
                "anyOf": [{"$ref": "#/$defs/phone"}, {"$ref": "#/$defs/bsuid"}]
            },
            "blocked_entry": {
                "anyOf": [
                    {"$ref": "#/$defs/user"},
                    entry_mapping(true)
                ]
            },
            "unblock_entry": {
                "anyOf": [
                    {"$ref": "#/$defs/user"},
                    entry_mapping(false)
                ]
            },
            "safety": {
                "description": "Guards against a bad merge; flags beat these, which beat the defaults.",
                "type": ["object", "null"],
                "additionalProperties": false,
                "properties": {
                    "max_unblocks": {
                        "description": "Refuse a plan that unblocks more users than this (default 100).",
                        "type": "integer",
                        "minimum": 0
                    },
                    "max_unblock_ratio": {
                        "description": "Refuse a plan that unblocks more than this share of the live list (default 0.25).",
                        "type": "number",
                        "minimum": 0,
                        "maximum": 1
                    },
                    "allow_empty": {
                        "description": "Allow an empty desired set while the live list is not empty.",
                        "type": "boolean"
                    }
                }
            },
            "provider": provider(),
            "url": {
                "type": "string",
                "pattern": URL,
                "description": "http:// or https://, without user:password@, query or fragment (credentials come from the environment)."
            }
        }
    })
}

/// A `blocked:` (with `expires`) or `unblock:` entry written as a mapping.
fn entry_mapping(expires: bool) -> Value {
    let mut properties = json!({
        "user": {"$ref": "#/$defs/phone", "description": "The user's phone number."},
        "user_id": {"$ref": "#/$defs/bsuid", "description": "The user's BSUID."},
        "reason": {"type": "string", "description": "Free text, shown in plans."}
    });
    if expires {
        properties["expires"] = json!({
            "type": "string",
            "pattern": DATE,
            "description": "YYYY-MM-DD (UTC): from the next day on the entry is no longer desired."
        });
    }
    json!({
        "type": "object",
        "additionalProperties": false,
        "anyOf": [{"required": ["user"]}, {"required": ["user_id"]}],
        "properties": properties
    })
}

/// `provider:`, one branch per kind, chosen by `kind`.
fn provider() -> Value {
    let branches: Vec<Value> = Kind::ALL.into_iter().map(kind).collect();
    json!({
        "description": "How the tool reaches the block list. Credentials never live here: they come from the environment (credentials: names the variables).",
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {"enum": Kind::ALL.map(Kind::name)}
        },
        "oneOf": branches
    })
}

fn kind(kind: Kind) -> Value {
    let text =
        |description: &str| json!({"type": "string", "minLength": 1, "description": description});
    let mut properties = json!({"kind": {"const": kind.name()}});
    let mut required = vec!["kind"];
    let mut extra = serde_json::Map::new();
    match kind {
        Kind::NxCloud => {
            properties["appkey"] = text("The NxCloud application key (not a secret).");
            properties["base_url"] = json!({"$ref": "#/$defs/url"});
            required.push("appkey");
        }
        Kind::CloudApi => {
            properties["phone_number_id"] = json!({
                "description": "Meta's ID of the business phone number.",
                "anyOf": [
                    {"type": "string", "pattern": "^[^/?#\\s]+$"},
                    {"type": "integer", "minimum": 0}
                ]
            });
            properties["api_version"] = json!({"type": "string", "pattern": "^v[0-9]+(\\.[0-9]+)*$", "description": "Graph API version (default v25.0)."});
            properties["base_url"] = json!({"$ref": "#/$defs/url"});
            properties["endpoint"] = json!({
                "$ref": "#/$defs/url",
                "description": "A Meta-shaped reseller's whole block-users URL, in place of base_url, api_version and phone_number_id."
            });
            properties["auth_header"] = json!({
                "type": "string",
                "pattern": "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
                "description": "The header that carries the token as is (e.g. D360-API-KEY)."
            });
            properties["chunk_size"] = json!({
                "description": "Users per block or unblock call, 1 to 1000.",
                "anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": 1000},
                    {"type": "string", "pattern": "^[0-9]+$"}
                ]
            });
            extra.insert(
                "anyOf".into(),
                json!([{"required": ["phone_number_id"]}, {"required": ["endpoint"]}]),
            );
            extra.insert(
                "dependentSchemas".into(),
                json!({"endpoint": {"not": {"anyOf": [
                    {"required": ["phone_number_id"]},
                    {"required": ["api_version"]},
                    {"required": ["base_url"]}
                ]}}}),
            );
        }
        Kind::Waha => {
            properties["base_url"] = json!({"$ref": "#/$defs/url"});
            properties["session"] = text("The WAHA session (default: default).");
            properties["ledger"] =
                text("Where the ledger of what was blocked lives, relative to this file.");
            required.push("base_url");
        }
        Kind::Sandbox => {}
    }
    let roles = credentials_roles(kind);
    if !roles.is_empty() {
        let names: serde_json::Map<String, Value> = roles
            .iter()
            .map(|(role, default)| {
                let description =
                    format!("The environment variable holding it (default {default}): a name, never the value.");
                (
                    role.to_string(),
                    json!({"type": "string", "pattern": VARIABLE, "description": description}),
                )
            })
            .collect();
        properties["credentials"] = json!({
            "description": "The environment variables of this file's credentials, for a second account of this kind.",
            "type": "object",
            "additionalProperties": false,
            "properties": names
        });
    }
    let mut branch = json!({
        "properties": properties,
        "required": required,
        "additionalProperties": false
    });
    if let Value::Object(map) = &mut branch {
        map.extend(extra);
    }
    branch
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schema/blocklist.schema.json` is what editors fetch: it must be
    /// what `blocklist schema` prints. After a change to the schema, write
    /// the file again with `cargo run -- schema > schema/blocklist.schema.json`.
    #[test]
    fn the_committed_schema_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/blocklist.schema.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == text(),
            "schema/blocklist.schema.json is out of date: run `cargo run -- schema > schema/blocklist.schema.json`"
        );
    }
}
