//! One desired-state file (with its includes) to one [`Target`].

use std::path::Path;

use marked_yaml::types::MarkedMappingNode;

use super::credentials::{credential_message, is_credential_key};
use super::entry::{self, List};
use super::include::{self, Includes};
use super::provider::provider;
use super::safety::safety;
use super::source;
use super::tree::{
    Report, Walker, did_you_mean, entry, is_null, mapping_span, unknown_key_message,
};
use super::{Location, Mode, ProviderSettings, Target, duplicates};

const KEYS: &[&str] = &[
    "business_phone",
    "provider",
    "mode",
    "include",
    "blocked",
    "unblock",
    "safety",
];

/// What one file yielded. The business phone is kept even when the file has
/// other errors, so a second file governing the same phone is still caught.
pub(super) struct Walked {
    pub target: Option<Target>,
    pub business_phone: Option<(String, Location)>,
}

pub(super) fn load(
    path: &Path,
    parsed: source::Parsed,
    includes: &mut Includes,
    report: &mut Report,
) -> Walked {
    let errors_before = report.errors.len();
    let warnings_before = report.warnings.len();
    let mut outcome = Walked {
        target: None,
        business_phone: None,
    };
    if let Some(text) = parsed.text {
        report.sources.keep(path, text);
    }
    match parsed.node {
        Ok(node) => {
            let mut w = Walker { file: path, report };
            if let Some(map) = w.mapping(&node, "the top level") {
                outcome = walk(&mut w, map, includes);
            }
        }
        Err(d) => report.errors.push(d),
    }
    // Walk order follows the code, not the file; readers want line order,
    // this file's problems first, then its includes'.
    let order = |a: &super::Diagnostic, b: &super::Diagnostic| {
        (a.location.file != path)
            .cmp(&(b.location.file != path))
            .then_with(|| a.location.cmp(&b.location))
    };
    report.errors[errors_before..].sort_by(order);
    report.warnings[warnings_before..].sort_by(order);
    if report.errors.len() > errors_before {
        outcome.target = None;
    }
    outcome
}

