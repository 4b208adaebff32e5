//! The `sandbox` provider: the emulator, in-process, on a free loopback port,
//! reached through the real NxCloud client (README, The emulator). It is how a
//! newcomer tries the tool with no account.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::emulator::{
    self, NxCloudKeys, Options, Running, SANDBOX_ACCESS_KEY, SANDBOX_ACCESS_SECRET,
};

/// Running sandboxes, one per state file (all targets in one directory share one).
#[derive(Default)]
pub struct Sandboxes {
    running: HashMap<PathBuf, Running>,
}

/// Where a sandbox target's state lives: `.blocklist/sandbox.json` beside the file.
pub fn state_path(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join(".blocklist").join("sandbox.json")
}

impl Sandboxes {
    /// The base URL of the sandbox serving `file`, starting it if needed.
    pub async fn base_url(&mut self, file: &Path) -> anyhow::Result<String> {
        let state = state_path(file);
        if let Some(dir) = state.parent() {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create the sandbox directory {}", dir.display())
            })?;
        }
        // One emulator per state file, however the path was spelled
        // (`dir/a.yaml` and `./dir/b.yaml`): two would overwrite each other.
        let state = match state.parent().map(std::fs::canonicalize) {
            Some(Ok(dir)) => dir.join("sandbox.json"),
            _ => state,
        };
        if !self.running.contains_key(&state) {
            let options = Options {
                state_path: state.clone(),
                nxcloud: Some(NxCloudKeys {
                    access_key: SANDBOX_ACCESS_KEY.to_string(),
                    access_secret: SANDBOX_ACCESS_SECRET.to_string(),
                }),
                // The sandbox speaks NxCloud only: the other routes answer 401.
                cloud_api: Default::default(),
                waha_api_key: None,
                faults: Default::default(),
                auto_create_phones: true,
            };
            let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            let running = emulator::start(listen, options)
                .await
                .with_context(|| format!("cannot start the sandbox for {}", file.display()))?;
            crate::info!(
                "sandbox for {} listening on {} (state {})",
                file.display(),
                running.addr,
                state.display()
            );
            self.running.insert(state.clone(), running);
        }
        Ok(format!("http://{}", self.running[&state].addr))
    }
}
