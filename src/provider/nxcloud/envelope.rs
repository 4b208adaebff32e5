//! What an NxCloud envelope code means for the client (docs/platforms.md, NxCloud, the
//! code table), and Meta's code inside a 9099 pass-through.
//!
//! The transient/fatal split itself is decided in [`crate::provider::retry`];
//! this table adds the user-facing wording and the codes the client acts on.

use crate::provider::codes;
use crate::provider::meta::{MetaError, passed_through};
use crate::provider::retry::{meta_code_is_transient, nxcloud_code_is_transient};

/// Names used in messages; none of them is a credential.
pub(super) struct Context<'a> {
    pub appkey: &'a str,
    pub business_phone: &'a str,
    /// The variables the access key and secret were read from.
    pub key_var: &'a str,
    pub secret_var: &'a str,
}

/// What the client does with an envelope.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum EnvelopeMeaning {
    /// Read `data` (code 0).
    Data,
    /// Meta's 139100 partial failure: read `data` for the per-user results
    /// of a block or unblock. A listing has none, so there it is an error.
    Partial,
    /// Retry; the text is what the final error shows.
    Transient(String),
    /// Give up; the text explains why (the caller prefixes the endpoint).
    Fatal(String),
    /// 1004, timestamp outside the window: re-sign with a fresh `ts` once.
    ClockSkew,
    /// A Meta refusal the caller handles: 139101 (list full), 139102 (list
    /// changed), or a per-user code for the whole call ([`codes::is_per_user`]).
    Refused(MetaError),
}

pub(super) fn classify(code: i64, message: &str, context: &Context<'_>) -> EnvelopeMeaning {
    let nx = if message.is_empty() {
        format!("NxCloud code {code}")
    } else {
        format!("NxCloud code {code}: {message}")
    };
    let Context {
        appkey,
        business_phone,
        key_var,
        secret_var,
    } = context;
    let fatal = |text: String| EnvelopeMeaning::Fatal(text);
    match code {
        0 => EnvelopeMeaning::Data,
        1001 => fatal(format!("a required header is missing ({nx})")),
        1002 => fatal(format!("NxCloud rejected a parameter ({nx})")),
        1003 => fatal(format!("invalid signature: check {secret_var} ({nx})")),
        1004 => EnvelopeMeaning::ClockSkew,
        1005 => fatal(format!(
            "permission denied: check {key_var} and that the business is enabled ({nx})"
        )),
        9002 => fatal(format!(
            "business phone {business_phone} is not usable with NxCloud ({nx})"
        )),
        9003 => fatal(format!("the NxCloud app {appkey} is unavailable ({nx})")),
        9006 | 10003 => fatal(format!(
            "business phone {business_phone} is not bound to the app {appkey} ({nx})"
        )),
        9099 => classify_meta(message, &nx),
        code if nxcloud_code_is_transient(code) => EnvelopeMeaning::Transient(nx),
        9000..=9006 => fatal(format!("NxCloud platform error ({nx})")),
        _ => fatal(format!("unexpected reply ({nx})")),
    }
}

