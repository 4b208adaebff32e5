//! `blocklist add FILE USER…` and `blocklist remove FILE USER…`: edit a
//! desired-state file's own `blocked:` list in place ([`crate::edit`]),
//! keeping its comments and layout. The file must validate before, and the
//! edited text must validate before it replaces the file (atomically).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::{AddArgs, RemoveArgs};
use crate::config::{self, Entry, Target};
use crate::date::Date;
use crate::exit::Exit;
use crate::fsutil::write_atomic;
use crate::import::NewEntry;
use crate::user::User;

use super::output::{Output, note};

pub fn add(args: AddArgs, _out: &Output) -> anyhow::Result<Exit> {
    let path = &args.file;
    let users = parse_users(&args.users)?;
    let expires = match &args.expires {
        Some(text) => Some(expiry(text, Date::today_utc())?),
        None => None,
    };
    let target = load(path)?;
    let mut problems = Vec::new();
    for user in &users {
        if let Some(e) = target.blocked.iter().find(|e| e.user.same_person(user)) {
            problems.push(format!(
                "{user} is already listed at {}{}",
                e.at,
                included(&target, e)
            ));
        }
        if let Some(e) = target.unblock.iter().find(|e| e.user.same_person(user)) {
            problems.push(format!(
                "{user} is listed in unblock: at {}; remove it there first",
                e.at
            ));
        }
    }
    refuse(path, problems)?;
    let entries: Vec<NewEntry> = users
        .into_iter()
        .map(|user| NewEntry {
            user,
            reason: args.reason.clone(),
            expires,
        })
        .collect();
    let (real, text) = read(path)?;
    let edited = crate::edit::add(&text, &entries)
        .with_context(|| format!("{} left unchanged", path.display()))?;
    replace(path, &real, &edited)?;
    note(format_args!(
        "Added {} user(s) to {}.",
        entries.len(),
        path.display()
    ));
    Ok(Exit::Success)
}

pub fn remove(args: RemoveArgs, _out: &Output) -> anyhow::Result<Exit> {
    let path = &args.file;
    let users = parse_users(&args.users)?;
    let target = load(path)?;
    let (real, text) = read(path)?;
    let (removed, missing) = crate::edit::remove(&text, &users)
        .with_context(|| format!("{} left unchanged", path.display()))?;
    let problems = missing
        .iter()
        .map(|user| {
            match target.blocked.iter().find(|e| e.user.same_person(user)) {
                Some(e) => format!(
                    "{user} is not in the file's own blocked: list but in an include, at {}{}; remove it there",
                    e.at,
                    included(&target, e)
                ),
                None => format!("{user} is not listed in blocked:"),
            }
        })
        .collect();
    refuse(path, problems)?;
    replace(path, &real, &removed.text)?;
    note(format_args!(
        "Removed {} entr{} from {}.",
        removed.items,
        if removed.items == 1 { "y" } else { "ies" },
        path.display()
    ));
    Ok(Exit::Success)
}

/// Each USER as given: a phone in any spelling, or a BSUID. Two that name
/// one person are an error too.
fn parse_users(args: &[String]) -> anyhow::Result<Vec<User>> {
    let mut users: Vec<User> = Vec::with_capacity(args.len());
    for arg in args {
        let user = super::why::parse(arg)?;
        if let Some(earlier) = users.iter().find(|u| u.same_person(&user)) {
            bail!("{arg:?} names {earlier} twice");
        }
        users.push(user);
    }
    Ok(users)
}

/// `--expires`: a date `YYYY-MM-DD`, or a number of days from today (`30d`).
fn expiry(text: &str, today: Date) -> anyhow::Result<Date> {
    let date = match text.strip_suffix('d') {
        Some(days) if !days.is_empty() && days.bytes().all(|b| b.is_ascii_digit()) => {
            let days: i64 = days
                .parse()
                .ok()
                .filter(|d| *d <= 36_500)
                .with_context(|| format!("--expires {text}: at most 36500 days"))?;
            Date::from_days(days_since_epoch(today) + days)
        }
        _ => Date::parse(text).with_context(|| {
            format!(
                "--expires {text:?} is neither a date YYYY-MM-DD nor a number of days such as 30d"
            )
        })?,
    };
    if date < today {
        bail!("--expires {date} has passed: the entry would never be desired");
    }
    Ok(date)
}

/// Days from 1970-01-01 to `date` (Howard Hinnant's days_from_civil, the
/// inverse of [`Date::from_days`]).
fn days_since_epoch(date: Date) -> i64 {
    let (m, d) = (i64::from(date.month), i64::from(date.day));
    let y = i64::from(date.year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The file as it is now: it must be one desired-state file that validates.
fn load(path: &Path) -> anyhow::Result<Target> {
    if path.is_dir() {
        bail!(
            "{} is a directory; name the desired-state file to edit",
            path.display()
        );
    }
    let loaded = config::load(&[path.to_path_buf()]);
    if !loaded.errors.is_empty() {
        let errors: Vec<String> = loaded.errors.iter().map(|d| d.headline()).collect();
        bail!(
            "{} does not validate, so it is left unchanged; fix it first:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
    match loaded.targets.into_iter().next() {
        Some(target) => Ok(target),
        None => bail!("{} holds no desired-state file", path.display()),
    }
}

/// Where an entry came from, when that is an include.
fn included(target: &Target, e: &Entry) -> String {
    match target.include_chain(&e.at.file).first() {
        Some(at) => format!(" (included through {at})"),
        None => String::new(),
    }
}

fn refuse(path: &Path, problems: Vec<String>) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{} left unchanged: {}", path.display(), problems.join("; "))
}

/// The file's text, and the path to write: through a symbolic link to the
/// file itself, so the link stays a link.
fn read(path: &Path) -> anyhow::Result<(PathBuf, String)> {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let text = std::fs::read_to_string(&real)
        .with_context(|| format!("cannot read {} as text", path.display()))?;
    Ok((real, text))
}

/// Check that `text` validates as the file would (from a scratch file
/// beside it, so includes resolve alike), then replace the file atomically.
fn replace(path: &Path, real: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match real.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let scratch = tempfile::Builder::new()
        .prefix(".blocklist-edit-")
        .suffix(".yaml")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::write(scratch.path(), text)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let loaded = config::load(&[scratch.path().to_path_buf()]);
    if !loaded.errors.is_empty() {
        let shown = scratch.path().display().to_string();
        let errors: Vec<String> = loaded
            .errors
            .iter()
            .map(|d| d.headline().replace(&shown, &path.display().to_string()))
            .collect();
        bail!(
            "{} left unchanged: the edited file would not validate:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
    drop(scratch);
    write_atomic(real, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_takes_a_date_or_days() {
        let today = Date::parse("2026-11-26").unwrap();
        assert_eq!(expiry("30d", today).unwrap().to_string(), "2026-12-26");
        assert_eq!(expiry("0d", today).unwrap(), today);
        assert_eq!(
            expiry("2027-01-31", today).unwrap().to_string(),
            "2027-01-31"
        );
        for bad in ["30", "d", "-3d", "2026-02-30", "tomorrow", "99999d"] {
            assert!(expiry(bad, today).is_err(), "{bad}");
        }
        let past = expiry("2026-11-25", today).unwrap_err().to_string();
        assert!(past.contains("has passed"), "{past}");
    }

    #[test]
    fn days_since_epoch_inverts_from_days() {
        for days in [0, 1, 59, 60, 365, 10_957, 20_783, 47_482] {
            assert_eq!(days_since_epoch(Date::from_days(days)), days);
        }
    }
}
