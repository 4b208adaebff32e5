//! Entries of `blocked:` and `unblock:` lists, and phone numbers in general:
//! a bare number or BSUID, or a mapping with `user` (a phone), `user_id` (a
//! BSUID), `reason` and `expires`. An entry may give both ids of one person.

use marked_yaml::{Node, Span};

use super::Entry;
use super::tree::{Walker, describe, entry, is_null, mapping_span};
use crate::date::Date;
use crate::number;
use crate::user::{self, User};

/// An entry with the user as it was written, for messages that must show
/// the user's own spelling (duplicates, conflicts).
#[derive(Debug, Clone)]
pub(super) struct Written {
    pub entry: Entry,
    pub raw: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum List {
    Blocked,
    Unblock,
}

impl List {
    pub fn key(self) -> &'static str {
        match self {
            List::Blocked => "blocked",
            List::Unblock => "unblock",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            List::Blocked => &["user", "user_id", "reason", "expires"],
            List::Unblock => &["user", "user_id", "reason"],
        }
    }
}

/// A phone number in canonical form, or an error naming the value as written.
pub(super) fn phone(
    w: &mut Walker,
    key: Option<&Span>,
    node: &Node,
    what: &dyn Fn() -> String,
) -> Option<(String, String)> {
    // `what` names the value only if there is something to report, which
    // for nearly all of tens of thousands of entries there is not.
    let Some(scalar) = node.as_scalar() else {
        w.scalar(node, &what());
        return None;
    };
    if is_null(node) {
        w.error(
            key.unwrap_or(scalar.span()),
            format!("{} is empty; write a phone number", what()),
        );
        return None;
    }
    let raw = scalar.as_str();
    match number::canonical(raw) {
        Ok(digits) => Some((digits, raw.to_string())),
        Err(err) => {
            w.error(scalar.span(), format!("{raw:?} {err}"));
            None
        }
    }
}

/// The entries of one list; an absent or empty (`blocked:`) list is empty.
pub(super) fn list(w: &mut Walker, node: &Node, list: List) -> Vec<Written> {
    if is_null(node) {
        return Vec::new();
    }
    let Some(seq) = w.sequence(node, list.key()) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(seq.len());
    for (index, item) in seq.iter().enumerate() {
        if let Some(written) = one(w, item, index + 1, list) {
            out.push(written);
        }
    }
    out
}

/// A BSUID as written, or an error naming the value.
fn bsuid(
    w: &mut Walker,
    key: Option<&Span>,
    node: &Node,
    what: &dyn Fn() -> String,
) -> Option<String> {
    let Some(scalar) = node.as_scalar() else {
        w.scalar(node, &what());
        return None;
    };
    if is_null(node) {
        w.error(
            key.unwrap_or(scalar.span()),
            format!(
                "{} is empty; write a BSUID such as \"US.13491208655302741918\"",
                what()
            ),
        );
        return None;
    }
    let raw = scalar.as_str();
    match user::bsuid(raw.trim()) {
        Ok(id) => Some(id.to_string()),
        Err(err) => {
            w.error(scalar.span(), format!("{raw:?} {err}"));
            None
        }
    }
}

/// `user:` holds a phone; a BSUID there is almost certainly meant for
/// `user_id:`, and saying so beats "unexpected character".
fn user_phone(w: &mut Walker, key: &Span, node: &Node) -> Option<(String, String)> {
    if let Some(scalar) = node.as_scalar()
        && user::looks_like_bsuid(scalar.as_str())
    {
        w.error(
            scalar.span(),
            format!(
                "{:?} is a BSUID, not a phone number; write it as user_id: {:?}",
                scalar.as_str(),
                scalar.as_str().trim()
            ),
        );
        return None;
    }
    phone(w, Some(key), node, &|| "user".to_string())
}

