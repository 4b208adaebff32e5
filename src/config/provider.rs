//! `provider:` settings, checked against the keys of the chosen kind.

use std::path::Path;

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::{Node, Span};

use super::credentials::{self, credential_message, is_credential_key};
use super::tree::{Walker, did_you_mean, entry, is_null};
use super::{Kind, ProviderSettings};
use crate::provider::http;

mod cloud_api;

/// The settings each kind takes besides `kind`.
fn keys(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::NxCloud => &["appkey", "base_url"],
        Kind::CloudApi => &cloud_api::KEYS,
        Kind::Waha => &["base_url", "session", "ledger"],
        Kind::Sandbox => &[],
    }
}

const KIND_NAMES: [&str; 4] = [
    Kind::NxCloud.name(),
    Kind::CloudApi.name(),
    Kind::Waha.name(),
    Kind::Sandbox.name(),
];

pub(super) const DEFAULT_SESSION: &str = "default";

/// `provider:` as settings; `key` is the `provider` key, where problems with
/// the mapping as a whole are reported.
pub(super) fn provider(w: &mut Walker, key: &Span, node: &Node) -> Option<ProviderSettings> {
    if is_null(node) {
        w.error(
            key,
            "provider is empty; set at least kind: (one of: nxcloud, cloud-api, waha, sandbox)",
        );
        return None;
    }
    let map = w.mapping(node, "provider")?;
    let errors_before = w.report.errors.len();
    let kind = kind(w, key, map);
    for (k, _) in map.iter() {
        let name = k.as_str();
        if name == "kind" || name == credentials::KEY {
            continue;
        }
        if is_credential_key(name) {
            w.error(k.span(), credential_message(name, kind.map(Kind::name)));
            continue;
        }
        let Some(kind) = kind else { continue };
        if keys(kind).contains(&name) {
            continue;
        }
        let message = match Kind::ALL
            .into_iter()
            .find(|other| keys(*other).contains(&name))
        {
            Some(other) => format!(
                "{name:?} is a setting of provider kind {other}, not {kind} ({kind} takes: {})",
                takes(kind)
            ),
            None => {
                let mut allowed = vec!["kind"];
                allowed.extend_from_slice(keys(kind));
                if !credentials::roles(kind).is_empty() {
                    allowed.push(credentials::KEY);
                }
                super::tree::unknown_key_message(name, &allowed, &format!(" in provider ({kind})"))
            }
        };
        w.error(k.span(), message);
    }
    let kind = kind?;
    let vars = credentials::variables(w, kind, entry(map, credentials::KEY).map(|(_, n)| n));
    let required = |w: &mut Walker, name: &str| -> Option<String> {
        match entry(map, name) {
            Some((k, n)) => w
                .text(Some(k.span()), n, &format!("provider.{name}"))
                .map(str::to_string),
            None => {
                w.error(key, format!("provider kind {kind} needs {name}"));
                None
            }
        }
    };
    let settings = match kind {
        Kind::NxCloud => {
            let appkey = required(w, "appkey");
            let base_url = base_url(w, map);
            let [access_key_var, access_secret_var] = <[String; 2]>::try_from(vars?).ok()?;
            ProviderSettings::NxCloud {
                appkey: appkey?,
                base_url: base_url?,
                access_key_var,
                access_secret_var,
            }
        }
        Kind::CloudApi => {
            let settings = cloud_api::settings(w, key, map);
            let [token] = <[String; 1]>::try_from(vars?).ok()?;
            let mut settings = settings?;
            if let ProviderSettings::CloudApi { token_var, .. } = &mut settings {
                *token_var = token;
            }
            settings
        }
        Kind::Waha => {
            let base_url = base_url(w, map).and_then(|url| {
                if url.is_none() {
                    w.error(key, "provider kind waha needs base_url");
                }
                url
            });
            let session = optional(w, map, "session", |_| None);
            let ledger = optional(w, map, "ledger", |_| None)?;
            let [api_key_var] = <[String; 1]>::try_from(vars?).ok()?;
            ProviderSettings::Waha {
                api_key_var,
                base_url: base_url?,
                session: session?.unwrap_or_else(|| DEFAULT_SESSION.to_string()),
                ledger_given: ledger.is_some(),
                ledger: match ledger {
                    Some(path) => w.file.parent().unwrap_or(Path::new("")).join(path),
                    None => w.file.with_extension("ledger.json"),
                },
            }
        }
        Kind::Sandbox => {
            vars?;
            ProviderSettings::Sandbox
        }
    };
    (w.report.errors.len() == errors_before).then_some(settings)
}

fn takes(kind: Kind) -> String {
    if keys(kind).is_empty() {
        "no other settings".to_string()
    } else {
        keys(kind).join(", ")
    }
}

