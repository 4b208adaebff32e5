//! Credentials never live in the file (see the README's "Providers"). Keys
//! that look like one are refused by name, and the value is never echoed: a
//! secret committed to Git must at least not be copied into CI logs as well.
//!
//! What a file may say is *where* its credentials are: `provider:
//! {credentials: {token: WHATSAPP_TOKEN_SHOP}}` names the environment
//! variables to read, so one run can serve several accounts of one provider
//! kind. Those values must be variable names; anything else may be the
//! secret itself, and is refused without being shown.

use marked_yaml::Node;

use super::Kind;
use super::tree::{Walker, unknown_key_message};
use crate::provider::{cloud_api, nxcloud, waha};

/// The key under `provider:` that names the variables.
pub(super) const KEY: &str = "credentials";

/// The credentials a kind takes, by their `credentials:` key, with the
/// variable each is read from by default.
pub fn roles(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::NxCloud => &[
            ("access_key", nxcloud::ACCESS_KEY_VAR),
            ("access_secret", nxcloud::ACCESS_SECRET_VAR),
        ],
        Kind::CloudApi => &[("token", cloud_api::TOKEN_VAR)],
        Kind::Waha => &[("api_key", waha::API_KEY_VAR)],
        Kind::Sandbox => &[],
    }
}

/// An environment variable name as shells write them: capital letters,
/// digits and `_`, not starting with a digit. Lower case is refused on
/// purpose: most secrets (hex keys, tokens) hold lower-case letters, so a
/// pasted secret is caught rather than taken for a name.
pub(crate) fn is_variable_name(value: &str) -> bool {
    let mut bytes = value.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && value.len() <= MAX_NAME
}

/// Longer than any variable name anyone types; a long value is more likely
/// a pasted key.
const MAX_NAME: usize = 64;

/// The variables of `kind`'s credentials, in [`roles`] order: those the
/// `credentials:` mapping (`node`, when present) names, the defaults for the
/// rest. `None` after reporting a problem. No message quotes a value.
pub(super) fn variables(w: &mut Walker, kind: Kind, node: Option<&Node>) -> Option<Vec<String>> {
    let roles = roles(kind);
    let mut names: Vec<String> = roles.iter().map(|(_, var)| var.to_string()).collect();
    let Some(node) = node else {
        return Some(names);
    };
    if roles.is_empty() {
        w.error(
            node.span(),
            format!("provider kind {kind} takes no credentials; remove provider.credentials"),
        );
        return None;
    }
    let example = format!("{{{}: {}_SHOP}}", roles[0].0, roles[0].1);
    let Node::Mapping(map) = node else {
        // Not `w.mapping`: its message would quote a scalar value, and this
        // one may be the secret.
        w.error(
            node.span(),
            format!(
                "provider.credentials must map credential names to environment variable names, e.g. credentials: {example}; the value is not shown"
            ),
        );
        return None;
    };
    let keys: Vec<&str> = roles.iter().map(|(key, _)| *key).collect();
    let mut ok = true;
    for (key, value) in map.iter() {
        let Some(index) = keys.iter().position(|k| *k == key.as_str()) else {
            let context = format!(" in provider.credentials ({kind})");
            w.error(
                key.span(),
                unknown_key_message(key.as_str(), &keys, &context),
            );
            ok = false;
            continue;
        };
        let name = match value {
            Node::Scalar(s) => s.as_str().trim(),
            _ => "",
        };
        if is_variable_name(name) {
            names[index] = name.to_string();
        } else {
            w.error(
                value.span(),
                format!(
                    "provider.credentials.{key} must be the name of an environment variable (capital letters, digits and _, e.g. {}_SHOP), not the credential itself; the value is not shown (rotate the secret if one was committed)",
                    roles[index].1,
                    key = key.as_str()
                ),
            );
            ok = false;
        }
    }
    ok.then_some(names)
}

/// True for key names that hold secrets. `appkey` is NxCloud's public
/// application id, not a secret, so it is not caught by these fragments.
pub(super) fn is_credential_key(key: &str) -> bool {
    let key = key.to_lowercase().replace('-', "_");
    [
        "secret",
        "token",
        "password",
        "passwd",
        "api_key",
        "apikey",
        "access_key",
        "private_key",
        "credential",
        "bearer",
    ]
    .iter()
    .any(|fragment| key.contains(fragment))
}

/// Where the credentials of a provider kind come from instead.
fn instead(kind: Option<&str>) -> &'static str {
    match kind {
        Some("nxcloud") => {
            "set NXCLOUD_ACCESS_KEY / NXCLOUD_ACCESS_SECRET in the environment or name others under provider.credentials"
        }
        Some("cloud-api") => {
            "set WHATSAPP_TOKEN in the environment or name another under provider.credentials"
        }
        Some("waha") => {
            "set WAHA_API_KEY in the environment or name another under provider.credentials"
        }
        Some("sandbox") => "the sandbox needs none",
        _ => {
            "set NXCLOUD_ACCESS_KEY / NXCLOUD_ACCESS_SECRET (nxcloud), WHATSAPP_TOKEN (cloud-api) or WAHA_API_KEY (waha) in the environment"
        }
    }
}