/// `ordinal` counts from 1 and names the entry in messages, since an empty
/// entry has no position of its own.
fn one(w: &mut Walker, node: &Node, ordinal: usize, list: List) -> Option<Written> {
    let what = || format!("entry {ordinal} of {}", list.key());
    match node {
        Node::Scalar(scalar) => {
            let (user, raw) = if user::looks_like_bsuid(scalar.as_str()) {
                let id = bsuid(w, None, node, &what)?;
                (User::bsuid(id), scalar.as_str().to_string())
            } else {
                let (digits, raw) = phone(w, None, node, &what)?;
                (User::phone(digits), raw)
            };
            Some(Written {
                entry: Entry {
                    user,
                    reason: None,
                    expires: None,
                    at: w.at(node.span()),
                },
                raw,
            })
        }
        Node::Mapping(map) => {
            for (key, _) in map.iter() {
                if list == List::Unblock && key.as_str() == "expires" {
                    w.error(
                        key.span(),
                        "an unblock entry cannot expire (\"expires\" applies to blocked entries only); remove it",
                    );
                } else if !list.keys().contains(&key.as_str()) {
                    let context = format!(" in {}", what());
                    let message =
                        super::tree::unknown_key_message(key.as_str(), list.keys(), &context);
                    w.error(key.span(), message);
                }
            }
            let phone_entry = entry(map, "user");
            let id_entry = entry(map, "user_id");
            if phone_entry.is_none() && id_entry.is_none() {
                w.error(
                    mapping_span(map),
                    format!(
                        "{} has no user; write the number as user: \"+86 133 0000 0002\" or the BSUID as user_id: \"US.13491208655302741918\"",
                        what()
                    ),
                );
                return None;
            }
            let reason = entry(map, "reason").and_then(|(k, n)| reason(w, k.span(), n));
            let expires = match (list, entry(map, "expires")) {
                (List::Blocked, Some((k, n))) => expires(w, k.span(), n),
                _ => None,
            };
            let phone = phone_entry.map(|(k, n)| user_phone(w, k.span(), n));
            let user_id =
                id_entry.map(|(k, n)| bsuid(w, Some(k.span()), n, &|| "user_id".to_string()));
            // Either id that was given must be valid: half an entry would
            // block or match the wrong person.
            if matches!(phone, Some(None)) || matches!(user_id, Some(None)) {
                return None;
            }
            let (phone, user_id) = (phone.flatten(), user_id.flatten());
            let raw = match (&phone, &user_id) {
                (Some((_, raw)), Some(id)) => format!("{raw} ({id})"),
                (Some((_, raw)), None) => raw.clone(),
                (None, Some(id)) => id.clone(),
                (None, None) => return None,
            };
            let at = match (phone_entry, id_entry) {
                (Some((_, n)), _) | (None, Some((_, n))) => w.at(n.span()),
                (None, None) => return None,
            };
            let user = User::new(phone.map(|(digits, _)| digits), user_id)?;
            Some(Written {
                entry: Entry {
                    user,
                    reason,
                    expires,
                    at,
                },
                raw,
            })
        }
        Node::Sequence(_) => {
            w.error(
                node.span(),
                format!(
                    "{} must be a phone number, a BSUID or a mapping with user: or user_id:, not {}",
                    what(),
                    describe(node)
                ),
            );
            None
        }
    }
}

