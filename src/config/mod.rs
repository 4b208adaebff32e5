//! Desired-state files: one YAML file per business phone (docs/file-format.md).
//!
//! Loading happens in two steps, after cargo-deny: parse the YAML into a tree
//! that remembers where every value came from, then turn it into validated
//! [`Target`]s while collecting *every* problem, so `validate` can show them
//! all at once with `file:line:col` and the offending value.
//!
//! One run of [`load`]: `discover` turns paths into files; `source` reads
//! each one safely (after `shape` has checked its text) into the located
//! tree that `tree` helps to walk; `file` turns it into a [`Target`] with
//! `entry`, `provider` (and `credentials`), `safety` and `include`; then
//! `duplicates` settles repeated users within each target.

mod credentials;
mod discover;
mod duplicates;
mod entry;
mod excerpt;
mod file;
mod include;
mod provider;
mod safety;
mod shape;
mod source;
mod tree;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::date::Date;

use crate::user::{User, phone_key};
/// The credentials each provider kind takes, by their `credentials:` key,
/// with the variable each is read from by default.
pub use credentials::roles as credentials_roles;

/// Where a value came from: `file:line:col` (1-based, as editors count).
/// Line 0 means the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    /// Control characters in the path are shown escaped: a file name with a
    /// newline must not break the message into lines it does not mean.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display().to_string();
        let file = crate::workflow::escape_controls(&file);
        if self.line == 0 {
            // A problem with the file as a whole (missing, unreadable, a cycle).
            write!(f, "{file}")
        } else {
            write!(f, "{file}:{}:{}", self.line, self.column)
        }
    }
}

/// One problem found in a file. Errors stop the run before anything is sent;
/// warnings (such as duplicates) are shown and the run goes on.
///
/// Shown (`Display`) as the headline `file:line:col: message`, then, when
/// the line is known, that line with a caret under the column (see
/// `excerpt`). Pipelines grep the headline; one-line contexts (JSON,
/// annotations, a message quoting it) use [`Diagnostic::headline`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    /// Complete sentence naming the offending value, e.g.
    /// `"86133xx" is not a phone number (needs 8 to 15 digits, has 5)`.
    pub message: String,
    /// The offending line and its caret, two lines behind a gutter; added
    /// by `load` once every problem is known.
    excerpt: Option<String>,
}

impl Diagnostic {
    /// `file:line:col: message`, one line.
    pub fn headline(&self) -> String {
        format!("{}: {}", self.location, self.message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)?;
        if let Some(excerpt) = &self.excerpt {
            write!(f, "\n{excerpt}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The file is the whole truth: live entries it does not list are unblocked.
    Exclusive,
    /// The tool only blocks; it unblocks only what `unblock:` names.
    Additive,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Exclusive => "exclusive",
            Mode::Additive => "additive",
        }
    }
}

/// Provider settings from the file. Credentials are never here: they come
/// from the environment when a client is built.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderSettings {
    NxCloud {
        appkey: String,
        base_url: Option<String>,
        /// The environment variables holding the access key and secret:
        /// `NXCLOUD_ACCESS_KEY`/`NXCLOUD_ACCESS_SECRET` unless the file's
        /// `credentials:` names others. Names only, never the values.
        access_key_var: String,
        access_secret_var: String,
    },
    CloudApi {
        /// Meta's ID of the business phone number; `None` only when
        /// `endpoint` names the whole URL instead.
        phone_number_id: Option<String>,
        api_version: String,
        base_url: Option<String>,
        /// A Meta-shaped reseller's full block-users URL (docs/platforms.md, Meta-shaped resellers);
        /// it replaces `base_url`, `api_version` and `phone_number_id`.
        endpoint: Option<String>,
        /// The header that carries `WHATSAPP_TOKEN` as is (e.g. 360dialog's
        /// `D360-API-KEY`); `None` means Meta's `Authorization: Bearer <token>`.
        auth_header: Option<String>,
        /// Users per block or unblock call, 1 to 1 000 (some resellers take 100).
        chunk_size: usize,
        /// The environment variable holding the token (`WHATSAPP_TOKEN`
        /// unless `credentials: {token: …}` names another).
        token_var: String,
    },
    Waha {
        base_url: String,
        session: String,
        /// Absolute or relative to the current directory (already resolved
        /// against the file's directory). Without `ledger:` in the file, the
        /// old default `<file>.ledger.json`, which the state takes over.
        ledger: PathBuf,
        /// The file names its ledger (`ledger:`): it is kept there, not in
        /// the state.
        ledger_given: bool,
        /// The environment variable holding the API key (`WAHA_API_KEY`
        /// unless `credentials: {api_key: …}` names another).
        api_key_var: String,
    },
    /// The built-in emulator, run in-process (README, The emulator).
    Sandbox,
}

