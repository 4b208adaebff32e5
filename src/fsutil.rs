//! Atomic file writes: a reader (or a crash) never sees half a plan or report.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Write `bytes` to a temporary file in the same directory, then rename it
/// over `path`, so the file is either the old one or the complete new one.
///
/// The temporary file is named [`temp_prefix`] and a random suffix, so one
/// that a killed process left behind is recognisably ours and can be
/// removed later ([`remove_stale_temps`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = directory_of(path);
    let prefix = temp_prefix(path);
    let builder = tempfile::Builder::new().prefix(&prefix).tempfile_in(dir);
    let mut tmp = builder.with_context(|| {
        format!(
            "cannot write {}: cannot create a file in {}",
            path.display(),
            dir.display()
        )
    })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `path` with symbolic links resolved: the file itself when it exists,
/// else its directory resolved and the name kept (a file not yet written).
/// A link whose target does not exist yet is still followed, so the first
/// write through it lands where it points.
pub fn resolved(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut path = path.to_path_buf();
    // At most 40 links, as Linux allows, so a loop of links ends.
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&path) else {
            break;
        };
        path = match path.parent() {
            Some(dir) => dir.join(target),
            None => target,
        };
    }
    let absolute = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => match std::fs::canonicalize(dir) {
            Ok(dir) => dir.join(name),
            Err(_) => absolute,
        },
        _ => absolute,
    }
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// How [`write_atomic`]'s temporary files for `path` start: `.NAME.tmp-`.
pub fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!(".{name}.tmp-")
}

/// Remove temporary files that a process killed inside [`write_atomic`]
/// left beside `path` (only files named by [`temp_prefix`]). Call it only
/// while nothing else can be writing `path`, e.g. under its lock. Failing
/// to remove one is not worth stopping for; it is said at `-v`.
pub fn remove_stale_temps(path: &Path) {
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(directory_of(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let ours = entry.file_name().to_string_lossy().starts_with(&prefix);
        let plain = entry.file_type().is_ok_and(|t| t.is_file());
        if ours && plain {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => crate::info!(
                    "removed {}, left by a write that was killed",
                    entry.path().display()
                ),
                Err(e) => crate::info!("cannot remove {}: {e}", entry.path().display()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        write_atomic(&path, b"first version, longer").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary files left behind"
        );
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_file() {
        let err = write_atomic(Path::new("/nonexistent-dir-for-test/plan.json"), b"x").unwrap_err();
        assert!(format!("{err:#}").contains("plan.json"), "{err:#}");
    }
}
