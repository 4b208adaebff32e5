//! Integration tests: the real binary, the real emulator, real HTTP on loopback.

mod harness;

mod faults;
mod input;
mod progress;
mod reconcile;
mod sandbox;
mod secrets;