fn classify_meta(message: &str, nx: &str) -> EnvelopeMeaning {
    let Some((meta, flagged)) = passed_through(message) else {
        return EnvelopeMeaning::Fatal(format!("Meta error without a Meta code ({nx})"));
    };
    match meta.code {
        // Per-user results follow in `data`, as with code 0 (docs/platforms.md, Cloud API).
        codes::PARTIAL_FAILURE => EnvelopeMeaning::Partial,
        // Codes the client acts on win over Meta's is_transient, as for
        // the Cloud API: retrying 139102 as is would only meet it again.
        codes::LIST_FULL | codes::LIST_CHANGED => EnvelopeMeaning::Refused(meta),
        code if codes::is_per_user(code) => EnvelopeMeaning::Refused(meta),
        code if meta_code_is_transient(code, flagged) => {
            EnvelopeMeaning::Transient(format!("Meta code {code}: {}", meta.message))
        }
        code => EnvelopeMeaning::Fatal(format!("Meta error {code}: {}", meta.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: Context<'static> = Context {
        appkey: "pem28kje",
        business_phone: "8615800001795",
        key_var: "NXCLOUD_ACCESS_KEY",
        secret_var: "NXCLOUD_ACCESS_SECRET",
    };

    fn fatal_text(code: i64, message: &str) -> String {
        match classify(code, message, &CONTEXT) {
            EnvelopeMeaning::Fatal(text) => text,
            other => panic!("{code}: expected fatal, got {other:?}"),
        }
    }

    #[test]
    fn code_table() {
        assert_eq!(classify(0, "请求成功", &CONTEXT), EnvelopeMeaning::Data);
        assert_eq!(
            classify(1004, "ts expired", &CONTEXT),
            EnvelopeMeaning::ClockSkew
        );
        for code in [-1, 9007] {
            assert!(
                matches!(classify(code, "x", &CONTEXT), EnvelopeMeaning::Transient(_)),
                "{code}"
            );
        }
        for code in [
            1001, 1002, 1003, 1005, 9000, 9001, 9002, 9003, 9004, 9005, 9006, 10003, 42,
        ] {
            let text = fatal_text(code, "boom");
            assert!(
                text.contains(&format!("NxCloud code {code}: boom")),
                "{text}"
            );
        }
        assert!(fatal_text(1003, "").starts_with("invalid signature: check NXCLOUD_ACCESS_SECRET"));
        assert!(fatal_text(1005, "").starts_with(
            "permission denied: check NXCLOUD_ACCESS_KEY and that the business is enabled"
        ));
        for code in [9006, 10003] {
            assert!(
                fatal_text(code, "")
                    .starts_with("business phone 8615800001795 is not bound to the app pem28kje"),
                "{code}"
            );
        }
    }

    #[test]
    fn meta_codes_inside_9099() {
        let verdict = |message: &str| classify(9099, message, &CONTEXT);
        assert_eq!(
            verdict("(#139102) Block list changed"),
            EnvelopeMeaning::Refused(MetaError {
                code: 139102,
                message: "Block list changed".into()
            })
        );
        assert!(
            matches!(verdict("(#139101) Blocklist full"), EnvelopeMeaning::Refused(m) if m.code == 139101)
        );
        assert_eq!(
            verdict("(#139100) Some users failed"),
            EnvelopeMeaning::Partial
        );
        for code in [131047, 131021] {
            let refused = verdict(&format!("(#{code}) not you"));
            assert!(
                matches!(refused, EnvelopeMeaning::Refused(m) if m.code == code),
                "{code}"
            );
        }
        for code in [139103, 130429, 4, 80007, 1, 2, 131000, 131016] {
            let verdict = verdict(&format!("(#{code}) try later"));
            assert_eq!(
                verdict,
                EnvelopeMeaning::Transient(format!("Meta code {code}: try later"))
            );
        }
        assert_eq!(
            verdict("(#190) Invalid OAuth access token"),
            EnvelopeMeaning::Fatal("Meta error 190: Invalid OAuth access token".into())
        );
        assert!(
            matches!(verdict("something odd"), EnvelopeMeaning::Fatal(t) if t.contains("without a Meta code"))
        );
    }

    /// Meta's `is_transient: true` makes an error retryable (docs/platforms.md,
    /// Cloud API), also when NxCloud passes Meta's error JSON through.
    #[test]
    fn is_transient_inside_9099_is_honoured() {
        let verdict = |message: &str| classify(9099, message, &CONTEXT);
        let flagged = r#"{"error":{"message":"(#100) Busy","code":100,"is_transient":true}}"#;
        assert_eq!(
            verdict(flagged),
            EnvelopeMeaning::Transient("Meta code 100: Busy".into())
        );
        let unflagged = r#"{"error":{"message":"(#100) Busy","code":100,"is_transient":false}}"#;
        assert_eq!(
            verdict(unflagged),
            EnvelopeMeaning::Fatal("Meta error 100: Busy".into())
        );
        let changed =
            r#"{"error":{"message":"(#139102) Changed","code":139102,"is_transient":true}}"#;
        assert!(matches!(verdict(changed), EnvelopeMeaning::Refused(m) if m.code == 139102));
    }
}
