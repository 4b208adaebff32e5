//! What plan, apply and drift share before the pipeline runs: the files
//! to load, and the guard flags.

use std::path::PathBuf;

use crate::cli::GuardArgs;
use crate::config::{self, Target};
use crate::safety::Overrides;

/// Load and validate the files. Prints warnings; on any error prints every
/// one and returns `None`, so nothing is sent to any provider.
pub fn load(paths: &[PathBuf]) -> Option<Vec<Target>> {
    let loaded = config::load(&or_current_dir(paths));
    // Warnings are shown with -q too: it silences the rendering, not them.
    for w in &loaded.warnings {
        crate::say!("warning: {w}");
    }
    if loaded.errors.is_empty() {
        return Some(loaded.targets);
    }
    for e in &loaded.errors {
        crate::say!("error: {e}");
    }
    crate::say!(
        "{} error(s) in the files; nothing was sent to any provider.",
        loaded.errors.len()
    );
    None
}

/// The paths a command works on: those given, else the current directory.
pub fn or_current_dir(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

/// The guard overrides of a run. `--force` is said loudly, whatever `-q`.
pub fn overrides(args: &GuardArgs) -> Overrides {
    if args.force {
        eprintln!("WARNING: --force: every safety guard is OFF for this run.");
    }
    Overrides {
        max_unblocks: args.max_unblocks,
        max_unblock_ratio: args.max_unblock_ratio,
        allow_empty: args.allow_empty,
        force: args.force,
    }
}
