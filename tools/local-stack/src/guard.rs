//! Stopping a child: every process the stack starts is owned by a [`Guard`], so an error, a
//! Ctrl-C or the end of a measurement or a test never leaves a server on a port.

use std::process::Child;
use std::time::{Duration, Instant};

/// How long a child gets to stop after `SIGTERM` before it is killed.
const GRACE: Duration = Duration::from_secs(5);

/// Stops its process when dropped (or on [`Guard::stop`]).
pub struct Guard(pub Child);

impl Guard {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// SIGTERM first, SIGKILL after 5 s: `spin up` runs its trigger as a child process and
    /// stops it only when it is itself asked to stop; killing `spin up` outright would
    /// leave `spin trigger http` serving (orphaned) on the port. Returns once the child
    /// has exited; a stopped child stays stopped.
    pub fn stop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.signal(libc::SIGTERM);
            let deadline = Instant::now() + GRACE;
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGHUP: the emulator re-reads its settings file (`APIM_EMULATOR_SETTINGS_FILE`).
    pub fn hang_up(&self) -> std::io::Result<()> {
        self.signal(libc::SIGHUP)
    }

    fn signal(&self, signal: libc::c_int) -> std::io::Result<()> {
        let pid = libc::pid_t::try_from(self.0.id())
            .map_err(|_| std::io::Error::other("process id out of range"))?;
        // SAFETY: kill(2) on the pid of a child this guard owns and has not reaped (a
        // reaped child's status is cached by `Child`, and `stop` signals only a running one).
        if unsafe { libc::kill(pid, signal) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn sigterm_stops_a_child_at_once() {
        let mut guard = Guard(Command::new("sleep").arg("30").spawn().unwrap());
        let started = Instant::now();
        guard.stop();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(guard.0.try_wait().unwrap().is_some());
    }

    #[test]
    fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let mut guard = Guard(
            Command::new("sh")
                .args(["-c", "trap '' TERM; exec sleep 30"])
                .spawn()
                .unwrap(),
        );
        // Let the shell install the trap before it is signalled.
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        guard.stop();
        let took = started.elapsed();
        assert!(
            took >= GRACE && took < GRACE + Duration::from_secs(3),
            "{took:?}"
        );
        assert!(guard.0.try_wait().unwrap().is_some());
    }

    #[test]
    fn hang_up_reaches_the_child() {
        let mut guard = Guard(
            Command::new("sh")
                .args(["-c", "trap 'exit 7' HUP; while :; do sleep 0.05; done"])
                .spawn()
                .unwrap(),
        );
        std::thread::sleep(Duration::from_millis(300));
        guard.hang_up().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while guard.0.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(guard.0.try_wait().unwrap().and_then(|s| s.code()), Some(7));
    }
}
