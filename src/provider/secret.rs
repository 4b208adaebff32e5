//! A credential that cannot be printed by accident.
//!
//! Secrets never appear in any output, log line, error, plan file or report,
//! at any verbosity (docs/file-format.md). Holding them in this type makes that the
//! default: `{}` and `{:?}` print `***`, there is no `Serialize`, and the one
//! way to the value is [`Secret::expose`], which is easy to grep for.

use std::ffi::OsString;
use std::fmt;
use std::sync::RwLock;

use super::{Batch, BatchResult, Interrupted};

/// A string whose value only [`Secret::expose`] reveals.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it (signing a request).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A credential from the environment variable `name`, for provider kind
/// `kind`. Missing or blank is an error naming the variable (docs/file-format.md);
/// `lookup` is the environment, supplied so tests need not touch the real one.
pub fn from_lookup(
    name: &str,
    kind: &str,
    lookup: impl Fn(&str) -> Option<OsString>,
) -> anyhow::Result<Secret> {
    match text(name, lookup(name))? {
        Some(value) => Ok(Secret::new(value.trim())),
        None => anyhow::bail!(
            "{name} is not set: {kind} credentials come from the environment, never from the file"
        ),
    }
}

/// [`from_lookup`] on the process environment.
pub fn from_env(name: &str, kind: &str) -> anyhow::Result<Secret> {
    from_lookup(name, kind, from_process)
}

/// Variable `name` of the process environment. Its value is remembered as a
/// credential of this run, which every [`Redactor`] hides from then on: one
/// run may serve several accounts (a file's `credentials:` names their
/// variables), and no text may show any of their secrets, whichever
/// target's server sent it.
pub fn from_process(name: &str) -> Option<OsString> {
    let value = std::env::var_os(name);
    if let Some(text) = value.as_ref().and_then(|v| v.to_str()) {
        remember(text);
    }
    value
}

/// The spellings of every credential read through [`from_process`],
/// longest first.
static SEEN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Hide `value` in every redactor's text from now on.
fn remember(value: &str) {
    let mut seen = SEEN.write().unwrap_or_else(|e| e.into_inner());
    for spelling in spellings(value) {
        if !seen.contains(&spelling) {
            seen.push(spelling);
        }
    }
    seen.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
}

/// `value` as is, trimmed, and as JSON and Rust escape it (as a serde error
/// quotes it); nothing for a value too short to look for.
fn spellings(value: &str) -> Vec<String> {
    if value.trim().chars().count() < MIN_REDACTED_CHARS {
        return Vec::new();
    }
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json.trim_matches('"').to_string();
    let debug = value.escape_debug().to_string();
    let mut out = vec![value.to_string(), json, debug];
    if value.trim() != value {
        out.push(value.trim().to_string());
    }
    out
}

/// The text of variable `name` as is, `None` when it is missing or blank.
/// A value that is not UTF-8 is an error of its own: calling it "not set"
/// would send the user looking for a variable that is plainly there.
pub fn text(name: &str, value: Option<OsString>) -> anyhow::Result<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    let Ok(value) = value.into_string() else {
        anyhow::bail!("{name} is set but not valid UTF-8: credentials must be text")
    };
    Ok((!value.trim().is_empty()).then_some(value))
}

/// Hides a client's credentials in text that came from its server.
///
/// A reply can quote what it was sent: a gateway that echoes request
/// headers put the access key verbatim into a `message` the tool printed.
/// Each client keeps one of these with its own credential values and passes
/// every server-provided string that can reach an error, a log line or a
/// report through [`Redactor::redact`]; [`Redactor::error`] is the last
/// check on everything a client returns.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a value that contains another is hidden whole.
    values: Vec<Secret>,
}

/// Values shorter than this are not looked for: hiding every `s` of a
/// one-letter test secret turns each message into noise, and so short a
/// value would be guessed, not read. Real keys and tokens are far longer.
const MIN_REDACTED_CHARS: usize = 4;

