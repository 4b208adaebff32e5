//! `blocklist why USER [PATH…]`: the answer a support agent needs when a
//! customer says "I cannot message you". Where the files list the user
//! (file:line, reason, expiry, and the include chain that brought an entry
//! in), with `--live` whether each target has them blocked now, and what
//! the journal in each target's state says blocklist did to them (README,
//! "Why is this user blocked?").

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::{WhyArgs, WhyFormat};
use crate::config::{Entry, Location, Target};
use crate::date::Date;
use crate::exit::Exit;
use crate::number;
use crate::reconcile;
use crate::render::one_line;
use crate::sandbox::Sandboxes;
use crate::state::{Outcome, TargetState};
use crate::user::{self, User};

use super::output::Output;
use super::targets;

/// How a target's files name the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Listed {
    /// In `blocked:`, and desired today.
    Blocked,
    /// In `blocked:`, but its `expires` date has passed.
    Expired,
    /// In `unblock:`.
    Unblock,
}

/// One entry naming the user, in one target.
#[derive(Debug, Serialize)]
struct Finding {
    file: String,
    business_phone: String,
    provider: String,
    listed: Listed,
    /// The entry's own place: `file:line:col`.
    at: String,
    /// The entry's ids, as the file gives them.
    user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    /// The include items from the target's file down to the entry's file;
    /// empty when the target's file lists the user itself.
    include_chain: Vec<String>,
    /// With `--live`: blocked there now (`true`/`false`), or `null` when the
    /// live list could not be read (see `live_error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<Option<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    live_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Answer {
    user: String,
    targets: Vec<Finding>,
    /// What applies (and `watch`) did to the user, oldest first, from each
    /// target's journal in the state.
    journal: Vec<Journalled>,
    /// Targets whose journal could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    journal_errors: Vec<JournalError>,
}

/// One journal entry naming the user.
#[derive(Debug, Serialize)]
struct Journalled {
    file: String,
    business_phone: String,
    time: String,
    /// `apply` or `watch`.
    by: String,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    github_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    github_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    github_actor: Option<String>,
}

#[derive(Debug, Serialize)]
struct JournalError {
    file: String,
    message: String,
}

pub async fn run(args: WhyArgs, out: &Output) -> anyhow::Result<Exit> {
    let who = parse(&args.user)?;
    let Some(loaded) = targets::load(&args.paths) else {
        return Ok(Exit::Error);
    };
    let today = Date::today_utc();
    let mut findings: Vec<(Finding, &Target)> = Vec::new();
    for target in &loaded {
        for (entry, listed) in entries(target, today) {
            if entry.user.same_person(&who) {
                findings.push((finding(target, entry, listed), target));
            }
        }
    }
    if args.live {
        live(&mut findings, args.state.url.as_deref()).await;
    }
    let (journal, journal_errors) = journal(&loaded, &who, args.state.url.as_deref()).await;
    let answer = Answer {
        user: who.to_string(),
        targets: findings.into_iter().map(|(f, _)| f).collect(),
        journal,
        journal_errors,
    };
    match args.format {
        WhyFormat::Json => {
            let mut text = serde_json::to_string_pretty(&answer)?;
            text.push('\n');
            out.print_always(&text)?;
        }
        WhyFormat::Text => out.print(&text(&answer))?,
    }
    Ok(Exit::Success)
}

/// Every journal entry naming `who`, in every target's state (a user the
/// files no longer list may still have been unblocked or blocked once).
async fn journal(
    targets: &[Target],
    who: &User,
    state: Option<&str>,
) -> (Vec<Journalled>, Vec<JournalError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for target in targets {
        let entries = match TargetState::open(state, target) {
            Ok(s) => s.journal().await,
            Err(e) => Err(e),
        };
        let entries = match entries {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(JournalError {
                    file: target.file.display().to_string(),
                    message: format!("{e:#}"),
                });
                continue;
            }
        };
        for entry in &entries {
            if let Some(o) = entry.outcome_for(who) {
                found.push(Journalled {
                    file: target.file.display().to_string(),
                    business_phone: target.business_phone.clone(),
                    time: entry.time.clone(),
                    by: entry.by.clone(),
                    outcome: o.outcome,
                    code: o.code,
                    github_sha: entry.github_sha.clone(),
                    github_run_id: entry.github_run_id.clone(),
                    github_actor: entry.github_actor.clone(),
                });
            }
        }
    }
    found.sort_by(|a, b| a.time.cmp(&b.time));
    (found, errors)
}

/// The user as given: a BSUID, or a phone number in any spelling.
pub(super) fn parse(text: &str) -> anyhow::Result<User> {
    let text = text.trim();
    if user::looks_like_bsuid(text) {
        let id = user::bsuid(text).map_err(|e| anyhow::anyhow!("{text:?} {e}"))?;
        return Ok(User::bsuid(id));
    }
    let digits = number::canonical(text).map_err(|e| anyhow::anyhow!("{text:?} {e}"))?;
    Ok(User::phone(digits))
}

/// Every entry of a target with how it lists its user.
fn entries(target: &Target, today: Date) -> impl Iterator<Item = (&Entry, Listed)> {
    let blocked = target.blocked.iter().map(move |e| {
        let listed = match e.expires {
            Some(d) if d < today => Listed::Expired,
            _ => Listed::Blocked,
        };
        (e, listed)
    });
    blocked.chain(target.unblock.iter().map(|e| (e, Listed::Unblock)))
}

