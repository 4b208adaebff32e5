//! Command-line interface: commands and flags, nothing else (README, Commands).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::render::{Format, ReportFormat};

#[derive(Debug, Parser)]
#[command(
    name = "blocklist",
    version,
    about = "Keep WhatsApp Business block lists in Git: validate, plan, apply.",
    long_about = None,
)]
pub struct Cli {
    /// Print nothing on success but what --format json asks for (and the file
    /// import prints); errors and warnings still go to stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail on stderr (-v: steps, -vv: every request). Never prints secrets.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No colour, even on a terminal (the NO_COLOR variable does the same).
    #[arg(long, global = true)]
    pub no_color: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check desired-state files offline; contacts nothing.
    Validate(ValidateArgs),
    /// Read the live block lists and show what apply would change; changes nothing.
    Plan(PlanArgs),
    /// Plan, ask for confirmation, and apply; or apply a reviewed plan (--plan).
    Apply(ApplyArgs),
    /// Scheduled check: what differs between the files and the live lists, and why.
    /// Exits 0 in sync, 2 drifted, 1 on error.
    Drift(DriftArgs),
    /// Write the live block list of the target PATH describes into a desired-state file.
    Import(ImportArgs),
    /// Where the files list a user (file:line, reason, expiry, include chain),
    /// and with --live whether each target has them blocked now.
    Why(WhyArgs),
    /// Serve the providers' inbound-message webhooks and block a listed user
    /// the moment they write (Cloud API and WAHA targets).
    Watch(WatchArgs),
    /// Run the local provider emulator (for tests, benchmarks and trying the tool).
    Emulator(EmulatorArgs),
    /// Re-render a saved plan (plan --out) or apply report (apply --report); offline.
    Show(ShowArgs),
    /// Add users to a desired-state file's blocked: list, keeping its comments and layout.
    Add(AddArgs),
    /// Remove users from a desired-state file's blocked: list, keeping its comments and layout.
    Remove(RemoveArgs),
    /// Print the JSON Schema of desired-state and include files (for editors).
    Schema,
    /// Print shell completions (e.g. `blocklist completions bash > /etc/bash_completion.d/blocklist`).
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `blocklist manpage > blocklist.1`.
    Manpage,
    /// Remove the apply lock of each target PATH describes, left by an apply
    /// that was killed; says who held it and since when.
    Unlock(UnlockArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The desired-state file to edit.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Users to block: phone numbers (any spelling) or BSUIDs.
    #[arg(value_name = "USER", required = true)]
    pub users: Vec<String>,

    /// Why they are blocked (shown in plans).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// When the entries stop being desired: a date (YYYY-MM-DD, UTC) or days from today (30d).
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The desired-state file to edit.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Users to take out of blocked:: phone numbers (any spelling) or BSUIDs.
    #[arg(value_name = "USER", required = true)]
    pub users: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The saved plan or apply report (JSON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Desired-state files or directories (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8788")]
    pub listen: SocketAddr,

    /// Re-read the files this often (also on SIGHUP); 0 for only on SIGHUP.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = timeout)]
    pub reload_every: Timeout,

    /// Blocks waiting for a worker; when full, deliveries are answered 503.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub queue: u32,

    /// Blocks sent at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,

    /// Message ids remembered, so a repeated delivery blocks once.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub dedupe: u32,

    #[command(flatten)]
    pub state: StateArg,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The user: a phone number (any spelling) or a BSUID.
    #[arg(value_name = "USER")]
    pub user: String,

    /// Desired-state files or directories of them (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Also read each target's live list: is the user blocked there now?
    #[arg(long)]
    pub live: bool,

    /// Output format (markdown is not offered: the answer is for a support agent or a script).
    #[arg(long, value_enum, default_value_t = WhyFormat::Text)]
    pub format: WhyFormat,

    #[command(flatten)]
    pub state: StateArg,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhyFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Desired-state files or directories of them (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Flags shared by the commands that talk to providers.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Desired-state files or directories of them (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// How many targets to reconcile at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    #[command(flatten)]
    pub shard: ShardArg,

    /// Exit 2 when differences remain (plan has changes, apply left entries deferred or failed).
    #[arg(long)]
    pub detailed_exitcode: bool,

    #[command(flatten)]
    pub state: StateArg,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

/// `--shard K/N`, on plan, apply and drift.
#[derive(Debug, Args)]
pub struct ShardArg {
    /// Only the targets whose business phone hashes to shard K of N (1-based),
    /// so N CI jobs given 1/N to N/N split a fleet with no overlap or gap.
    #[arg(long = "shard", id = "shard", value_name = "K/N")]
    pub value: Option<crate::commands::targets::Shard>,
}

/// `--timeout`, on every command that talks to providers.
#[derive(Debug, Args)]
pub struct TimeoutArg {
    /// Deadline for the whole run (e.g. 90s, 20m, 1h; 0 for none). Retry waits
    /// and slow servers count against it; at the deadline the run stops
    /// sending, reports what was done and exits 1.
    #[arg(long = "timeout", value_name = "DURATION", default_value = crate::stop::DEFAULT_TIMEOUT, value_parser = timeout)]
    pub value: Timeout,
}

/// A parsed `--timeout`; `None` for `0`, no deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

fn timeout(s: &str) -> Result<Timeout, String> {
    crate::stop::parse_timeout(s).map(Timeout)
}

/// Safety guard overrides for one run (README, Safety guards); the same names as the
/// `safety:` keys, which they beat.
#[derive(Debug, Args)]
pub struct GuardArgs {
    /// Refuse a target that would unblock more users than this (default 100).
    #[arg(long, value_name = "N")]
    pub max_unblocks: Option<u64>,

    /// Refuse a target that would unblock more than this share of its live list (default 0.25).
    #[arg(long, value_name = "F", value_parser = fraction)]
    pub max_unblock_ratio: Option<f64>,

    /// Allow an empty desired set while the live list is not empty.
    #[arg(long)]
    pub allow_empty: bool,

    /// Override every safety guard for this run (said loudly).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub targets: TargetArgs,

    #[command(flatten)]
    pub guards: GuardArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Also save the plan as JSON to FILE (written atomically).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub targets: TargetArgs,

    #[command(flatten)]
    pub guards: GuardArgs,

    /// Apply a reviewed plan (from `plan --out`): proceed only if every change
    /// needed now is in it. No prompt: the reviewed plan is the approval.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// Output format of the plan and the apply report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Apply without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Users per block or unblock request (the API maximum is 1000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub chunk_size: u16,

    /// Also write the apply report as JSON to FILE (written atomically), whatever --format is.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Send blocks only, never unblocks: safe for a scheduled job that
    /// retries deferred blocks without a reviewer.
    #[arg(long)]
    pub blocks_only: bool,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Desired-state files or directories of them (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// How many targets to check at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    #[command(flatten)]
    pub shard: ShardArg,

    /// Output format (markdown is made to open or update an issue).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Count blocks waiting for their users to write (deferred) as drift too.
    #[arg(long)]
    pub strict: bool,

    #[command(flatten)]
    pub state: StateArg,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The desired-state file whose provider header names the target.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// Replace the file's `blocked:` list in place instead of printing to stdout.
    #[arg(long)]
    pub write: bool,

    /// With --write: drop entries the live list does not hold (they would be lost).
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PagingArg {
    /// `paging.next` while more pages remain (Graph style).
    Next,
    /// Cursors only; the listing ends with an empty page (NxCloud's documented example).
    CursorsOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListShapeArg {
    /// Meta's `data: [{messaging_product, wa_id?, user_id?}]`.
    Graph,
    /// Some resellers' `data: [{block_users: [{input, wa_id?, user_id?}]}]`.
    BlockUsers,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on. Keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// JSON state file (created if missing; saved atomically, at most every 50 ms, off the request path).
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,

    /// Register unknown NxCloud business phones, Cloud API phone ids (under
    /// the id's last 15 digits as the number) and WAHA sessions on first use,
    /// instead of answering 10003, 100 and 404.
    #[arg(long)]
    pub auto_create_phones: bool,

    /// Cloud API: take the raw token from this header instead of
    /// `Authorization: Bearer` (a reseller's, e.g. D360-API-KEY).
    #[arg(long, value_name = "NAME")]
    pub cloud_api_auth_header: Option<String>,

    /// Cloud API: the phone_number_id that the reseller path /block_users serves.
    #[arg(long, value_name = "ID")]
    pub cloud_api_reseller_phone_id: Option<String>,

    /// Cloud API: how list items look.
    #[arg(long, value_enum, default_value_t = ListShapeArg::Graph)]
    pub cloud_api_list_shape: ListShapeArg,

    /// Cloud API: the usage percentage every reply reports in x-business-use-case-usage.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub usage_percent: u8,

    /// Delay every reply by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,

    /// Fraction (0 to 1) of requests answered with HTTP 503.
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    pub fail_rate: f64,

    /// Answer the first N requests with HTTP 503 (a deterministic burst).
    #[arg(long, default_value_t = 0)]
    pub fail_first: u64,

    /// After any --fail-first burst, answer the next N requests with HTTP 429 and Retry-After.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub rate_limit_first: u64,

    /// At most N requests per second; the rest get HTTP 429 with Retry-After.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,

    /// Fraction (0 to 1) of requests applied but answered with a truncated body.
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    pub malformed_rate: f64,

    /// Seed for the fault dice, to replay a run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Serve at most N users per list page, whatever the client asks.
    #[arg(long, value_name = "N")]
    pub max_page_size: Option<usize>,

    /// How list pages say that more remain.
    #[arg(long, value_enum, default_value_t = PagingArg::Next)]
    pub paging: PagingArg,

    /// Change the list once after serving N list pages, so cursors go stale (139102).
    #[arg(long, value_name = "N")]
    pub change_list_after_pages: Option<u64>,

    /// How per-user error codes are written in failed_users: as numbers, as
    /// numeric strings (as Meta's guide prints them), or left out.
    #[arg(long, value_enum, default_value_t = CodeStyleArg::Number)]
    pub failed_code_style: CodeStyleArg,

    /// NxCloud: refuse {"user_id": …} items (BSUIDs) with code 1002, as a
    /// server that knows only phone numbers would.
    #[arg(long)]
    pub nxcloud_refuses_user_id: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodeStyleArg {
    /// `"code": 131047`
    Number,
    /// `"code": "131047"`
    String,
    /// No `code` at all.
    Missing,
}

fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("{s:?} is not a fraction between 0 and 1")),
    }
}

/// `--state`, on every command that reads or writes the state.
#[derive(Debug, Args)]
pub struct StateArg {
    /// Where the state lives: a directory, a file:// URL or s3://BUCKET/PREFIX
    /// (default: BLOCKLIST_STATE, else .blocklist/ beside each file).
    #[arg(long = "state", value_name = "URL")]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Desired-state files or directories of them (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub state: StateArg,
}
