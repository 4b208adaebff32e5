//! `provider:` settings of kind `cloud-api`: Meta's Cloud API, and the
//! resellers that expose the same Block Users bodies under their own URL,
//! header and batch size (docs/platforms.md, Cloud API, Meta-shaped resellers).

use marked_yaml::Span;
use marked_yaml::types::MarkedMappingNode;

use super::{base_url, optional, url_problem};
use crate::config::ProviderSettings;
use crate::config::tree::{Walker, entry};

pub(super) const KEYS: [&str; 6] = [
    "phone_number_id",
    "api_version",
    "base_url",
    "endpoint",
    "auth_header",
    "chunk_size",
];

pub(crate) const DEFAULT_API_VERSION: &str = "v25.0";
/// Meta's limit per block or unblock request (docs/platforms.md, Cloud API).
pub(crate) const MAX_CHUNK_SIZE: usize = 1000;

/// The settings of a `cloud-api` provider; `None` after reporting a problem.
pub(super) fn settings(
    w: &mut Walker,
    key: &Span,
    map: &MarkedMappingNode,
) -> Option<ProviderSettings> {
    let errors_before = w.report.errors.len();
    let phone_number_id = optional(w, map, "phone_number_id", |id| {
        id.contains(['/', '?', '#', ' ', '\t']).then(|| {
            format!("provider.phone_number_id {id:?} must be the ID Meta shows for the phone number (no slashes or spaces)")
        })
    });
    let api_version = optional(w, map, "api_version", |v| {
        (!is_graph_version(v)).then(|| {
            format!("provider.api_version {v:?} is not a Graph API version; write it like {DEFAULT_API_VERSION}")
        })
    });
    let base_url = base_url(w, map);
    // The block-users URL itself: paging adds `?limit=&after=` to it.
    let endpoint = optional(w, map, "endpoint", |v| url_problem("endpoint", v));
    // The value is never echoed: someone who puts the token here by mistake
    // must not see it copied into CI logs.
    let auth_header = optional(w, map, "auth_header", |v| {
        (!is_header_name(v)).then(|| {
            "provider.auth_header must be an HTTP header name such as D360-API-KEY; the token itself comes from WHATSAPP_TOKEN".to_string()
        })
    });
    let chunk_size = optional(w, map, "chunk_size", |v| {
        let ok = v.bytes().all(|b| b.is_ascii_digit())
            && v.parse::<usize>()
                .is_ok_and(|n| (1..=MAX_CHUNK_SIZE).contains(&n));
        (!ok).then(|| {
            format!("provider.chunk_size {v:?} is not a whole number from 1 to {MAX_CHUNK_SIZE} (users per block or unblock call)")
        })
    });

    let (phone_number_id, api_version, base_url, endpoint) =
        (phone_number_id?, api_version?, base_url?, endpoint?);
    if endpoint.is_some() {
        // A reseller's URL already names the resource; a second way of
        // naming it could only disagree with the first (docs/platforms.md, Meta-shaped resellers).
        for name in ["phone_number_id", "api_version", "base_url"] {
            if let Some((k, _)) = entry(map, name) {
                w.error(
                    k.span(),
                    format!("provider.{name} does not apply with provider.endpoint, which is the whole block-users URL; remove one of them"),
                );
            }
        }
    } else if phone_number_id.is_none() {
        w.error(
            key,
            "provider kind cloud-api needs phone_number_id (or endpoint, a reseller's block-users URL)",
        );
    }
    let auth_header = auth_header?.filter(|name| !name.eq_ignore_ascii_case("authorization"));
    let chunk_size = chunk_size?.and_then(|v| v.parse().ok());
    (w.report.errors.len() == errors_before).then(|| ProviderSettings::CloudApi {
        phone_number_id,
        api_version: api_version.unwrap_or_else(|| DEFAULT_API_VERSION.to_string()),
        base_url,
        endpoint: endpoint.map(|url| url.trim_end_matches('/').to_string()),
        auth_header,
        chunk_size: chunk_size.unwrap_or(MAX_CHUNK_SIZE),
        token_var: crate::provider::cloud_api::TOKEN_VAR.to_string(),
    })
}

