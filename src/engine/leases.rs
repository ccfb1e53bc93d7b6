//! Sync leases: the processes sharing one cache (agents, desktops, CLIs) never sync the same
//! source at once. A sync takes its source's lease, renews it while it runs and gives it up
//! when it ends; a process that finds the lease taken leaves that sync to its holder.

use std::time::Duration;

use chrono::{TimeDelta, Utc};

use crate::api::SyncingNow;
use crate::engine::Engine;
use crate::store::{Lease, LeaseHolder};
use crate::text::clock_time;
use crate::Result;

/// How long a lease holds without renewal. A holder that died is replaced at once when that
/// can be told: in a shared cache, its lock of the living is free; in a file, its process on
/// this host is gone. The term covers one that hangs, or whose death cannot be told.
/// Renewals wait while the holder's own landing holds the cache's write lock, so the term is
/// far longer than any landing.
const LEASE_TERM: TimeDelta = TimeDelta::minutes(10);
/// How often a sync under way renews its lease.
const LEASE_RENEWAL: Duration = Duration::from_secs(60);

/// What this process is, as named by its face.
static FACE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Names what this process is (`agent`, `desktop`, `cli`) in the leases it takes, so that a
/// process finding a source taken can say by whom. Called once, before the engine opens.
pub fn name_this_process(face: &'static str) {
    let _ = FACE.set(face);
}

/// An engine of this process as a lease holder: each engine is a holder of its own.
pub(crate) fn this_process() -> LeaseHolder {
    let face = FACE.get().copied().unwrap_or("opsdeck");
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let pid = std::process::id();
    LeaseHolder {
        holder: format!("{host}/{pid}/{:016x}", fastrand::u64(..)),
        face: face.to_string(),
        host,
        pid: i64::from(pid),
    }
}

impl Engine {
    /// Takes `source`'s lease (or renews it), or says who holds it.
    pub(crate) async fn take_lease(&self, source: &str) -> Result<Option<Lease>> {
        let me = self.lease_holder();
        let now = Utc::now();
        let store = self.store();
        store.keep_alive(&me.holder).await?;
        let Some(other) = store
            .take_lease(source, me, now, now + LEASE_TERM, None)
            .await?
        else {
            return Ok(None);
        };
        let gone = match store.holder_gone(&other.holder.holder).await? {
            Some(gone) => gone,
            None => other.holder.host == me.host && process_alive(other.holder.pid) == Some(false),
        };
        if !gone {
            return Ok(Some(other));
        }
        tracing::warn!(source, holder = %other.holder.holder, "taking over the lease of a process that is gone");
        Ok(store
            .take_lease(
                source,
                me,
                now,
                now + LEASE_TERM,
                Some(&other.holder.holder),
            )
            .await?)
    }

    /// Renews `source`'s lease while a sync of it runs; returns only if another process took
    /// it over, saying so.
    pub(crate) async fn hold_lease(&self, source: &str) -> String {
        loop {
            tokio::time::sleep(LEASE_RENEWAL).await;
            match self.take_lease(source).await {
                Ok(None) => {}
                Ok(Some(other)) => {
                    return format!(
                        "{source}: this sync stopped, nothing landed: {} took it over",
                        held_by(&other)
                    )
                }
                // A cache that cannot be written fails the landing too, which says so.
                Err(error) => tracing::warn!(source, %error, "sync lease not renewed"),
            }
        }
    }

    /// Gives up `source`'s lease once its sync ended.
    pub(crate) async fn release_lease(&self, source: &str) {
        if let Err(error) = self
            .store()
            .release_lease(source, &self.lease_holder().holder)
            .await
        {
            tracing::warn!(source, %error, "sync lease not given up; it lapses on its own");
        }
    }

    /// The sources being synced now, by any process that shares the cache, and by whom.
    pub async fn syncing_now(&self) -> Result<Vec<SyncingNow>> {
        let leases = self.store().leases().await?;
        let me = &self.lease_holder().holder;
        Ok(leases
            .into_iter()
            .map(|(source, lease)| SyncingNow {
                source,
                by: if lease.holder.holder == *me {
                    let since = clock_time(lease.taken_at);
                    format!("this {} (since {since})", lease.holder.face)
                } else {
                    held_by(&lease)
                },
                face: lease.holder.face,
                host: lease.holder.host,
                pid: lease.holder.pid,
                since: lease.taken_at,
            })
            .collect())
    }

    /// Gives up every lease this process holds: when it stops, possibly mid-sync, so another
    /// process takes the sources on at once.
    pub async fn release_leases(&self) -> Result<()> {
        Ok(self
            .store()
            .release_leases(&self.lease_holder().holder)
            .await?)
    }
}

/// Who holds a lease, for the message of a process that finds it taken.
pub(crate) fn held_by(lease: &Lease) -> String {
    let LeaseHolder {
        face, host, pid, ..
    } = &lease.holder;
    format!(
        "the {face} on {host} (pid {pid}, since {})",
        clock_time(lease.taken_at)
    )
}

/// Whether process `pid` of this host runs: unknown where the OS does not tell simply.
fn process_alive(pid: i64) -> Option<bool> {
    if cfg!(target_os = "linux") {
        Some(std::path::Path::new("/proc").join(pid.to_string()).exists())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_alive_and_a_pid_past_the_kernels_limit_is_not() {
        let me = this_process();
        assert_eq!(process_alive(me.pid), Some(true));
        // Linux pids stop at 2^22.
        assert_eq!(process_alive(1 << 30), Some(false));
        assert_ne!(me.holder, this_process().holder);
    }
}
