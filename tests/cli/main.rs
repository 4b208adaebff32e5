//! Integration tests: the real binary, the real emulator, real HTTP on loopback.

mod harness;

mod conformance;
mod drift;
mod faults;
mod github;
mod guards;
mod hostile;
mod import;
mod input;
mod progress;
mod providers;
mod quiet;
mod reconcile;
mod review;
mod sandbox;
mod secrets;