fn kind(w: &mut Walker, key: &Span, map: &MarkedMappingNode) -> Option<Kind> {
    let Some((kind_key, node)) = entry(map, "kind") else {
        w.error(
            key,
            "provider has no kind; set kind: to one of: nxcloud, cloud-api, waha, sandbox",
        );
        return None;
    };
    let name = w.text(Some(kind_key.span()), node, "provider.kind")?;
    let found = Kind::from_name(name);
    if found.is_none() {
        let mut message =
            format!("provider kind {name:?} is not one of: nxcloud, cloud-api, waha, sandbox");
        if let Some(near) = did_you_mean(name, &KIND_NAMES) {
            message.push_str(&format!("; did you mean {near:?}?"));
        }
        w.error(node.span(), message);
    }
    found
}

/// An optional text setting: `Some(None)` when absent, `None` on error.
fn optional(
    w: &mut Walker,
    map: &MarkedMappingNode,
    name: &str,
    check: impl Fn(&str) -> Option<String>,
) -> Option<Option<String>> {
    let Some((key, node)) = entry(map, name) else {
        return Some(None);
    };
    let value = w.text(Some(key.span()), node, &format!("provider.{name}"))?;
    if let Some(problem) = check(value) {
        w.error(node.span(), problem);
        return None;
    }
    Some(Some(value.to_string()))
}

/// `base_url`, without trailing slashes so clients can append paths.
fn base_url(w: &mut Walker, map: &MarkedMappingNode) -> Option<Option<String>> {
    let url = optional(w, map, "base_url", |v| url_problem("base_url", v))?;
    Some(url.map(|u| u.trim_end_matches('/').to_string()))
}

/// The error for a bad `base_url` or `endpoint`, if it is one. It quotes the
/// value without `user:password@` and without its query: either may be a
/// credential, and this error goes to CI logs.
fn url_problem(name: &str, value: &str) -> Option<String> {
    let problem = http::url_problem(value)?;
    Some(format!(
        "provider.{name} {:?} {problem}",
        http::quoted_url(value)
    ))
}