impl Redactor {
    /// Values shorter than four characters are skipped. Each value
    /// is also looked for as JSON and Rust escape it (as a serde error
    /// quotes it), when those differ.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut spelled: Vec<String> = Vec::new();
        for value in values {
            spelled.extend(spellings(value));
        }
        spelled.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        spelled.dedup();
        let values = spelled.into_iter().map(Secret).collect();
        Redactor { values }
    }

    /// `text` with every occurrence of every value replaced by `***`, and
    /// so is whatever follows `Basic` or `Bearer` ([`hide_auth_credentials`]).
    /// Control characters are shown escaped (`\n`, `\u{1b}`): a server's
    /// text stays on its line and sends no escape sequence to a terminal.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for value in &self.values {
            if text.contains(value.expose()) {
                text = text.replace(value.expose(), "***");
            }
        }
        for value in SEEN.read().unwrap_or_else(|e| e.into_inner()).iter() {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), "***");
            }
        }
        let text = hide_auth_credentials(&text);
        crate::workflow::escape_controls(&text).into_owned()
    }

    fn reveals(&self, text: &str) -> bool {
        self.values
            .iter()
            .any(|value| text.contains(value.expose()))
            || SEEN
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|value| text.contains(value.as_str()))
            || hide_auth_credentials(text) != text
            || text.chars().any(char::is_control)
    }

    /// The error as is, unless its message or a cause shows a value (or a
    /// control character): then the whole chain, as `{:#}` prints it,
    /// redacted.
    pub fn error(&self, error: anyhow::Error) -> anyhow::Error {
        let shown = format!("{error:#}");
        if self.reveals(&shown) {
            anyhow::anyhow!(self.redact(&shown))
        } else {
            error
        }
    }

    /// Per-user messages come from the server too.
    pub fn batch(&self, mut result: BatchResult) -> BatchResult {
        for failed in &mut result.failed {
            failed.message = self.redact(&failed.message);
        }
        result
    }

    /// What a client's block or unblock returns, checked, partial answers
    /// included: see [`Redactor::batch`] and [`Redactor::error`].
    pub fn batch_result(&self, result: Batch) -> Batch {
        match result {
            Ok(result) => Ok(self.batch(result)),
            Err(Interrupted { partial, error }) => Err(Interrupted {
                partial: self.batch(partial),
                error: self.error(error),
            }),
        }
    }
}

