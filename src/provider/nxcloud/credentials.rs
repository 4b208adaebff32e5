//! NxCloud credentials: from the environment only, never printed.
//!
//! Credentials never live in the desired-state file; they come from
//! `NXCLOUD_ACCESS_KEY` and `NXCLOUD_ACCESS_SECRET`, or from the variables a
//! file's `credentials:` names (README, "Several accounts of one kind"). The
//! secret is only used to sign (docs/platforms.md, NxCloud: it is never sent).

use std::ffi::OsString;
use std::fmt;

use crate::provider::secret::{self, Secret};

pub const ACCESS_KEY_VAR: &str = "NXCLOUD_ACCESS_KEY";
pub const ACCESS_SECRET_VAR: &str = "NXCLOUD_ACCESS_SECRET";

#[derive(Clone)]
pub struct Credentials {
    access_key: String,
    access_secret: Secret,
    /// Where they were read from, for messages ("check …").
    key_var: String,
    secret_var: String,
}

impl Credentials {
    pub fn new(access_key: impl Into<String>, access_secret: impl Into<String>) -> Self {
        Credentials {
            access_key: access_key.into(),
            access_secret: Secret::new(access_secret),
            key_var: ACCESS_KEY_VAR.to_string(),
            secret_var: ACCESS_SECRET_VAR.to_string(),
        }
    }

    /// Read `NXCLOUD_ACCESS_KEY` and `NXCLOUD_ACCESS_SECRET`.
    pub fn from_env() -> anyhow::Result<Credentials> {
        Self::from_vars(ACCESS_KEY_VAR, ACCESS_SECRET_VAR)
    }

    /// Read the access key from `key_var` and the secret from `secret_var`
    /// (a file's `credentials:` may name other variables than the defaults).
    pub fn from_vars(key_var: &str, secret_var: &str) -> anyhow::Result<Credentials> {
        Self::from_vars_lookup(key_var, secret_var, secret::from_process)
    }

    /// [`Credentials::from_env`] with the environment supplied by the caller,
    /// so it can be tested without touching the process environment.
    /// A variable that is missing or blank counts as not set; one that is
    /// not UTF-8 is named as such ([`secret::text`]).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> anyhow::Result<Credentials> {
        Self::from_vars_lookup(ACCESS_KEY_VAR, ACCESS_SECRET_VAR, lookup)
    }

    /// [`Credentials::from_vars`] with the environment supplied by the caller.
    pub fn from_vars_lookup(
        key_var: &str,
        secret_var: &str,
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> anyhow::Result<Credentials> {
        let key = secret::text(key_var, lookup(key_var))?;
        let secret = secret::text(secret_var, lookup(secret_var))?;
        match (key, secret) {
            (Some(key), Some(secret)) => Ok(Credentials {
                key_var: key_var.to_string(),
                secret_var: secret_var.to_string(),
                ..Credentials::new(key, secret)
            }),
            (key, secret) => {
                let missing: Vec<&str> = [(key.is_none(), key_var), (secret.is_none(), secret_var)]
                    .into_iter()
                    .filter_map(|(missing, name)| missing.then_some(name))
                    .collect();
                let verb = if missing.len() == 1 { "is" } else { "are" };
                anyhow::bail!(
                    "{} {verb} not set: NxCloud credentials come from the environment, never from the file",
                    missing.join(" and ")
                )
            }
        }
    }

    /// Sent in the `accessKey` header. Not the secret, but still a credential:
    /// it is never printed either.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    pub fn access_secret(&self) -> &Secret {
        &self.access_secret
    }

    /// The variable the access key came from.
    pub fn key_var(&self) -> &str {
        &self.key_var
    }

    /// The variable the secret came from.
    pub fn secret_var(&self) -> &str {
        &self.secret_var
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &"***")
            .field("access_secret", &self.access_secret)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn reads_both_variables() {
        let found = Credentials::from_lookup(env(&[
            (ACCESS_KEY_VAR, "key-1"),
            (ACCESS_SECRET_VAR, "s3cr3t-value"),
        ]))
        .unwrap();
        assert_eq!(found.access_key(), "key-1");
        assert_eq!(found.access_secret().expose(), "s3cr3t-value");
    }

    #[test]
    fn other_variables_are_read_and_named() {
        let vars = ("NXCLOUD_KEY_SHOP", "NXCLOUD_SECRET_SHOP");
        let found = Credentials::from_vars_lookup(
            vars.0,
            vars.1,
            env(&[(vars.0, "key-shop"), (vars.1, "s3cr3t-shop")]),
        )
        .unwrap();
        assert_eq!(found.access_key(), "key-shop");
        assert_eq!((found.key_var(), found.secret_var()), vars);
        // The defaults are not a fallback: a file that names its variables
        // means those.
        let err = Credentials::from_vars_lookup(
            vars.0,
            vars.1,
            env(&[(ACCESS_KEY_VAR, "key-1"), (vars.1, "s3cr3t-shop")]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "NXCLOUD_KEY_SHOP is not set: NxCloud credentials come from the environment, never from the file"
        );
    }

    #[test]
    fn missing_or_empty_names_the_variable() {
        let err = Credentials::from_lookup(env(&[(ACCESS_KEY_VAR, "key-1")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "NXCLOUD_ACCESS_SECRET is not set: NxCloud credentials come from the environment, never from the file"
        );
        let err = Credentials::from_lookup(env(&[
            (ACCESS_KEY_VAR, " "),
            (ACCESS_SECRET_VAR, "s3cr3t-value"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("NXCLOUD_ACCESS_KEY is not set:"),
            "{err}"
        );
        assert!(!err.to_string().contains("s3cr3t-value"));
        let err = Credentials::from_lookup(env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("NXCLOUD_ACCESS_KEY and NXCLOUD_ACCESS_SECRET are not set:"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_utf8_is_named_as_such() {
        use std::os::unix::ffi::OsStringExt;
        let lookup = |name: &str| match name {
            ACCESS_KEY_VAR => Some(OsString::from("key-1")),
            _ => Some(OsString::from_vec(b"s3cr\xe9t".to_vec())),
        };
        let err = Credentials::from_lookup(lookup).unwrap_err();
        assert_eq!(
            err.to_string(),
            "NXCLOUD_ACCESS_SECRET is set but not valid UTF-8: credentials must be text"
        );
    }

    #[test]
    fn debug_shows_neither_key_nor_secret() {
        let credentials = Credentials::new("key-abc123", "s3cr3t-value");
        for shown in [format!("{credentials:?}"), format!("{credentials:#?}")] {
            assert!(!shown.contains("s3cr3t-value"), "{shown}");
            assert!(!shown.contains("key-abc123"), "{shown}");
        }
    }
}
