//! The static API token from a mounted Secret file: re-read when the file changes, so that a
//! rotated Secret takes effect without a restart, and kept as its last good digest while the
//! file is unreadable or empty (a Secret mid-rotation must not open the API).

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

use super::auth::{TokenDigest, digest};

/// How often a token file is looked at again for a rotated Secret.
pub(super) const RECHECK: Duration = Duration::from_secs(5);

pub(super) struct FileToken {
    pub(super) path: PathBuf,
    pub(super) loaded: RwLock<Loaded>,
}

pub(super) struct Loaded {
    pub(super) digest: TokenDigest,
    pub(super) modified: Option<SystemTime>,
    pub(super) checked: Instant,
}

pub(super) fn read_token(path: &Path) -> anyhow::Result<(TokenDigest, Option<SystemTime>)> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let text = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read the API token file {}: {e}", path.display()))?;
    let token = text.trim_ascii();
    anyhow::ensure!(
        !token.is_empty(),
        "the API token file {} is empty",
        path.display()
    );
    Ok((digest(token), modified))
}

impl FileToken {
    pub(super) fn current(&self) -> TokenDigest {
        {
            let loaded = self.loaded.read().expect("not poisoned");
            if loaded.checked.elapsed() < RECHECK {
                return loaded.digest;
            }
        }
        let mut loaded = self.loaded.write().expect("not poisoned");
        if loaded.checked.elapsed() >= RECHECK {
            loaded.checked = Instant::now();
            let modified = std::fs::metadata(&self.path)
                .and_then(|m| m.modified())
                .ok();
            if modified != loaded.modified {
                match read_token(&self.path) {
                    Ok((digest, modified)) => {
                        loaded.digest = digest;
                        loaded.modified = modified;
                        tracing::info!(file = %self.path.display(), "API token reloaded");
                    }
                    // Keep the last good token: a Secret mid-rotation must not open the API.
                    Err(error) => {
                        tracing::warn!(%error, "keeping the previous API token")
                    }
                }
            }
        }
        loaded.digest
    }
}
