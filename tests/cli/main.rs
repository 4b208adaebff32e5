//! Integration tests: the real binary, the real emulator, real HTTP on loopback.

mod corpus;
mod harness;

mod accounts;
mod action;
mod bsuid;
mod conformance;
mod deadline;
mod drift;
mod edit;
mod emulator;
mod faults;
mod generated;
mod github;
mod guards;
mod hostile;
mod import;
mod input;
mod interrupts;
mod locking;
mod precommit;
mod progress;
mod providers;
mod quiet;
mod reconcile;
mod review;
mod s3;
mod sandbox;
mod schema;
mod secrets;
mod shard;
mod show;
mod shown;
mod watch;
mod why;