fn finding(target: &Target, entry: &Entry, listed: Listed) -> Finding {
    let chain = target.include_chain(&entry.at.file);
    Finding {
        file: target.file.display().to_string(),
        business_phone: target.business_phone.clone(),
        provider: target.provider.kind().to_string(),
        listed,
        at: entry.at.to_string(),
        user: entry.user.id().to_string(),
        user_id: entry.user.extra_user_id().map(str::to_string),
        reason: entry.reason.as_deref().map(one_line),
        expires: entry.expires.map(|d| d.to_string()),
        include_chain: chain.iter().map(|at: &&Location| at.to_string()).collect(),
        live: None,
        live_error: None,
    }
}

/// Read the live list of every target that lists the user (each once) and
/// say whether the user is on it.
async fn live(findings: &mut [(Finding, &Target)], state: Option<&str>) {
    let mut sandboxes = Sandboxes::default();
    let mut seen: Vec<(&std::path::Path, Result<Vec<User>, String>)> = Vec::new();
    for (_, target) in findings.iter() {
        if seen.iter().any(|(file, _)| *file == target.file.as_path()) {
            continue;
        }
        let listed = match reconcile::connect(target, state, &mut sandboxes).await {
            Ok(client) => client.list().await.map_err(|e| format!("{e:#}")),
            Err(e) => Err(format!("{e:#}")),
        };
        seen.push((target.file.as_path(), listed));
    }
    for (finding, target) in findings.iter_mut() {
        let Some((_, listed)) = seen.iter().find(|(f, _)| *f == target.file.as_path()) else {
            continue;
        };
        match listed {
            Ok(users) => {
                let who =
                    User::from_id(&finding.user).map(|u| with_id(u, finding.user_id.as_deref()));
                let now = who.is_some_and(|who| users.iter().any(|u| u.same_person(&who)));
                finding.live = Some(Some(now));
            }
            Err(e) => {
                finding.live = Some(None);
                finding.live_error = Some(e.clone());
            }
        }
    }
}

fn with_id(user: User, user_id: Option<&str>) -> User {
    user.with_user_id(user_id.map(str::to_string))
}

fn text(answer: &Answer) -> String {
    let mut out = String::new();
    if answer.targets.is_empty() {
        let _ = writeln!(out, "{} is not listed in any file.", answer.user);
        journal_text(&mut out, answer);
        return out;
    }
    let _ = writeln!(
        out,
        "{} is listed {} time(s):",
        answer.user,
        answer.targets.len()
    );
    for f in &answer.targets {
        let _ = writeln!(
            out,
            "\n{}  phone {}, {}",
            f.file, f.business_phone, f.provider
        );
        let what = match f.listed {
            Listed::Blocked => "blocked by",
            Listed::Expired => "no longer desired (expired) by",
            Listed::Unblock => "listed for unblocking by",
        };
        let _ = writeln!(out, "  {what} the entry at {}", f.at);
        if let Some(reason) = &f.reason {
            let _ = writeln!(out, "  reason: {reason}");
        }
        if let Some(expires) = &f.expires {
            let _ = writeln!(out, "  expires: {expires}");
        }
        if !f.include_chain.is_empty() {
            let _ = writeln!(out, "  included through: {}", f.include_chain.join(" -> "));
        }
        match (&f.live, &f.live_error) {
            (Some(Some(true)), _) => {
                let _ = writeln!(out, "  live: blocked now");
            }
            (Some(Some(false)), _) => {
                let _ = writeln!(out, "  live: not blocked now");
            }
            (Some(None), Some(e)) => {
                let _ = writeln!(out, "  live: could not be read: {}", one_line(e));
            }
            _ => {}
        }
    }
    journal_text(&mut out, answer);
    out
}

/// What the journal says, one line per entry, after the files' part.
fn journal_text(out: &mut String, answer: &Answer) {
    if !answer.journal.is_empty() {
        let _ = writeln!(out, "\nJournal (what blocklist did to {}):", answer.user);
    }
    for j in &answer.journal {
        let outcome = match j.outcome {
            Outcome::Blocked => "blocked".to_string(),
            Outcome::Unblocked => "unblocked".to_string(),
            Outcome::Deferred => format!(
                "deferred ({}: the user had not written in 24 hours)",
                j.code.unwrap_or(131047)
            ),
            Outcome::Failed => format!("failed ({})", j.code.unwrap_or(-1)),
        };
        let mut by = j.by.clone();
        if let Some(run) = &j.github_run_id {
            by.push_str(&format!(", GitHub Actions run {run}"));
        }
        if let Some(actor) = &j.github_actor {
            by.push_str(&format!(" by {actor}"));
        }
        if let Some(sha) = &j.github_sha {
            by.push_str(&format!(" at {}", sha.get(..12).unwrap_or(sha)));
        }
        let _ = writeln!(out, "  {}  {}  {outcome}  ({by})", j.time, j.file);
    }
    for e in &answer.journal_errors {
        let _ = writeln!(
            out,
            "  {}: the journal could not be read: {}",
            e.file,
            one_line(&e.message)
        );
    }
}