/// `v25.0`, `v19`: a `v` and dot-separated numbers.
fn is_graph_version(v: &str) -> bool {
    v.strip_prefix('v').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// An RFC 9110 field name: one or more `tchar`s.
fn is_header_name(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> (Option<ProviderSettings>, Vec<String>) {
        crate::config::provider::settings_of("f.yaml", yaml)
    }

    fn cloud(
        id: Option<&str>,
        base_url: Option<&str>,
        endpoint: Option<&str>,
        auth_header: Option<&str>,
        chunk_size: usize,
    ) -> ProviderSettings {
        ProviderSettings::CloudApi {
            phone_number_id: id.map(Into::into),
            api_version: "v25.0".into(),
            base_url: base_url.map(Into::into),
            endpoint: endpoint.map(Into::into),
            auth_header: auth_header.map(Into::into),
            chunk_size,
            token_var: "WHATSAPP_TOKEN".into(),
        }
    }

    #[test]
    fn meta_itself() {
        let (s, e) = settings(
            "provider: {kind: cloud-api, phone_number_id: \"1065\", base_url: \"http://127.0.0.1:9/\"}\n",
        );
        assert!(e.is_empty(), "{e:?}");
        let base_url = Some("http://127.0.0.1:9");
        assert_eq!(s, Some(cloud(Some("1065"), base_url, None, None, 1000)));
        let (s, e) =
            settings("provider: {kind: cloud-api, phone_number_id: \"1\", api_version: v21.0}\n");
        assert!(e.is_empty(), "{e:?}");
        assert!(
            matches!(s, Some(ProviderSettings::CloudApi { api_version, .. }) if api_version == "v21.0")
        );
    }

    #[test]
    fn resellers() {
        // 360dialog: its own URL and header (docs/platforms.md, Meta-shaped resellers).
        let (s, e) = settings(
            "provider:\n  kind: cloud-api\n  endpoint: https://waba-v2.360dialog.io/block_users/\n  auth_header: D360-API-KEY\n",
        );
        assert!(e.is_empty(), "{e:?}");
        let url = "https://waba-v2.360dialog.io/block_users";
        assert_eq!(
            s,
            Some(cloud(None, None, Some(url), Some("D360-API-KEY"), 1000))
        );
        // YCloud and Kaleyra: at most 100 users per call.
        let (s, e) = settings(
            "provider: {kind: cloud-api, phone_number_id: \"1065\", chunk_size: 100, auth_header: authorization}\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(s, Some(cloud(Some("1065"), None, None, None, 100)));
    }

    #[test]
    fn the_resource_is_named_exactly_once() {
        let (_, e) = settings("provider: {kind: cloud-api, api_version: v25.0}\n");
        assert_eq!(
            e,
            [
                "f.yaml:1:1: provider kind cloud-api needs phone_number_id (or endpoint, a reseller's block-users URL)"
            ]
        );
        let (_, e) = settings(
            "provider: {kind: cloud-api, endpoint: \"https://r.example/block_users\", phone_number_id: \"1\", base_url: \"https://b\"}\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:1:72: provider.phone_number_id does not apply with provider.endpoint, which is the whole block-users URL; remove one of them",
                "f.yaml:1:94: provider.base_url does not apply with provider.endpoint, which is the whole block-users URL; remove one of them",
            ]
        );
    }

    #[test]
    fn values_are_checked() {
        let (_, e) = settings(
            "provider: {kind: cloud-api, endpoint: \"r.example/block_users?x=1\", chunk_size: 1001}\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:1:39: provider.endpoint \"r.example/block_users?…\" must start with http:// or https://",
                "f.yaml:1:80: provider.chunk_size \"1001\" is not a whole number from 1 to 1000 (users per block or unblock call)",
            ]
        );
        for bad in ["0", "-5", "+10", "ten", "1e3"] {
            let (_, e) = settings(&format!(
                "provider: {{kind: cloud-api, phone_number_id: \"1\", chunk_size: \"{bad}\"}}\n"
            ));
            assert_eq!(e.len(), 1, "{bad}: {e:?}");
        }
        // Neither the query nor the userinfo is quoted: either may be the
        // credential the error is about.
        let (_, e) = settings(
            "provider: {kind: cloud-api, endpoint: \"https://r.example/b?access_token=pa55w0rd\"}\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:1:39: provider.endpoint \"https://r.example/b?…\" must not hold a query string (?…): credentials come from the environment (see the README's Providers table), never from the URL"
            ]
        );
        let (_, e) = settings(
            "provider: {kind: cloud-api, endpoint: \"https://ops:pa55w0rd@r.example/b?x=1#y\"}\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("\"https://r.example/b?…\" must not hold a user name or password (user:password@) or a query string (?…) or a fragment (#…): credentials come"),
            "{e:?}"
        );
        assert!(!e[0].contains("pa55w0rd") && !e[0].contains("x=1"), "{e:?}");
    }

    #[test]
    fn a_token_pasted_as_the_header_name_is_refused_and_not_echoed() {
        let (_, e) = settings(
            "provider: {kind: cloud-api, phone_number_id: \"1\", auth_header: \"Bearer EAAGsecretvalue\"}\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:1:64: provider.auth_header must be an HTTP header name such as D360-API-KEY; the token itself comes from WHATSAPP_TOKEN"
            ]
        );
    }

    #[test]
    fn header_names() {
        for good in ["D360-API-KEY", "apikey", "X-Api_Key"] {
            assert!(is_header_name(good), "{good}");
        }
        for bad in ["", "Bearer x", "a:b", "ключ"] {
            assert!(!is_header_name(bad), "{bad}");
        }
    }
}
