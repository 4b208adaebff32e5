//! Integration tests: the real binary, the real emulator, real HTTP on loopback.

mod harness;

mod drift;
mod faults;
mod import;
mod input;
mod reconcile;
mod sandbox;
mod secrets;
