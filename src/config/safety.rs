//! `safety:` limits (README, Safety guards). Only read and checked here; the guards
//! themselves run at plan time, where flags can override them.

use marked_yaml::Node;

use super::Safety;
use super::tree::{Walker, entry, is_null};

const KEYS: &[&str] = &["max_unblocks", "max_unblock_ratio", "allow_empty"];

pub(super) fn safety(w: &mut Walker, node: &Node) -> Safety {
    let mut safety = Safety::default();
    if is_null(node) {
        return safety;
    }
    let Some(map) = w.mapping(node, "safety") else {
        return safety;
    };
    w.unknown_keys(map, KEYS, " in safety");
    if let Some((k, n)) = entry(map, "max_unblocks")
        && let Some(text) = w.text(Some(k.span()), n, "safety.max_unblocks")
    {
        match text.parse::<u64>() {
            // `parse` takes a leading '+'; a count is written as plain digits.
            Ok(count) if text.bytes().all(|b| b.is_ascii_digit()) => {
                safety.max_unblocks = Some(count)
            }
            _ => w.error(
                n.span(),
                format!("safety.max_unblocks {text:?} is not a whole number of 0 or more"),
            ),
        }
    }
    if let Some((k, n)) = entry(map, "max_unblock_ratio")
        && let Some(text) = w.text(Some(k.span()), n, "safety.max_unblock_ratio")
    {
        match text.parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => safety.max_unblock_ratio = Some(ratio),
            _ => {
                let hint = if text.ends_with('%') {
                    "; write a fraction, e.g. 0.25 for 25%"
                } else {
                    ""
                };
                w.error(
                    n.span(),
                    format!("safety.max_unblock_ratio {text:?} is not a number from 0 to 1{hint}"),
                );
            }
        }
    }
    if let Some((k, n)) = entry(map, "allow_empty")
        && let Some(text) = w.text(Some(k.span()), n, "safety.allow_empty")
    {
        match text {
            "true" | "True" | "TRUE" => safety.allow_empty = Some(true),
            "false" | "False" | "FALSE" => safety.allow_empty = Some(false),
            _ => w.error(
                n.span(),
                format!("safety.allow_empty {text:?} is not true or false"),
            ),
        }
    }
    safety
}

#[cfg(test)]
mod tests {

    use super::*;

    fn parse(yaml: &str) -> (Safety, Vec<String>) {
        crate::config::tree::read_key("f.yaml", yaml, "safety", |w, _, v| safety(w, v))
    }

    #[test]
    fn reads_all_three() {
        let (s, e) =
            parse("safety:\n  max_unblocks: 100\n  max_unblock_ratio: 0.25\n  allow_empty: true\n");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            s,
            Safety {
                max_unblocks: Some(100),
                max_unblock_ratio: Some(0.25),
                allow_empty: Some(true)
            }
        );
        assert_eq!(parse("safety:\n").0, Safety::default());
        assert_eq!(
            parse("safety: {max_unblock_ratio: 1}\n")
                .0
                .max_unblock_ratio,
            Some(1.0)
        );
        assert_eq!(parse("safety: {max_unblocks: 0}\n").0.max_unblocks, Some(0));
    }

    #[test]
    fn names_the_bad_values() {
        let (_, e) = parse(
            "safety:\n  max_unblocks: -1\n  max_unblock_ratio: 25%\n  allow_empty: yes\n  max_unblok: 3\n",
        );
        assert_eq!(
            e,
            [
                "f.yaml:5:3: unknown key \"max_unblok\" in safety (expected one of: max_unblocks, max_unblock_ratio, allow_empty; did you mean \"max_unblocks\"?)",
                "f.yaml:2:17: safety.max_unblocks \"-1\" is not a whole number of 0 or more",
                "f.yaml:3:22: safety.max_unblock_ratio \"25%\" is not a number from 0 to 1; write a fraction, e.g. 0.25 for 25%",
                "f.yaml:4:16: safety.allow_empty \"yes\" is not true or false",
            ]
        );
        for bad in ["1.5", "-0.1", "NaN", "inf", "x"] {
            let (s, e) = parse(&format!("safety: {{max_unblock_ratio: {bad}}}\n"));
            assert_eq!((s.max_unblock_ratio, e.len()), (None, 1), "{bad}");
        }
        for bad in ["+5", "1.0", "99999999999999999999999"] {
            let (_, e) = parse(&format!("safety: {{max_unblocks: {bad}}}\n"));
            assert_eq!(e.len(), 1, "{bad}");
        }
    }
}