/// The provider kinds a file can name. Every `match` on it is exhaustive, so
/// a new kind cannot silently fall into another's arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    NxCloud,
    CloudApi,
    Waha,
    Sandbox,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::NxCloud, Kind::CloudApi, Kind::Waha, Kind::Sandbox];

    /// The `provider.kind` spelling, as used in files, plans and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::NxCloud => "nxcloud",
            Kind::CloudApi => "cloud-api",
            Kind::Waha => "waha",
            Kind::Sandbox => "sandbox",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl ProviderSettings {
    pub fn kind(&self) -> Kind {
        match self {
            ProviderSettings::NxCloud { .. } => Kind::NxCloud,
            ProviderSettings::CloudApi { .. } => Kind::CloudApi,
            ProviderSettings::Waha { .. } => Kind::Waha,
            ProviderSettings::Sandbox => Kind::Sandbox,
        }
    }
}

/// `safety:` keys from the file; `None` means "use the default or the flag".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Safety {
    pub max_unblocks: Option<u64>,
    pub max_unblock_ratio: Option<f64>,
    pub allow_empty: Option<bool>,
}

/// One entry of a `blocked:` or `unblock:` list, canonicalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Who: a phone (canonical digits), a BSUID, or both for one person.
    pub user: User,
    pub reason: Option<String>,
    /// After this date (UTC) the entry is no longer desired.
    pub expires: Option<Date>,
    /// Where it was written (the include file, for included entries).
    pub at: Location,
}

/// A validated desired-state file: the block list of one business phone.
#[derive(Debug, Clone)]
pub struct Target {
    /// The path as the user named it (or as found in a directory), for messages.
    pub file: PathBuf,
    /// Canonical digits.
    pub business_phone: String,
    pub provider: ProviderSettings,
    pub mode: Mode,
    /// The file's own entries followed by those of its includes, in order,
    /// duplicates already dropped (each reported as a warning). Expired
    /// entries are kept: the plan needs them to explain "expired" unblocks.
    pub blocked: Vec<Entry>,
    pub unblock: Vec<Entry>,
    pub safety: Safety,
    /// Every file the target includes, with the include item that first
    /// brought it in, so `why` can show how an entry reached the target.
    pub includes: Vec<Inclusion>,
}

/// An include file, as the entries it holds name it (their `at.file`), and
/// the `include:` item, in the including file, that brought it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    pub file: PathBuf,
    pub at: Location,
}

impl Target {
    /// How `file` reached this target: the include items from the target's
    /// own file down to the one that brought `file` in (empty for the
    /// target's own file).
    pub fn include_chain(&self, file: &Path) -> Vec<&Location> {
        let mut chain = Vec::new();
        let mut current = file;
        while current != self.file.as_path() {
            let Some(step) = self.includes.iter().find(|i| i.file == current) else {
                break;
            };
            chain.push(&step.at);
            current = &step.at.file;
            if chain.len() > self.includes.len() {
                break; // a cycle would have been an error; never loop
            }
        }
        chain.reverse();
        chain
    }
}

