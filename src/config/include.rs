//! `include:` lists: shared files holding only `blocked:` (and further
//! `include:`), resolved depth first relative to the including file.
//!
//! A shared list is usually included by many targets, so each file is read
//! and checked once per `load` and its problems are reported once; what is
//! per target is the walk (order, cycles), which depends on where it starts.
//! Tested through `load`, in `tests/includes.rs`.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use marked_yaml::Node;

use super::entry::{self, List, Written};
use super::source::{self, Role};
use super::tree::{Report, Walker, entry, is_null};
use super::{Inclusion, Location};

/// Deeper than this is surely a mistake, and the walk recurses per level.
const MAX_DEPTH: usize = 32;

pub(super) const KEYS: &[&str] = &["blocked", "include"];

/// One `include:` item: the path as written, resolved for reading and messages.
#[derive(Debug, Clone)]
pub(super) struct IncludeRef {
    pub raw: String,
    pub path: PathBuf,
    pub at: Location,
}

/// The items of an `include:` list in `w.file`.
pub(super) fn refs(w: &mut Walker, node: &Node) -> Vec<IncludeRef> {
    if is_null(node) {
        return Vec::new();
    }
    let Some(seq) = w.sequence(node, "include") else {
        return Vec::new();
    };
    let dir = w.file.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for (index, item) in seq.iter().enumerate() {
        let Some(raw) = w.text(None, item, &format!("entry {} of include", index + 1)) else {
            continue;
        };
        if raw.chars().any(char::is_control) {
            w.error(
                item.span(),
                format!("include {raw:?} holds a control character; a file name with one would break every line that shows it"),
            );
            continue;
        }
        if Path::new(raw).is_absolute() {
            w.error(
                item.span(),
                format!("include {raw:?} must be a path relative to this file, so the repository works wherever it is checked out"),
            );
            continue;
        }
        out.push(IncludeRef {
            raw: raw.to_string(),
            path: tidy(&dir.join(raw)),
            at: w.at(item.span()),
        });
    }
    out
}

/// `a/./b` as `a/b`, for messages. `..` stays: dropping it would be wrong
/// across symbolic links.
fn tidy(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

struct IncludeFile {
    entries: Vec<Written>,
    includes: Vec<IncludeRef>,
    ok: bool,
}

/// Include files read so far, by canonical path.
#[derive(Default)]
pub(super) struct Includes {
    files: HashMap<PathBuf, Rc<IncludeFile>>,
}

impl Includes {
    /// The entries `root`'s includes contribute, depth first, or `None` when
    /// any of them (or anything they include) has an error.
    pub fn resolve(
        &mut self,
        root: &Path,
        refs: &[IncludeRef],
        report: &mut Report,
    ) -> Option<(Vec<Written>, Vec<Inclusion>)> {
        let start = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let mut walk = Walk {
            chain: vec![(start, root.to_path_buf())],
            seen: HashMap::new(),
            out: Vec::new(),
            inclusions: Vec::new(),
            ok: true,
        };
        for r in refs {
            walk.visit(self, r, &r.at, report);
        }
        walk.ok.then_some((walk.out, walk.inclusions))
    }

    fn file(&mut self, canonical: &Path, r: &IncludeRef, report: &mut Report) -> Rc<IncludeFile> {
        if let Some(file) = self.files.get(canonical) {
            return Rc::clone(file);
        }
        let file = Rc::new(read(r, report));
        self.files.insert(canonical.to_path_buf(), Rc::clone(&file));
        file
    }
}

fn read(r: &IncludeRef, report: &mut Report) -> IncludeFile {
    let path = r.path.as_path();
    let mut file = IncludeFile {
        entries: Vec::new(),
        includes: Vec::new(),
        ok: false,
    };
    let node = match source::read(path, Role::Include, &mut report.sources) {
        Ok(node) => node,
        // A problem with the file as a whole (unreadable, empty, too big) is
        // shown at the include item, where the fix usually is.
        Err(d) if d.location.line == 0 => {
            report.error(r.at.clone(), format!("include {:?}: {}", r.raw, d.message));
            return file;
        }
        Err(d) => {
            report.errors.push(d);
            return file;
        }
    };
    let errors_before = report.errors.len();
    let mut w = Walker { file: path, report };
    if let Some(map) = w.mapping(&node, "the top level of an include file") {
        w.unknown_keys(map, KEYS, " in an include file");
        if let Some((_, n)) = entry(map, "blocked") {
            file.entries = entry::list(&mut w, n, List::Blocked);
        }
        if let Some((_, n)) = entry(map, "include") {
            file.includes = refs(&mut w, n);
        }
    }
    file.ok = report.errors.len() == errors_before;
    file
}

/// One target's walk through its includes.
struct Walk {
    /// The files from the target down to the current one: canonical, shown.
    chain: Vec<(PathBuf, PathBuf)>,
    /// Files already walked, with where they were first included and by whom.
    seen: HashMap<PathBuf, (Location, PathBuf)>,
    out: Vec<Written>,
    inclusions: Vec<Inclusion>,
    ok: bool,
}

impl Walk {
    /// `origin` is the target's own include item this branch started from.
    /// A cycle is reported there, so that it points into the target's file
    /// (the message names where the cycle closes).
    fn visit(
        &mut self,
        includes: &mut Includes,
        r: &IncludeRef,
        origin: &Location,
        report: &mut Report,
    ) {
        let canonical = match fs::canonicalize(&r.path) {
            Ok(c) => c,
            Err(e) => {
                let problem = match e.kind() {
                    io::ErrorKind::NotFound => "not found".to_string(),
                    _ => format!("cannot be read ({e})"),
                };
                report.error(
                    r.at.clone(),
                    format!(
                        "include {:?} {problem}: looked for {}",
                        r.raw,
                        r.path.display()
                    ),
                );
                self.ok = false;
                return;
            }
        };
        if self.chain.iter().any(|(c, _)| *c == canonical) {
            let mut names: Vec<String> = self
                .chain
                .iter()
                .map(|(_, shown)| shown.display().to_string())
                .collect();
            names.push(r.path.display().to_string());
            let mut message = format!("include cycle: {}", names.join(" -> "));
            if r.at != *origin {
                message.push_str(&format!(" (closed by the include at {})", r.at));
            }
            report.error(origin.clone(), message);
            self.ok = false;
            return;
        }
        let parent = self
            .chain
            .last()
            .map(|(c, _)| c.clone())
            .unwrap_or_default();
        if let Some((first, by)) = self.seen.get(&canonical) {
            // A diamond (two shared lists including a common one) is fine and
            // counted once; the same file named twice by one file is a slip.
            if *by == parent {
                report.warn(
                    r.at.clone(),
                    format!(
                        "include {:?} is already included at {first}; its entries count once",
                        r.raw
                    ),
                );
            }
            return;
        }
        if self.chain.len() > MAX_DEPTH {
            report.error(
                r.at.clone(),
                format!(
                    "include {:?} nests includes more than {MAX_DEPTH} files deep",
                    r.raw
                ),
            );
            self.ok = false;
            return;
        }
        self.seen.insert(canonical.clone(), (r.at.clone(), parent));
        self.inclusions.push(Inclusion {
            file: r.path.clone(),
            at: r.at.clone(),
        });
        let file = includes.file(&canonical, r, report);
        self.ok &= file.ok;
        self.out.extend(file.entries.iter().cloned());
        self.chain.push((canonical, r.path.clone()));
        for sub in &file.includes {
            self.visit(includes, sub, origin, report);
        }
        self.chain.pop();
    }
}