/// The message for credential key `key`, naming the variables of `kind` (or
/// of every kind when it is not known). It names the key, never the value.
pub(super) fn credential_message(key: &str, kind: Option<&str>) -> String {
    format!(
        "{key:?} is a credential: credentials do not belong in the file; {} (and rotate the secret if it was committed)",
        instead(kind)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_that_hold_secrets() {
        for key in [
            "access_key",
            "ACCESS_SECRET",
            "secret",
            "token",
            "api-key",
            "apikey",
            "password",
            "client_secret",
            "access_token",
        ] {
            assert!(is_credential_key(key), "{key}");
        }
        for key in [
            "appkey",
            "base_url",
            "phone_number_id",
            "session",
            "ledger",
            "kind",
        ] {
            assert!(!is_credential_key(key), "{key}");
        }
    }

    fn settings(file: &str, yaml: &str) -> (Option<crate::config::ProviderSettings>, Vec<String>) {
        crate::config::provider::settings_of(file, yaml)
    }

    #[test]
    fn credentials_are_refused_without_echoing_them() {
        let (s, e) = settings(
            "f.yaml",
            "provider:\n  kind: nxcloud\n  appkey: app\n  access_secret: hunter2-SECRET\n  Token: tok-SECRET\n",
        );
        assert!(s.is_none());
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("f.yaml:4:3: \"access_secret\" is a credential: credentials do not belong in the file; set NXCLOUD_ACCESS_KEY / NXCLOUD_ACCESS_SECRET in the environment"), "{}", e[0]);
        assert!(
            e.iter()
                .all(|m| !m.contains("SECRET\"") && !m.contains("hunter2"))
        );
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: cloud-api, phone_number_id: \"1\", access_token: x}\n",
        );
        assert!(
            e[0].contains("set WHATSAPP_TOKEN in the environment"),
            "{e:?}"
        );
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: waha, base_url: \"http://h\", api_key: x}\n",
        );
        assert!(
            e[0].contains("set WAHA_API_KEY in the environment"),
            "{e:?}"
        );
    }

    #[test]
    fn credentials_name_the_variables_of_this_file() {
        use crate::config::ProviderSettings;
        let (s, e) = settings(
            "f.yaml",
            "provider:\n  kind: nxcloud\n  appkey: app\n  credentials:\n    access_key: NXCLOUD_KEY_SHOP\n    access_secret: NXCLOUD_SECRET_SHOP\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert!(
            matches!(s, Some(ProviderSettings::NxCloud { access_key_var, access_secret_var, .. })
            if access_key_var == "NXCLOUD_KEY_SHOP" && access_secret_var == "NXCLOUD_SECRET_SHOP")
        );
        // One named, the other left at its default.
        let (s, _) = settings(
            "f.yaml",
            "provider: {kind: nxcloud, appkey: app, credentials: {access_secret: _SECRET_2}}\n",
        );
        assert!(
            matches!(s, Some(ProviderSettings::NxCloud { access_key_var, access_secret_var, .. })
            if access_key_var == "NXCLOUD_ACCESS_KEY" && access_secret_var == "_SECRET_2")
        );
        let (s, e) = settings(
            "f.yaml",
            "provider: {kind: cloud-api, phone_number_id: \"1\", credentials: {token: WHATSAPP_TOKEN_360}}\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert!(
            matches!(s, Some(ProviderSettings::CloudApi { token_var, .. }) if token_var == "WHATSAPP_TOKEN_360")
        );
        let (s, e) = settings(
            "f.yaml",
            "provider: {kind: waha, base_url: \"http://h\", credentials: {api_key: WAHA_KEY_2}}\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert!(
            matches!(s, Some(ProviderSettings::Waha { api_key_var, .. }) if api_key_var == "WAHA_KEY_2")
        );
    }

    #[test]
    fn a_value_that_is_not_a_variable_name_is_refused_unseen() {
        let secrets = [
            "EAAGm0PX4ZCpsBAKZCa",
            "s3cr3t value",
            "lower_case_key",
            "9STARTS_WITH_DIGIT",
            "",
        ];
        for secret in secrets {
            let (s, e) = settings(
                "f.yaml",
                &format!(
                    "provider:\n  kind: cloud-api\n  phone_number_id: \"1\"\n  credentials:\n    token: \"{secret}\"\n"
                ),
            );
            assert!(s.is_none());
            assert_eq!(
                e,
                [
                    "f.yaml:5:12: provider.credentials.token must be the name of an environment variable (capital letters, digits and _, e.g. WHATSAPP_TOKEN_SHOP), not the credential itself; the value is not shown (rotate the secret if one was committed)"
                ],
                "{secret:?}"
            );
        }
        // Not a mapping, or a mapping under a role: never quoted either.
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: waha, base_url: \"http://h\", credentials: hunter2-SECRET}\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("f.yaml:1:59: provider.credentials must map credential names to environment variable names, e.g. credentials: {api_key: WAHA_API_KEY_SHOP}"), "{e:?}");
        assert!(!e[0].contains("hunter2"), "{e:?}");
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: waha, base_url: \"http://h\", credentials: {api_key: [hunter2]}}\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(!e[0].contains("hunter2"), "{e:?}");
    }

    #[test]
    fn credential_roles_are_checked_against_the_kind() {
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: nxcloud, appkey: a, credentials: {acces_key: KEY_2, token: T}}\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:1:52: unknown key \"acces_key\" in provider.credentials (nxcloud) (expected one of: access_key, access_secret; did you mean \"access_key\"?)",
                "f.yaml:1:70: unknown key \"token\" in provider.credentials (nxcloud) (expected one of: access_key, access_secret)",
            ]
        );
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: sandbox, credentials: {token: T}}\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:1:40: provider kind sandbox takes no credentials; remove provider.credentials"
            ]
        );
    }

    #[test]
    fn variable_names() {
        for good in ["WHATSAPP_TOKEN", "_X", "A1_B2"] {
            assert!(is_variable_name(good), "{good}");
        }
        for bad in ["", "1A", "a", "A-B", "A B", "Ä", &"A".repeat(65)] {
            assert!(!is_variable_name(bad), "{bad}");
        }
    }
}
