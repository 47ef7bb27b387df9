//! The `zinovia` binary as a child process, and the PostgreSQL processes tests look for.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `zinovia` binary built for these tests, with a clean environment (no inherited
/// settings) and logs as JSON.
pub fn zinovia() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zinovia"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LOG_FORMAT", "json")
        .stdin(Stdio::null());
    cmd
}

/// A running `zinovia` child process, killed when dropped.
pub struct Proc {
    /// The process.
    pub child: Child,
    /// Where its stdout goes.
    pub stdout: PathBuf,
    /// Where its stderr goes.
    pub stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proc {
    /// Starts `cmd` with output captured to files.
    pub fn start(mut cmd: Command) -> Proc {
        let dir = tempfile::tempdir().expect("temp dir");
        let stdout = dir.path().join("stdout");
        let stderr = dir.path().join("stderr");
        let child = cmd
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("starting zinovia");
        Proc {
            child,
            stdout,
            stderr,
            _dir: dir,
        }
    }

    /// What it printed so far.
    pub fn output(&self) -> (String, String) {
        (
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        )
    }

    /// Waits for the "running at URL" line and returns the URL (without trailing slash).
    pub async fn wait_for_url(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let (out, err) = self.output();
            if let Some(line) = out
                .lines()
                .find(|l| l.starts_with("Zinovia is running at "))
            {
                let url = line["Zinovia is running at ".len()..]
                    .split_whitespace()
                    .next()
                    .expect("url");
                return url.trim_end_matches('/').to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("zinovia exited ({status}) before serving:\n{out}\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "zinovia did not start in time:\n{out}\n{err}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `check` is true while this process runs; panics with `what` and the
    /// process's output when it exits first or `timeout` passes.
    pub async fn wait_until<F, Fut>(&mut self, timeout: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if check().await {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let (out, err) = self.output();
                panic!("zinovia exited ({status}) before {what}:\n{out}\n{err}");
            }
            if Instant::now() >= deadline {
                let (out, err) = self.output();
                panic!("timed out waiting for {what}; zinovia's output:\n{out}\n{err}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` and waits for the exit status.
    pub async fn stop(
        &mut self,
        signal: nix::sys::signal::Signal,
        timeout: Duration,
    ) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        let _ = nix::sys::signal::kill(pid, signal);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "zinovia did not exit in time: {:?}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PIDs of live PostgreSQL processes whose command line mentions `needle`.
pub fn postgres_processes(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() == "postgres" && cmdline.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// The postmasters among [`postgres_processes`]: a backend the postmaster has just forked
/// shows the postmaster's command line until it renames itself, so processes whose parent
/// is one of them are left out.
pub fn postmasters(needle: &str) -> Vec<i32> {
    let all = postgres_processes(needle);
    let parent = |pid: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    all.iter()
        .copied()
        .filter(|pid| parent(*pid).is_none_or(|p| !all.contains(&p)))
        .collect()
}
