//! Integration tests: the real binary, the real emulator, real HTTP on loopback.

mod corpus;
mod harness;

mod bsuid;
mod conformance;
mod deadline;
mod drift;
mod faults;
mod github;
mod guards;
mod hostile;
mod import;
mod input;
mod interrupts;
mod locking;
mod progress;
mod providers;
mod quiet;
mod reconcile;
mod review;
mod s3;
mod sandbox;
mod secrets;
mod shown;
mod why;