/// Test support: the `provider:` settings of `yaml` (a file holding a
/// `provider:` key), and the errors they gave, as `file` would show them.
#[cfg(test)]
pub(super) fn settings_of(file: &str, yaml: &str) -> (Option<ProviderSettings>, Vec<String>) {
    super::tree::read_key(file, yaml, "provider", provider)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn settings(file: &str, yaml: &str) -> (Option<ProviderSettings>, Vec<String>) {
        settings_of(file, yaml)
    }

    #[test]
    fn each_kind_with_defaults() {
        let (s, e) = settings(
            "f.yaml",
            "provider: {kind: nxcloud, appkey: pem28kje, base_url: \"http://127.0.0.1:9/\"}\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            s,
            Some(ProviderSettings::NxCloud {
                appkey: "pem28kje".into(),
                base_url: Some("http://127.0.0.1:9".into()),
                access_key_var: "NXCLOUD_ACCESS_KEY".into(),
                access_secret_var: "NXCLOUD_ACCESS_SECRET".into(),
            })
        );
        let (s, e) = settings(
            "f.yaml",
            "provider:\n  kind: cloud-api\n  phone_number_id: \"106540352242922\"\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            s,
            Some(ProviderSettings::CloudApi {
                phone_number_id: Some("106540352242922".into()),
                api_version: "v25.0".into(),
                base_url: None,
                endpoint: None,
                auth_header: None,
                chunk_size: 1000,
                token_var: "WHATSAPP_TOKEN".into(),
            })
        );
        let (s, e) = settings(
            "lists/shop.yaml",
            "provider: {kind: waha, base_url: \"http://localhost:3000\"}\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            s,
            Some(ProviderSettings::Waha {
                base_url: "http://localhost:3000".into(),
                session: "default".into(),
                ledger: PathBuf::from("lists/shop.ledger.json"),
                ledger_given: false,
                api_key_var: "WAHA_API_KEY".into(),
            })
        );
        let (s, _) = settings(
            "lists/shop.yaml",
            "provider: {kind: waha, base_url: \"http://h\", session: s2, ledger: state/l.json}\n",
        );
        assert!(
            matches!(s, Some(ProviderSettings::Waha { ledger, session, .. })
            if ledger == Path::new("lists/state/l.json") && session == "s2")
        );
        let (s, e) = settings("f.yaml", "provider: {kind: sandbox}\n");
        assert_eq!((s, e), (Some(ProviderSettings::Sandbox), vec![]));
    }

    #[test]
    fn kind_problems() {
        let (_, e) = settings("f.yaml", "provider: {kind: nxclod, appkey: a}\n");
        assert_eq!(
            e,
            [
                "f.yaml:1:18: provider kind \"nxclod\" is not one of: nxcloud, cloud-api, waha, sandbox; did you mean \"nxcloud\"?"
            ]
        );
        let (_, e) = settings("f.yaml", "provider: {appkey: a}\n");
        assert_eq!(
            e,
            [
                "f.yaml:1:1: provider has no kind; set kind: to one of: nxcloud, cloud-api, waha, sandbox"
            ]
        );
        let (_, e) = settings("f.yaml", "provider:\n");
        assert_eq!(
            e,
            [
                "f.yaml:1:1: provider is empty; set at least kind: (one of: nxcloud, cloud-api, waha, sandbox)"
            ]
        );
        let (_, e) = settings("f.yaml", "provider: nxcloud\n");
        assert_eq!(
            e,
            [
                "f.yaml:1:11: provider must be a mapping of keys to values, not the value \"nxcloud\""
            ]
        );
    }

    #[test]
    fn keys_are_checked_against_the_kind() {
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: nxcloud, base_url: \"http://h\"}\n",
        );
        assert_eq!(e, ["f.yaml:1:1: provider kind nxcloud needs appkey"]);
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: nxcloud, appkey: a, phone_number_id: \"1\"}\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:1:38: \"phone_number_id\" is a setting of provider kind cloud-api, not nxcloud (nxcloud takes: appkey, base_url)"
            ]
        );
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: nxcloud, appkey: a, base_ur: x}\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:1:38: unknown key \"base_ur\" in provider (nxcloud) (expected one of: kind, appkey, base_url, credentials; did you mean \"base_url\"?)"
            ]
        );
        let (_, e) = settings("f.yaml", "provider: {kind: sandbox, appkey: a}\n");
        assert_eq!(
            e,
            [
                "f.yaml:1:27: \"appkey\" is a setting of provider kind nxcloud, not sandbox (sandbox takes: no other settings)"
            ]
        );
        let (_, e) = settings("f.yaml", "provider: {kind: waha}\n");
        assert_eq!(e, ["f.yaml:1:1: provider kind waha needs base_url"]);
    }

    #[test]
    fn values_are_checked() {
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: nxcloud, appkey: \"\", base_url: api.example}\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:1:27: provider.appkey is empty; give it a value",
                "f.yaml:1:49: provider.base_url \"api.example\" must start with http:// or https://",
            ]
        );
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: cloud-api, phone_number_id: \"1/2\", api_version: \"25.0\"}\n",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[1].contains("\"25.0\" is not a Graph API version; write it like v25.0"));
    }

    /// reqwest would send `user:password@` as Basic authentication, and a
    /// query would ride on every request; both are refused, and the error
    /// shows neither.
    #[test]
    fn a_base_url_with_credentials_is_refused_without_quoting_them() {
        for (kind, url, shown, problem) in [
            (
                "nxcloud, appkey: a",
                "https://ops:pa55w0rd@api.example/",
                "https://api.example/",
                "a user name or password (user:password@)",
            ),
            (
                "waha",
                "http://pa55w0rd@127.0.0.1:3000",
                "http://127.0.0.1:3000",
                "a user name or password (user:password@)",
            ),
            (
                "cloud-api, phone_number_id: \"1\"",
                "https://graph.example?access_token=pa55w0rd",
                "https://graph.example?…",
                "a query string (?…)",
            ),
        ] {
            let yaml = format!("provider: {{kind: {kind}, base_url: \"{url}\"}}\n");
            let (s, e) = settings("f.yaml", &yaml);
            let col = yaml.find("\"http").unwrap() + 1;
            assert_eq!(s, None);
            assert_eq!(
                e,
                [format!(
                    "f.yaml:1:{col}: provider.base_url \"{shown}\" must not hold {problem}: credentials come from the environment (see the README's Providers table), never from the URL"
                )]
            );
        }
        let (_, e) = settings(
            "f.yaml",
            "provider: {kind: waha, base_url: \"http://h/#x\"}\n",
        );
        assert_eq!(
            e,
            ["f.yaml:1:34: provider.base_url \"http://h/#…\" must not hold a fragment (#…)"]
        );
    }

    #[test]
    fn a_bad_base_url_is_quoted_without_its_userinfo() {
        for url in ["ftp://ops:pa55w0rd@api.example", "ops:pa55w0rd@api.example"] {
            let (_, e) = settings(
                "f.yaml",
                &format!("provider: {{kind: waha, base_url: \"{url}\"}}\n"),
            );
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(!e[0].contains("pa55w0rd"), "{e:?}");
            assert!(
                e[0].contains("api.example\" must start with http://"),
                "{e:?}"
            );
        }
    }
}
