//! Path arguments to desired-state files: a file is itself; a directory is
//! every `*.yaml`/`*.yml` directly inside it, whatever the case of the
//! extension (`shop.YAML` too), by name, so runs and their output are in
//! the same order everywhere.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::Location;
use super::source::io_message;
use super::tree::Report;

pub(super) fn files(paths: &[PathBuf], report: &mut Report) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in paths {
        let whole = Location {
            file: path.clone(),
            line: 0,
            column: 0,
        };
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) => {
                report.error(whole, io_message(path, &e));
                continue;
            }
        };
        if !meta.is_dir() {
            found.push(path.clone());
            continue;
        }
        match yaml_files_in(path) {
            Ok(files) if files.is_empty() => report.error(
                whole,
                format!(
                    "directory {} holds no *.yaml or *.yml files (subdirectories are not searched)",
                    path.display()
                ),
            ),
            Ok(files) => found.extend(files),
            Err(e) => report.error(whole, io_message(path, &e)),
        }
    }
    // A name that is not UTF-8 cannot be shown, matched against a reviewed
    // plan or written to a report as it is, and skipping it would leave that
    // phone unmanaged without a word: an error, shown with U+FFFD for the
    // bytes that are not text. A newline in a name would split every message
    // and plan line that names the file, and could make one look like a line
    // of the tool's own (or a GitHub workflow command): an error, shown
    // escaped.
    found.retain(|f| {
        let problem = match f.to_str() {
            None => "the file name is not valid UTF-8 (shown with \u{fffd} for the bytes that are not); rename the file",
            Some(name) if name.chars().any(char::is_control) => {
                "the file name holds a control character (shown escaped); rename the file"
            }
            Some(_) => return true,
        };
        let whole = Location {
            file: f.clone(),
            line: 0,
            column: 0,
        };
        report.error(whole, problem);
        false
    });
    // One file named twice (`dir` and `dir/a.yaml`) is one target, not two
    // targets fighting over one business phone.
    let mut seen = HashSet::new();
    found.retain(|f| seen.insert(fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    found
}

fn yaml_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut names = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name();
        // Hidden files are editor droppings (`.#shop.yaml`), not targets. A
        // name that is not UTF-8 is taken when its extension says YAML, so
        // `files` reports it rather than it being left out unseen.
        let hidden = name.as_encoded_bytes().starts_with(b".");
        let yaml = Path::new(&name)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        let wanted = !hidden && yaml;
        // Follows symbolic links: a linked file counts, a dangling link is
        // reported when it is read.
        let is_dir = fs::metadata(item.path()).is_ok_and(|m| m.is_dir());
        if wanted && !is_dir {
            names.push(name);
        }
    }
    names.sort();
    // `shop.yaml`, not `./shop.yaml`, for the current directory (the
    // default path): file names are shown in every message and plan line.
    Ok(names
        .into_iter()
        .map(|name| {
            let path = dir.join(name);
            match path.strip_prefix(".") {
                Ok(rest) => rest.to_path_buf(),
                Err(_) => path,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        fs::write(dir.join(name), "").expect("write");
    }

    #[test]
    fn a_directory_means_its_yaml_files_sorted_not_recursive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for name in ["b.yml", "a.yaml", "notes.txt", ".#c.yaml", "c.ledger.json"] {
            touch(d, name);
        }
        fs::create_dir(d.join("sub")).expect("mkdir");
        touch(&d.join("sub"), "deep.yaml");
        fs::create_dir(d.join("x.yaml")).expect("mkdir");
        let mut report = Report::default();
        let files = files(&[d.to_path_buf()], &mut report);
        assert_eq!(files, [d.join("a.yaml"), d.join("b.yml")]);
        assert!(report.errors.is_empty());
    }

    #[test]
    fn a_file_name_with_a_control_character_is_an_error_shown_escaped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        touch(d, "evil\n::set-output name=a::b\n.yaml");
        touch(d, "ok.yaml");
        let named = d.join("named");
        fs::create_dir(&named).expect("mkdir");
        touch(&named, "bell\u{7}.yml");
        let mut report = Report::default();
        let files = files(&[d.to_path_buf(), named.join("bell\u{7}.yml")], &mut report);
        assert_eq!(files, [d.join("ok.yaml")]);
        let shown: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].ends_with("evil\\n::set-output name=a::b\\n.yaml: the file name holds a control character (shown escaped); rename the file"),
            "{shown:?}"
        );
        assert!(
            shown[1].contains("bell\\u{7}.yml: the file name"),
            "{shown:?}"
        );
        assert!(
            shown.iter().all(|s| !s.contains(['\n', '\u{7}'])),
            "{shown:?}"
        );
    }

    #[test]
    fn extensions_match_in_any_case() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for name in [
            "shop.YAML",
            "a.Yml",
            "b.yaml",
            "c.yAmL",
            "d.YAML.bak",
            ".e.YML",
        ] {
            touch(d, name);
        }
        let mut report = Report::default();
        let files = files(&[d.to_path_buf()], &mut report);
        let names: Vec<_> = files.iter().filter_map(|f| f.file_name()).collect();
        assert_eq!(names, ["a.Yml", "b.yaml", "c.yAmL", "shop.YAML"]);
        assert!(report.errors.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_file_name_that_is_not_utf8_is_an_error_naming_it() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let bad = std::ffi::OsStr::from_bytes(b"shop-\xff.YAML");
        if fs::write(d.join(bad), "").is_err() {
            return; // a file system that only takes UTF-8 names cannot have one
        }
        touch(d, "ok.yaml");
        // Not a YAML file by its extension: not a target, not an error.
        let _ = fs::write(d.join(std::ffi::OsStr::from_bytes(b"notes-\xff.txt")), "");
        let mut report = Report::default();
        let files = files(&[d.to_path_buf()], &mut report);
        assert_eq!(files, [d.join("ok.yaml")]);
        let shown: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(
            shown[0].ends_with("shop-\u{fffd}.YAML: the file name is not valid UTF-8 (shown with \u{fffd} for the bytes that are not); rename the file"),
            "{shown:?}"
        );
    }

    #[test]
    fn files_are_kept_as_given_and_not_repeated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        touch(d, "a.yaml");
        touch(d, "other.conf");
        let mut report = Report::default();
        let given = [d.join("other.conf"), d.to_path_buf(), d.join("./a.yaml")];
        let files = files(&given, &mut report);
        assert_eq!(files, [d.join("other.conf"), d.join("a.yaml")]);
    }

    #[test]
    fn missing_paths_and_empty_directories_are_errors_for_the_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::create_dir(d.join("empty")).expect("mkdir");
        let mut report = Report::default();
        let files = files(&[d.join("nope.yaml"), d.join("empty")], &mut report);
        assert!(files.is_empty());
        assert_eq!(report.errors.len(), 2);
        assert!(report.errors.iter().all(|e| e.location.line == 0));
        assert!(
            report.errors[0]
                .message
                .ends_with("nope.yaml does not exist")
        );
        assert!(
            report.errors[1]
                .message
                .contains("holds no *.yaml or *.yml files")
        );
    }
}