/// The outcome of loading some paths: every target that validated, and
/// every diagnostic found on the way. Callers must not contact any provider
/// when `errors` is not empty.
#[derive(Debug, Default)]
pub struct Loaded {
    pub targets: Vec<Target>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// Load files and directories (a directory means its `*.yaml`/`*.yml`, not
/// recursive), resolving includes, validating everything, collecting all
/// diagnostics. Never panics on file content.
pub fn load(paths: &[PathBuf]) -> Loaded {
    let mut report = tree::Report::default();
    let files = discover::files(paths, &mut report);
    let mut includes = include::Includes::default();
    let parsed = source::parse_all(&files);
    let outcomes: Vec<file::Walked> = files
        .iter()
        .zip(parsed)
        .map(|(path, parsed)| file::load(path, parsed, &mut includes, &mut report))
        .collect();
    let mut contested = one_file_per_phone(&outcomes, &mut report);
    contested.extend(one_file_per_ledger(&outcomes, &mut report));
    let targets = outcomes
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !contested.contains(i))
        .filter_map(|(_, outcome)| outcome.target)
        .collect();
    let mut errors = unique(report.errors);
    let mut warnings = unique(report.warnings);
    report.sources.attach(&mut errors);
    report.sources.attach(&mut warnings);
    Loaded {
        targets,
        errors,
        warnings,
    }
}

/// Two files governing one business phone would undo each other's work on
/// every apply (each unblocks what only the other lists), so neither is used.
/// Returns the indexes of the files involved.
fn one_file_per_phone(outcomes: &[file::Walked], report: &mut tree::Report) -> HashSet<usize> {
    let mut first: HashMap<String, (usize, &Location)> = HashMap::new();
    let mut contested = HashSet::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        let Some((phone, at)) = &outcome.business_phone else {
            continue;
        };
        match first.get(&phone_key(phone)) {
            Some((j, earlier)) => {
                report.error(
                    at.clone(),
                    format!(
                        "business phone {phone:?} is already governed by {earlier}; one business phone needs exactly one file (share entries with include: instead)"
                    ),
                );
                contested.extend([i, *j]);
            }
            None => {
                first.insert(phone_key(phone), (i, at));
            }
        }
    }
    contested
}

/// Two WAHA targets writing one ledger would overwrite each other's record
/// of what they blocked (`a.yaml` and `a.yml` share the default ledger, as do
/// two files naming the same `ledger:`, or two paths that are one file
/// through a symbolic or hard link), so neither is used.
fn one_file_per_ledger(outcomes: &[file::Walked], report: &mut tree::Report) -> HashSet<usize> {
    let mut first: HashMap<PathBuf, (usize, &Path)> = HashMap::new();
    // A hard link has no path in common with its twin: only the device and
    // inode of an existing file say they are one.
    let mut by_inode: HashMap<(u64, u64), (usize, &Path)> = HashMap::new();
    let mut contested = HashSet::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        let Some(target) = &outcome.target else {
            continue;
        };
        let ProviderSettings::Waha { ledger, .. } = &target.provider else {
            continue;
        };
        // Compare where the files really are, however the paths were spelled
        // and whatever links lead there.
        let absolute = std::path::absolute(ledger).unwrap_or_else(|_| ledger.clone());
        let key = crate::fsutil::resolved(&normalise(&absolute));
        let inode = file_id(ledger);
        let earlier = first
            .get(&key)
            .or_else(|| inode.and_then(|id| by_inode.get(&id)));
        match earlier {
            Some((j, earlier)) => {
                report.error(
                    Location {
                        file: target.file.clone(),
                        line: 0,
                        column: 0,
                    },
                    format!(
                        "its WAHA ledger {} is also the ledger of {}; each WAHA target needs its own (set ledger:)",
                        ledger.display(),
                        earlier.display()
                    ),
                );
                contested.extend([i, *j]);
            }
            None => {
                first.insert(key, (i, &target.file));
                if let Some(id) = inode {
                    by_inode.insert(id, (i, &target.file));
                }
            }
        }
    }
    contested
}

/// The device and inode of an existing file (Unix only).
#[cfg(unix)]
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &Path) -> Option<(u64, u64)> {
    None
}

/// `a/./b/../c` as `a/c`, without touching the file system (the ledger may
/// not exist yet).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A shared include's warnings (its duplicates) are found again for every
/// target using it; one report of each is enough.
fn unique(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = HashSet::new();
    diagnostics
        .into_iter()
        .filter(|d| seen.insert(d.to_string()))
        .collect()
}
