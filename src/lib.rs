//! `blocklist`: WhatsApp Business block lists kept in Git.
//!
//! One run of `plan` reads desired-state files ([`config`]), reads each live
//! list through a [`provider`], compares them ([`plan`]) and renders the
//! result ([`render`]); `apply` then carries the plan out ([`apply`]).
//! `drift` renders the same comparison as a report; `import` turns a live
//! list into a file's `blocked:` list ([`import`]).

pub mod apply;
pub mod cli;
pub mod commands;
pub mod config;
pub mod date;
pub mod deferral;
pub mod edit;
pub mod emulator;
pub mod exit;
pub mod fsutil;
pub mod import;
pub mod log;
pub mod number;
pub mod plan;
pub mod progress;
pub mod provider;
pub mod reconcile;
pub mod render;
pub mod review;
pub mod safety;
pub mod sandbox;
pub mod schema;
pub mod state;
pub mod stop;
pub mod user;
pub mod watch;
pub mod workflow;