fn reason(w: &mut Walker, key: &Span, node: &Node) -> Option<String> {
    if is_null(node) {
        return None;
    }
    let Some(scalar) = node.as_scalar() else {
        let found = describe(node);
        w.error(key, format!("reason must be text, not {found}"));
        return None;
    };
    let text = scalar.as_str().trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn expires(w: &mut Walker, key: &Span, node: &Node) -> Option<Date> {
    if is_null(node) {
        return None;
    }
    let Some(scalar) = node.as_scalar() else {
        let found = describe(node);
        w.error(
            key,
            format!("expires must be a date such as 2027-01-31, not {found}"),
        );
        return None;
    };
    let text = scalar.as_str();
    let date = Date::parse(text.trim());
    if date.is_none() {
        w.error(
            scalar.span(),
            format!("expires {text:?} is not a valid date; write YYYY-MM-DD, e.g. 2027-01-31"),
        );
    }
    date
}

#[cfg(test)]
mod tests {

    use super::*;

    fn entries(yaml: &str, kind: List) -> (Vec<Written>, Vec<String>) {
        crate::config::tree::read_key("f.yaml", yaml, "list", |w, _, v| list(w, v, kind))
    }

    #[test]
    fn bare_numbers_and_mappings() {
        let (out, errors) = entries(
            "list:\n  - 8613300000001\n  - user: \"+86 133 0000 0002\"\n    reason: phishing\n    expires: 2027-01-31\n",
            List::Blocked,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].entry.user, User::phone("8613300000001"));
        assert_eq!(out[0].entry.at.to_string(), "f.yaml:2:5");
        assert_eq!(out[1].entry.user, User::phone("8613300000002"));
        assert_eq!(out[1].raw, "+86 133 0000 0002");
        assert_eq!(out[1].entry.reason.as_deref(), Some("phishing"));
        assert_eq!(out[1].entry.expires, Date::parse("2027-01-31"));
        assert_eq!(out[1].entry.at.to_string(), "f.yaml:3:11");
    }

    #[test]
    fn empty_list_is_empty() {
        for yaml in ["list:\n", "list: ~\n", "list: []\n"] {
            let (out, errors) = entries(yaml, List::Blocked);
            assert!(out.is_empty() && errors.is_empty(), "{yaml:?}");
        }
    }

    #[test]
    fn every_bad_entry_is_reported() {
        let (out, errors) = entries(
            "list:\n  - \"86133xx\"\n  - 1234567\n  - user: 8613300000003\n    reson: x\n  - user: 8613300000004\n    expires: 2027-02-30\n  - reason: no user\n  - [8613300000005]\n  -\n",
            List::Blocked,
        );
        assert_eq!(
            errors,
            [
                "f.yaml:2:5: \"86133xx\" is not a phone number (unexpected character 'x'; only digits, '+', spaces, dashes, dots and parentheses are allowed)",
                "f.yaml:3:5: \"1234567\" is not a phone number (needs 8 to 15 digits, has 7)",
                "f.yaml:5:5: unknown key \"reson\" in entry 3 of blocked (expected one of: user, user_id, reason, expires; did you mean \"reason\"?)",
                "f.yaml:7:14: expires \"2027-02-30\" is not a valid date; write YYYY-MM-DD, e.g. 2027-01-31",
                "f.yaml:8:5: entry 5 of blocked has no user; write the number as user: \"+86 133 0000 0002\" or the BSUID as user_id: \"US.13491208655302741918\"",
                "f.yaml:9:5: entry 6 of blocked must be a phone number, a BSUID or a mapping with user: or user_id:, not a list",
                // The parser places an empty value at the next token.
                "f.yaml:11:1: entry 7 of blocked is empty; write a phone number",
            ]
        );
        // Entries with only metadata problems still carry their number, so
        // duplicate and conflict checks see them; the file fails anyway.
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn users_by_bsuid_or_by_both_ids() {
        let (out, errors) = entries(
            "list:\n  - CN.7Hq2Lm90aZ\n  - user_id: \"US.13491208655302741918\"\n    reason: spam\n  - user: \"+52 1 55 1234 5678\"\n    user_id: MX.99812736450012\n",
            List::Blocked,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let users: Vec<String> = out.iter().map(|w| w.entry.user.to_string()).collect();
        assert_eq!(
            users,
            [
                "CN.7Hq2Lm90aZ",
                "US.13491208655302741918",
                "5215512345678 (MX.99812736450012)"
            ]
        );
        assert_eq!(out[1].entry.reason.as_deref(), Some("spam"));
        assert_eq!(out[1].entry.at.to_string(), "f.yaml:3:14");
        assert_eq!(out[2].raw, "+52 1 55 1234 5678 (MX.99812736450012)");
    }

    #[test]
    fn every_bad_bsuid_is_reported_where_it_stands() {
        let (out, errors) = entries(
            "list:\n  - US.ENT.11815799212886844830\n  - us.1349\n  - user_id: \"8613300000001\"\n  - user: US.1349\n  - user: \"8613300000005\"\n    user_id: \"US.ENT.1\"\n  - user_id:\n",
            List::Blocked,
        );
        assert_eq!(
            errors,
            [
                "f.yaml:2:5: \"US.ENT.11815799212886844830\" is a parent BSUID (CC.ENT.…), which the platform cannot block or unblock; use the user's own BSUID",
                "f.yaml:3:5: \"us.1349\" is not a BSUID (two capital letters for the country, a period, then 1 to 128 letters and digits, e.g. US.13491208655302741918)",
                "f.yaml:4:14: \"8613300000001\" is not a BSUID (two capital letters for the country, a period, then 1 to 128 letters and digits, e.g. US.13491208655302741918)",
                "f.yaml:5:11: \"US.1349\" is a BSUID, not a phone number; write it as user_id: \"US.1349\"",
                "f.yaml:7:14: \"US.ENT.1\" is a parent BSUID (CC.ENT.…), which the platform cannot block or unblock; use the user's own BSUID",
                "f.yaml:8:5: user_id is empty; write a BSUID such as \"US.13491208655302741918\"",
            ]
        );
        // Half an entry is no entry: the phone beside a bad BSUID is not kept.
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn unblock_entries_cannot_expire() {
        let (_, errors) = entries(
            "list:\n  - user: 8613300000009\n    expires: 2027-01-31\n",
            List::Unblock,
        );
        assert_eq!(
            errors,
            [
                "f.yaml:3:5: an unblock entry cannot expire (\"expires\" applies to blocked entries only); remove it"
            ]
        );
    }
}
