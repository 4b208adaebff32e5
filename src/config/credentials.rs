//! Credentials never live in the file (product.md §1). Keys that look like
//! one are refused by name, and the value is never echoed: a secret committed
//! to Git must at least not be copied into CI logs as well.

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
        Some("nxcloud") => "set NXCLOUD_ACCESS_KEY / NXCLOUD_ACCESS_SECRET in the environment",
        Some("cloud-api") => "set WHATSAPP_TOKEN in the environment",
        Some("waha") => "set WAHA_API_KEY in the environment",
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
}