fn walk(w: &mut Walker, map: &MarkedMappingNode, includes: &mut Includes) -> Walked {
    for (key, _) in map.iter() {
        let name = key.as_str();
        if KEYS.contains(&name) {
            continue;
        }
        let message = if is_credential_key(name) {
            credential_message(name, None)
        } else {
            unknown_key_message(name, KEYS, "")
        };
        w.error(key.span(), message);
    }

    // Only `blocked:`/`include:` and no header: an include file (a shared
    // list) placed where targets are looked for. One error that says so
    // beats two about a header it was never meant to have.
    let shared_list = entry(map, "business_phone").is_none()
        && entry(map, "provider").is_none()
        && !map.is_empty()
        && map
            .iter()
            .all(|(k, _)| super::include::KEYS.contains(&k.as_str()));
    if shared_list {
        let name = w.file.file_name().map_or_else(
            || "this file".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        w.error(
            mapping_span(map),
            format!(
                "this looks like a shared list (only blocked:/include:, no business_phone: or provider:), \
                 but every file named as a path, and every *.yaml directly in a directory named as one, \
                 is a target; move it to a subdirectory (e.g. lists/{name}) and name it under include: \
                 in the target files (README, \"The desired-state file\")"
            ),
        );
        return Walked {
            target: None,
            business_phone: None,
        };
    }

    let business_phone = match entry(map, "business_phone") {
        Some((k, n)) => entry::phone(w, Some(k.span()), n, &|| "business_phone".to_string())
            .map(|(digits, _)| (digits, w.at(n.span()))),
        None => {
            w.error(
                mapping_span(map),
                "business_phone is missing; name the business number this file governs, e.g. business_phone: \"+86 158 0000 1795\"",
            );
            None
        }
    };
    let settings = match entry(map, "provider") {
        Some((key, n)) => provider(w, key.span(), n),
        None => {
            w.error(
                mapping_span(map),
                "provider is missing; add provider: with kind: (one of: nxcloud, cloud-api, waha, sandbox)",
            );
            None
        }
    };
    let mode = mode(w, map);
    let refs = entry(map, "include").map_or_else(Vec::new, |(_, n)| include::refs(w, n));
    let mut blocked =
        entry(map, "blocked").map_or_else(Vec::new, |(_, n)| entry::list(w, n, List::Blocked));
    let unblock =
        entry(map, "unblock").map_or_else(Vec::new, |(_, n)| entry::list(w, n, List::Unblock));
    let safety = entry(map, "safety").map_or_else(Default::default, |(_, n)| safety(w, n));

    let included = includes.resolve(w.file, &refs, w.report);
    let includes_ok = included.is_some();
    let (included, inclusions) = included.unwrap_or_default();
    blocked.extend(included);
    let blocked = duplicates::dedupe(blocked, w.report);
    let capacity = crate::safety::CAPACITY;
    if blocked.len() as u64 > capacity {
        // Never appliable: the platform refuses blocks past its capacity.
        let at = entry(map, "blocked").or_else(|| entry(map, "include"));
        let span = at.map_or_else(|| mapping_span(map), |(k, _)| k.span());
        w.error(
            span,
            format!(
                "the desired set lists {} users (this file and its includes, each user once, expired entries included), more than the {capacity} a block list can hold; remove some or split them across business phones",
                blocked.len()
            ),
        );
    }
    let unblock = duplicates::dedupe(unblock, w.report);
    duplicates::conflicts(&blocked, &unblock, w.report);
    if matches!(settings, Some(ProviderSettings::Waha { .. })) {
        phones_only(&blocked, &unblock, w.report);
    }

    let target = match (&business_phone, settings, mode, includes_ok) {
        (Some((phone, _)), Some(provider), Some(mode), true) => Some(Target {
            file: w.file.to_path_buf(),
            business_phone: phone.clone(),
            provider,
            mode,
            blocked: blocked.into_iter().map(|b| b.entry).collect(),
            unblock: unblock.into_iter().map(|u| u.entry).collect(),
            safety,
            includes: inclusions,
        }),
        _ => None,
    };
    Walked {
        target,
        business_phone,
    }
}

/// WAHA addresses contacts by phone (`<digits>@c.us`), never by BSUID, so
/// an entry without a phone could never be blocked or unblocked there.
fn phones_only(blocked: &[entry::Written], unblock: &[entry::Written], report: &mut Report) {
    for written in blocked.iter().chain(unblock) {
        if written.entry.user.phone_digits().is_none() {
            report.error(
                written.entry.at.clone(),
                format!(
                    "{:?} names a user by BSUID only, but WAHA blocks contacts by phone number; add the user's phone as user:, or list them for a cloud-api or nxcloud target",
                    written.raw
                ),
            );
        }
    }
}

fn mode(w: &mut Walker, map: &MarkedMappingNode) -> Option<Mode> {
    let Some((key, node)) = entry(map, "mode") else {
        return Some(Mode::Exclusive);
    };
    if is_null(node) {
        return Some(Mode::Exclusive);
    }
    let text = w.text(Some(key.span()), node, "mode")?;
    match text {
        "exclusive" => Some(Mode::Exclusive),
        "additive" => Some(Mode::Additive),
        other => {
            let mut message = format!("mode {other:?} is not one of: exclusive, additive");
            if let Some(near) = did_you_mean(other, &["exclusive", "additive"]) {
                message.push_str(&format!("; did you mean {near:?}?"));
            }
            w.error(node.span(), message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{PROVIDER, Scratch};
    use crate::config::{Mode, ProviderSettings, Safety};
    use crate::date::Date;

    #[test]
    fn the_documented_example_loads() {
        let s = Scratch::new();
        s.write(
            "blocklists/support-line.yaml",
            r#"# blocklists/support-line.yaml
business_phone: "+86 158 0000 1795"
provider:
  kind: nxcloud
  appkey: pem28kje
mode: exclusive
include:
  - ../lists/known-spammers.yaml
blocked:
  - "8613300000001"
  - user: "+86 133 0000 0002"
    reason: "phishing links, ticket SUP-1234"
    expires: 2027-01-31
unblock:
  - "8613300000009"
safety:
  max_unblocks: 100
  max_unblock_ratio: 0.25
"#,
        );
        s.write(
            "lists/known-spammers.yaml",
            "blocked:\n  - \"8613300000003\"\n",
        );
        let loaded = s.load(&["blocklists/support-line.yaml"]);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let t = &loaded.targets[0];
        assert_eq!(t.file, s.path("blocklists/support-line.yaml"));
        assert_eq!(t.business_phone, "8615800001795");
        assert_eq!(
            t.provider,
            ProviderSettings::NxCloud {
                appkey: "pem28kje".into(),
                base_url: None,
                access_key_var: "NXCLOUD_ACCESS_KEY".into(),
                access_secret_var: "NXCLOUD_ACCESS_SECRET".into(),
            }
        );
        assert_eq!(t.mode, Mode::Exclusive);
        let users: Vec<&str> = t.blocked.iter().map(|e| e.user.id()).collect();
        assert_eq!(users, ["8613300000001", "8613300000002", "8613300000003"]);
        assert_eq!(t.blocked[1].expires, Date::parse("2027-01-31"));
        assert_eq!(
            t.blocked[1].reason.as_deref(),
            Some("phishing links, ticket SUP-1234")
        );
        assert_eq!(
            t.blocked[2].at.file,
            s.path("blocklists/../lists/known-spammers.yaml")
        );
        assert_eq!((t.blocked[2].at.line, t.blocked[2].at.column), (2, 5));
        assert_eq!(t.unblock.len(), 1);
        assert_eq!(
            t.safety,
            Safety {
                max_unblocks: Some(100),
                max_unblock_ratio: Some(0.25),
                allow_empty: None
            }
        );
    }

    #[test]
    fn optional_parts_default() {
        let s = Scratch::new();
        s.write(
            "a.yaml",
            &format!("business_phone: \"8615800001795\"\n{PROVIDER}blocked:\nunblock: ~\nmode:\nsafety:\n"),
        );
        s.write(
            "b.yaml",
            &format!("business_phone: \"8615800001796\"\n{PROVIDER}mode: additive\n"),
        );
        let loaded = s.load(&["a.yaml", "b.yaml"]);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let [a, b] = &loaded.targets[..] else {
            panic!("two targets expected")
        };
        assert!(a.blocked.is_empty() && a.unblock.is_empty());
        assert_eq!((a.mode, b.mode), (Mode::Exclusive, Mode::Additive));
        assert_eq!(a.safety, Safety::default());
    }

    #[test]
    fn a_credential_at_the_top_level_is_not_just_an_unknown_key() {
        let s = Scratch::new();
        s.write(
            "a.yaml",
            &format!("business_phone: \"8615800001795\"\n{PROVIDER}access_key: AKIAEXAMPLE\n"),
        );
        let (errors, _) = s.shown(&s.load(&["a.yaml"]));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with(
            "a.yaml:3:1: \"access_key\" is a credential: credentials do not belong in the file"
        ));
        assert!(!errors[0].contains("AKIAEXAMPLE"));
    }

    #[test]
    fn duplicates_warn_and_keep_the_first() {
        let s = Scratch::new();
        s.write(
            "a.yaml",
            &format!(
                "business_phone: \"8615800001795\"\n{PROVIDER}mode: additive\nblocked:\n  - \"8613300000002\"\n  - \"+86 133 0000 0002\"\nunblock:\n  - \"8613300000009\"\n  - user: \"86 133 0000 0009\"\n"
            ),
        );
        let loaded = s.load(&["a.yaml"]);
        let (errors, warnings) = s.shown(&loaded);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            warnings,
            [
                "a.yaml:6:5: \"+86 133 0000 0002\" duplicates \"8613300000002\" at a.yaml:5:5; keeping the first",
                "a.yaml:9:11: \"86 133 0000 0009\" duplicates \"8613300000009\" at a.yaml:8:5; keeping the first",
            ]
        );
        let t = &loaded.targets[0];
        assert_eq!((t.blocked.len(), t.unblock.len()), (1, 1));
        assert_eq!(t.blocked[0].at.line, 5);
    }

    #[test]
    fn whole_file_problems_are_clear() {
        let s = Scratch::new();
        s.write("empty.yaml", "");
        s.write("scalar.yaml", "just some words\n");
        s.write(
            "provider-list.yaml",
            "business_phone: \"8615800001795\"\nprovider: [nxcloud]\n",
        );
        let (errors, _) = s.shown(&s.load(&["empty.yaml", "scalar.yaml", "provider-list.yaml"]));
        assert_eq!(
            errors,
            [
                "empty.yaml: the file is empty; a desired-state file needs business_phone: and provider:",
                "scalar.yaml:1:1: the top level must be a mapping of keys to values, not a list or a single value; a desired-state file needs business_phone: and provider:",
                "provider-list.yaml:2:11: provider must be a mapping of keys to values, not a list",
            ]
        );
    }
}
