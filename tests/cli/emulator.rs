//! `blocklist emulator` as a command: what it says when it cannot start.

use crate::harness::*;

#[test]
fn a_broken_state_file_is_an_error_that_names_the_emulator() {
    let ws = Workspace::new();
    ws.write("state.json", "{broken");
    let run = ws
        .command(&[
            "emulator",
            "--state",
            "state.json",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("WHATSAPP_TOKEN", WHATSAPP_TOKEN)
        .run();
    run.code(1);
    assert!(
        run.stderr
            .starts_with("error: emulator: state.json: invalid emulator state"),
        "{}",
        run.stderr
    );
}