/// `text` with the credentials of `Authorization` values it quotes hidden.
///
/// A server that echoes request headers shows an `Authorization` value
/// whatever put it there: the client's own token (also hidden by value), a
/// proxy's, or one built from a URL's `user:password@`. Its credential
/// follows the scheme name as a token68 (RFC 9110 §11.4, RFC 7617, RFC
/// 6750), so `Basic`/`Bearer` (any case, as a word) and whitespace followed
/// by four or more token68 characters become `Basic ***`. A run of lowercase
/// letters alone is left alone: that is prose ("Basic authentication
/// failed", "Bearer token expired"), and base64 or a real token mixes in
/// capitals, digits or symbols. `\` counts as a token character because
/// some JSON encoders write `/` as `\/`.
fn hide_auth_credentials(text: &str) -> String {
    const SCHEMES: [&str; 2] = ["basic", "bearer"];
    let is_token = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=\\".contains(&b);
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase().into_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let scheme = SCHEMES
            .iter()
            .find(|s| lower[i..].starts_with(s.as_bytes()));
        let at_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let Some(scheme) = scheme.filter(|_| at_word) else {
            i += 1;
            continue;
        };
        let mut start = i + scheme.len();
        let spaces = bytes[start..]
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        start += spaces;
        let len = bytes[start..].iter().take_while(|b| is_token(**b)).count();
        let token = &bytes[start..start + len];
        let prose = token.iter().all(|b| b.is_ascii_lowercase());
        if spaces == 0 || len < MIN_REDACTED_CHARS || prose {
            i += scheme.len();
            continue;
        }
        // Every index here is at an ASCII byte, so on a char boundary.
        out.push_str(&text[copied..start]);
        out.push_str("***");
        copied = start + len;
        i = copied;
    }
    out.push_str(&text[copied..]);
    out
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} spellings)", self.values.len())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let secret = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret:#?}"), "***");
        // Nested in a derived Debug, it stays hidden.
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            secret: Secret,
        }
        let shown = format!("{:?}", Holder { secret });
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn from_the_environment_naming_the_variable() {
        let env = |value: Option<&'static str>| move |_: &str| value.map(OsString::from);
        let found = from_lookup("WHATSAPP_TOKEN", "cloud-api", env(Some(" EAAG-1 \n"))).unwrap();
        assert_eq!(found.expose(), "EAAG-1");
        for missing in [None, Some(""), Some("  ")] {
            let err = from_lookup("WAHA_API_KEY", "waha", env(missing)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "WAHA_API_KEY is not set: waha credentials come from the environment, never from the file"
            );
        }
    }

    /// A value that is there but not UTF-8 is not "not set".
    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_utf8_is_named_as_such() {
        use std::os::unix::ffi::OsStringExt;
        let bytes = || Some(OsString::from_vec(b"tok\xffen".to_vec()));
        let err = from_lookup("WHATSAPP_TOKEN", "cloud-api", |_| bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "WHATSAPP_TOKEN is set but not valid UTF-8: credentials must be text"
        );
    }

    #[test]
    fn server_text_never_shows_a_credential() {
        let redactor = Redactor::new(["key-abc", "key-abc-longer", "s\"ecret", "", " "]);
        assert_eq!(
            redactor.redact("accessKey: key-abc-longer, again key-abc; sign of key-abcdef"),
            "accessKey: ***, again ***; sign of ***def"
        );
        // As a JSON string and as a serde error quotes it.
        assert_eq!(redactor.redact(r#"{"h":"s\"ecret"}"#), r#"{"h":"***"}"#);
        assert_eq!(redactor.redact("nothing here"), "nothing here");
        let shown = format!("{redactor:?}");
        assert!(!shown.contains("key-abc"), "{shown}");
        // Too short to hide without hiding every word that contains it.
        let short = Redactor::new(["k", "s3c", "abcd"]);
        assert_eq!(short.redact("keys s3cret abcde"), "keys s3cret ***e");

        let quiet = anyhow::anyhow!("HTTP 503").context("POST http://127.0.0.1/x");
        let quiet = redactor.error(quiet);
        assert_eq!(
            quiet.chain().count(),
            2,
            "an error without a value is untouched"
        );
        let loud = anyhow::anyhow!("echo: accessKey=key-abc").context("POST http://127.0.0.1/x");
        let loud = redactor.error(loud);
        assert_eq!(
            format!("{loud:#}"),
            "POST http://127.0.0.1/x: echo: accessKey=***"
        );

        let result = BatchResult {
            done: vec!["1".into()],
            failed: vec![super::super::UserError {
                user: "2".into(),
                code: 131000,
                message: "header accessKey=key-abc".into(),
            }],
        };
        let stopped = redactor.batch_result(Err(Interrupted {
            partial: result.clone(),
            error: anyhow::anyhow!("echo: accessKey=key-abc"),
        }));
        let Err(stopped) = stopped else {
            panic!("the interruption is kept")
        };
        assert_eq!(stopped.partial.failed[0].message, "header accessKey=***");
        assert_eq!(format!("{:#}", stopped.error), "echo: accessKey=***");
        let result = redactor.batch_result(Ok(result)).unwrap();
        assert_eq!(result.failed[0].message, "header accessKey=***");
        assert_eq!(result.done, ["1"]);
    }

    #[test]
    fn echoed_authorization_values_are_hidden_whatever_put_them_there() {
        let redactor = Redactor::new(["EAAG-own-token"]);
        for (echoed, shown) in [
            (
                "authorization: Basic YWRtaW46cGE1NXcwcmQ=\r\nhost: x",
                "authorization: Basic ***\\r\\nhost: x",
            ),
            (
                r#"{"Authorization":"BEARER eyJhbGc.iOi\/x_y~z+1=="}"#,
                r#"{"Authorization":"BEARER ***"}"#,
            ),
            ("Bearer EAAG-own-token", "Bearer ***"),
            (
                "a Basic\tYTpi and bearer  QWxh",
                "a Basic\\t*** and bearer  ***",
            ),
            // Prose, a too-short value, and a scheme inside a word stay.
            ("Basic authentication failed", "Basic authentication failed"),
            ("Bearer token expired", "Bearer token expired"),
            ("Basic Ab1", "Basic Ab1"),
            ("SuperBasic QWxhZGRpbg==", "SuperBasic QWxhZGRpbg=="),
            ("Basic: QWxhZGRpbg==", "Basic: QWxhZGRpbg=="),
            (
                "ünïcode Bearer Zz9 € Basic ЖЖЖЖ",
                "ünïcode Bearer Zz9 € Basic ЖЖЖЖ",
            ),
        ] {
            assert_eq!(redactor.redact(echoed), shown, "{echoed}");
        }
        let error = anyhow::anyhow!("echo:\r\n\x1b[2JAuthorization: Basic YWRtaW46cGE1NXcwcmQ=");
        assert_eq!(
            format!("{:#}", redactor.error(error)),
            "echo:\\r\\n\\u{1b}[2JAuthorization: Basic ***"
        );
    }

    /// One run, several accounts: a redactor hides every credential the
    /// run read, not only its own client's.
    #[test]
    fn every_credential_read_is_hidden_by_every_redactor() {
        let own = Redactor::new(["key-of-account-a"]);
        remember("other-account-secret-5b1e");
        assert_eq!(
            own.redact("a: key-of-account-a, b: other-account-secret-5b1e"),
            "a: ***, b: ***"
        );
        let error = own.error(anyhow::anyhow!("echo other-account-secret-5b1e"));
        assert_eq!(error.to_string(), "echo ***");
    }

    #[test]
    fn expose_is_the_way_in() {
        let secret = Secret::from("abc".to_string());
        assert_eq!(secret.expose(), "abc");
        assert!(!secret.is_empty());
        assert!(Secret::from("").is_empty());
    }
}
