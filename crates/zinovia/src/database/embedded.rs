//! The private PostgreSQL cluster `zinovia up` runs when `DATABASE_URL` is unset.
//!
//! It is started from the machine's PostgreSQL server binaries, initialised on first use in
//! `$DATA_DIR/postgres`, and listens only on a Unix socket in a private directory (no TCP port
//! to collide with, and only this user — or root — can connect). One zinovia process owns
//! the cluster at a time, proven by an advisory lock on `$DATA_DIR/postgres.lock`; the
//! owner stops the cluster when it exits. Other zinovia commands (`migrate`, `jobs`) can
//! join a running cluster as guests. If the owner is killed with SIGKILL the cluster keeps
//! running; the next owner adopts it.
//!
//! Everything here is blocking (it runs `initdb`, spawns `postgres`, polls files), so that it
//! works from any runtime; async callers use `spawn_blocking`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Gid, Pid, Uid, User};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;

/// The database superuser inside the private cluster.
pub const SUPERUSER: &str = "postgres";
/// The port number only names the socket file (`.s.PGSQL.5432`); nothing listens on TCP.
const PORT: u16 = 5432;
/// Longest Unix socket path the kernel accepts is 107 bytes; keep a margin.
const MAX_SOCKET_PATH: usize = 100;
/// The unprivileged account used when zinovia runs as root (PostgreSQL refuses root).
const UNPRIVILEGED_USER: &str = "postgres";

/// What went wrong with the private cluster, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No `initdb`/`postgres` binaries were found.
    #[error(
        "PostgreSQL server binaries (initdb, postgres) were not found on PATH, via `pg_config --bindir`, \
         or under /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`; \
         Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql@16`) or set DATABASE_URL \
         to an existing PostgreSQL database."
    )]
    BinariesNotFound,
    /// The cluster directory was made by another major version.
    #[error(
        "{dir} was created by PostgreSQL {data_version}, but the server binaries found are version {bin_version} \
         ({bindir}). Install PostgreSQL {data_version}'s server binaries, or move the directory away \
         (or upgrade it with pg_upgrade)."
    )]
    VersionMismatch {
        /// The cluster directory.
        dir: String,
        /// `PG_VERSION` of the directory.
        data_version: String,
        /// Major version of the binaries.
        bin_version: String,
        /// Where the binaries are.
        bindir: String,
    },
    /// Running as root without an unprivileged account to run PostgreSQL as.
    #[error(
        "PostgreSQL refuses to run as root and there is no `{UNPRIVILEGED_USER}` user to run it as; \
         create one (`useradd --system {UNPRIVILEGED_USER}`) or run zinovia as a normal user"
    )]
    NoUnprivilegedUser,
    /// The unprivileged account cannot reach the data directory.
    #[error(
        "the `{user}` user, which runs PostgreSQL because zinovia runs as root, cannot enter {dir}; \
         set DATA_DIR to a directory it can reach (for example /var/lib/zinovia)"
    )]
    Unreachable {
        /// The account PostgreSQL runs as.
        user: String,
        /// The directory it cannot traverse.
        dir: String,
    },
    /// Another zinovia process owns the cluster and the caller needs to own it.
    #[error(
        "another zinovia process ({holder}) is already running on DATA_DIR {dir}; stop it first or choose \
         another DATA_DIR"
    )]
    Busy {
        /// The data directory.
        dir: String,
        /// What the lock file says about its holder.
        holder: String,
    },
    /// A command or the server failed; includes the tail of its output.
    #[error("{what} failed: {detail}")]
    Failed {
        /// What was being done.
        what: String,
        /// Output or log tail.
        detail: String,
    },
    /// A filesystem or process error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

fn errno(context: impl Into<String>) -> impl FnOnce(nix::Error) -> EmbeddedError {
    let context = context.into();
    move |e| EmbeddedError::Io {
        context,
        source: std::io::Error::from(e),
    }
}

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `$DATA_DIR`: the cluster lives in `postgres/` under it.
    pub data_dir: PathBuf,
    /// Trade durability for speed (fsync off): for throwaway test clusters only.
    pub ephemeral: bool,
    /// How long to wait for the server to accept connections (crash recovery can be slow).
    pub start_timeout: Duration,
}

impl ClusterOptions {
    /// Durable defaults for `$DATA_DIR`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ClusterOptions {
            data_dir: data_dir.into(),
            ephemeral: false,
            start_timeout: Duration::from_secs(120),
        }
    }
}

/// Whether this process started (or adopted) the cluster and must stop it.
#[derive(Debug)]
enum Ownership {
    /// We hold the lock; `child` is set when we spawned the postmaster ourselves.
    Owner {
        _lock: Flock<File>,
        child: Option<Child>,
    },
    /// Another zinovia process owns it; we only connect.
    Guest,
}

/// A running private cluster.
#[derive(Debug)]
pub struct Cluster {
    pgdata: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    pid: Pid,
    ownership: Ownership,
}

/// PostgreSQL server binaries of one major version.
#[derive(Debug, Clone)]
struct Binaries {
    bindir: PathBuf,
    major: String,
}

impl Binaries {
    fn initdb(&self) -> PathBuf {
        self.bindir.join("initdb")
    }
    fn postgres(&self) -> PathBuf {
        self.bindir.join("postgres")
    }
}

/// The user id PostgreSQL must run as, when it is not our own.
#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: Uid,
    gid: Gid,
}

impl Cluster {
    /// Starts the cluster (initialising it on first use) and owns it, or adopts one left
    /// running by a previous owner that was killed. Fails with [`EmbeddedError::Busy`] when
    /// another live zinovia process owns it.
    pub fn start(opts: &ClusterOptions) -> Result<Cluster, EmbeddedError> {
        Self::open(opts, false)
    }

    /// Like [`Cluster::start`], but when another zinovia process owns the cluster, joins it
    /// as a guest (waiting for it to accept connections) instead of failing.
    pub fn start_or_join(opts: &ClusterOptions) -> Result<Cluster, EmbeddedError> {
        Self::open(opts, true)
    }

    fn open(opts: &ClusterOptions, may_join: bool) -> Result<Cluster, EmbeddedError> {
        let data_dir = crate::config::absolute(&opts.data_dir);
        fs::create_dir_all(&data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
        let run_as = run_as()?;
        let pgdata = pgdata_path(&data_dir, run_as.as_ref());
        if let Some(parent) = pgdata.parent().filter(|p| !p.starts_with(&data_dir)) {
            tracing::info!(
                dir = %pgdata.display(),
                "the `postgres` user cannot enter DATA_DIR, so the cluster lives here instead"
            );
            fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
            for dir in parent
                .ancestors()
                .take_while(|d| d.starts_with(FALLBACK_ROOT))
            {
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
            }
        }
        let socket_dir = socket_dir_for(&pgdata);
        let log_path = data_dir.join("postgres.log");
        let lock_path = data_dir.join("postgres.lock");

        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io(format!("opening {}", lock_path.display())))?;
        let mut lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, _)) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim().to_owned();
                if !may_join {
                    return Err(EmbeddedError::Busy {
                        dir: data_dir.display().to_string(),
                        holder: if holder.is_empty() {
                            "unknown".into()
                        } else {
                            holder
                        },
                    });
                }
                let pid = wait_ready(&pgdata, None, &log_path, opts.start_timeout)?;
                return Ok(Cluster {
                    pgdata,
                    socket_dir,
                    log_path,
                    pid,
                    ownership: Ownership::Guest,
                });
            }
        };
        let _ = lock.set_len(0);
        let _ = lock.seek(SeekFrom::Start(0));
        let _ = write!(lock, "pid {}", std::process::id());
        let _ = lock.flush();

        let bins = find_binaries(&pgdata)?;

        // A postmaster left behind by an owner that was killed: adopt it.
        if let Some(pid) = live_postmaster(&pgdata) {
            tracing::info!(%pid, dir = %pgdata.display(), "adopting the PostgreSQL server left running by a previous zinovia process");
            let pid = wait_ready(&pgdata, None, &log_path, opts.start_timeout)?;
            return Ok(Cluster {
                pgdata,
                socket_dir,
                log_path,
                pid,
                ownership: Ownership::Owner {
                    _lock: lock,
                    child: None,
                },
            });
        }

        if !pgdata.join("PG_VERSION").exists() {
            initdb(&bins, &pgdata, run_as.as_ref(), opts.ephemeral)?;
        }
        prepare_dir(&socket_dir, run_as.as_ref())?;
        if let Some(r) = &run_as {
            check_reachable(&pgdata, r)?;
        }

        let mut child = spawn_postgres(
            &bins,
            &pgdata,
            &socket_dir,
            &log_path,
            run_as.as_ref(),
            opts.ephemeral,
        )?;
        let pid = match wait_ready(&pgdata, Some(&mut child), &log_path, opts.start_timeout) {
            Ok(pid) => pid,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(Cluster {
            pgdata,
            socket_dir,
            log_path,
            pid,
            ownership: Ownership::Owner {
                _lock: lock,
                child: Some(child),
            },
        })
    }

    /// Connection options for `database` inside the cluster, over its socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(database)
            .application_name("zinovia")
    }

    /// The postmaster's process id (also the process group of every backend).
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The cluster's directory (`$DATA_DIR/postgres`).
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// The directory holding the server's socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// True when this process owns the cluster (and stops it on [`Cluster::stop`]).
    pub fn is_owner(&self) -> bool {
        matches!(self.ownership, Ownership::Owner { .. })
    }

    /// Stops the server if we own it ("fast" shutdown: open transactions roll back, data
    /// is flushed), waiting up to `timeout` before killing it. Guests just let go.
    pub fn stop(mut self, timeout: Duration) -> Result<(), EmbeddedError> {
        self.stop_inner(timeout)
    }

    fn stop_inner(&mut self, timeout: Duration) -> Result<(), EmbeddedError> {
        let Ownership::Owner { child, .. } = &mut self.ownership else {
            return Ok(());
        };
        let pid = self.pid;
        // A stopped (SIGSTOP) server would never act on the request.
        let _ = kill(pid, Signal::SIGCONT);
        match kill(pid, Signal::SIGINT) {
            Ok(()) => {}
            Err(nix::errno::Errno::ESRCH) => {
                if let Some(c) = child.as_mut() {
                    let _ = c.wait();
                }
                self.ownership = Ownership::Guest;
                return Ok(());
            }
            Err(e) => return Err(errno("signalling PostgreSQL to stop")(e)),
        }
        let exited = wait_gone(pid, child.as_mut(), timeout);
        if !exited {
            tracing::warn!(%pid, "PostgreSQL did not stop in time; sending SIGQUIT (immediate shutdown)");
            let _ = kill(pid, Signal::SIGCONT);
            let _ = kill(pid, Signal::SIGQUIT);
            if !wait_gone(pid, child.as_mut(), Duration::from_secs(10)) {
                tracing::error!(%pid, "PostgreSQL ignored SIGQUIT; killing it");
                let _ = kill(pid, Signal::SIGKILL);
                wait_gone(pid, child.as_mut(), Duration::from_secs(10));
            }
        }
        self.ownership = Ownership::Guest;
        tracing::info!(dir = %self.pgdata.display(), "PostgreSQL stopped");
        Ok(())
    }

    /// The last lines of the server log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A panic or early return must not leave a server running behind an owner.
        if self.is_owner() {
            let _ = self.stop_inner(Duration::from_secs(10));
        }
    }
}

/// Where clusters go when PostgreSQL runs as another account that cannot enter `DATA_DIR`.
const FALLBACK_ROOT: &str = "/var/lib/zinovia/clusters";

/// Where the cluster of `data_dir` lives: `DATA_DIR/postgres`, unless zinovia runs as root
/// and the `postgres` account cannot enter `DATA_DIR` (a checkout under `/root`, say); then
/// under `/var/lib/zinovia/clusters/<hash of DATA_DIR>/`, so `up` still works there.
fn pgdata_path(data_dir: &Path, run_as: Option<&RunAs>) -> PathBuf {
    let preferred = data_dir.join("postgres");
    match run_as {
        Some(r) if check_reachable(&preferred, r).is_err() => {
            let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
            Path::new(FALLBACK_ROOT)
                .join(&hex::encode(digest)[..16])
                .join("postgres")
        }
        _ => preferred,
    }
}

/// The cluster directory `zinovia up` uses for `data_dir` (for `zinovia config`).
pub fn cluster_dir(data_dir: &Path) -> PathBuf {
    let data_dir = crate::config::absolute(data_dir);
    pgdata_path(&data_dir, run_as().ok().flatten().as_ref())
}

/// Waits up to `timeout` for the postmaster to exit (reaping it when it is our child).
fn wait_gone(pid: Pid, mut child: Option<&mut Child>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let gone = match child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
            None => kill(pid, None).is_err(),
        };
        if gone {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The socket directory: `$DATA_DIR/run`, or — when that path would be too long for a
/// Unix socket — a private directory under /tmp named after the cluster's path.
fn socket_dir_for(pgdata: &Path) -> PathBuf {
    let preferred = pgdata.with_file_name("run");
    let socket_len = preferred.as_os_str().len() + "/.s.PGSQL.5432".len();
    if socket_len <= MAX_SOCKET_PATH {
        return preferred;
    }
    let digest = Sha256::digest(pgdata.as_os_str().as_encoded_bytes());
    std::env::temp_dir().join(format!("zinovia-pg-{}", &hex::encode(digest)[..16]))
}

fn run_as() -> Result<Option<RunAs>, EmbeddedError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name(UNPRIVILEGED_USER) {
        Ok(Some(u)) => Ok(Some(RunAs {
            name: u.name,
            uid: u.uid,
            gid: u.gid,
        })),
        _ => Err(EmbeddedError::NoUnprivilegedUser),
    }
}

/// Finds server binaries: those matching an existing cluster's version first, then PATH,
/// `pg_config --bindir`, and `/usr/lib/postgresql/*/bin` (newest first).
fn find_binaries(pgdata: &Path) -> Result<Binaries, EmbeddedError> {
    pick_binaries(candidate_dirs(), pgdata)
}

fn candidate_dirs() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !dir.is_empty() {
            candidates.push(PathBuf::from(dir));
        }
    }
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    candidates.extend(versioned.into_iter().map(|(_, p)| p));
    candidates
}

fn pick_binaries(candidates: Vec<PathBuf>, pgdata: &Path) -> Result<Binaries, EmbeddedError> {
    let mut found: Vec<Binaries> = Vec::new();
    for dir in candidates {
        if !(dir.join("initdb").is_file() && dir.join("postgres").is_file()) {
            continue;
        }
        let Some(major) = server_major(&dir.join("postgres")) else {
            continue;
        };
        // Resolve symlinks so the same installation is not listed twice.
        let bindir = fs::canonicalize(&dir).unwrap_or(dir);
        if !found.iter().any(|b| b.bindir == bindir) {
            found.push(Binaries { bindir, major });
        }
    }
    let Some(first) = found.first().cloned() else {
        return Err(EmbeddedError::BinariesNotFound);
    };
    match fs::read_to_string(pgdata.join("PG_VERSION")) {
        Ok(v) => {
            let v = v.trim().to_owned();
            found
                .into_iter()
                .find(|b| b.major == v)
                .ok_or_else(|| EmbeddedError::VersionMismatch {
                    dir: pgdata.display().to_string(),
                    data_version: v,
                    bin_version: first.major.clone(),
                    bindir: first.bindir.display().to_string(),
                })
        }
        Err(_) => Ok(first),
    }
}

/// "postgres (PostgreSQL) 15.19 (Debian 15.19-0+deb12u1)" → "15".
fn server_major(postgres: &Path) -> Option<String> {
    let out = Command::new(postgres).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(2)?;
    let major = version.split(['.', 'b', 'r', 'd']).next()?;
    (!major.is_empty() && major.chars().all(|c| c.is_ascii_digit())).then(|| major.to_owned())
}

fn command_as(program: &Path, run_as: Option<&RunAs>) -> Command {
    let mut cmd = Command::new(program);
    if let Some(r) = run_as {
        cmd.uid(r.uid.as_raw()).gid(r.gid.as_raw());
    }
    // Never inherit connection settings meant for another server.
    for var in [
        "PGDATA",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGOPTIONS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("LC_ALL", "C");
    cmd
}

/// Creates `dir` (mode 0700) owned by the account PostgreSQL runs as.
fn prepare_dir(dir: &Path, run_as: Option<&RunAs>) -> Result<(), EmbeddedError> {
    fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    if let Some(r) = run_as {
        nix::unistd::chown(dir, Some(r.uid), Some(r.gid)).map_err(errno(format!(
            "giving {} to {}",
            dir.display(),
            r.name
        )))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(io(format!("restricting {}", dir.display())))
}

/// When PostgreSQL runs as another account, every directory above the cluster must let it
/// pass; say which one does not instead of letting initdb fail obscurely.
fn check_reachable(pgdata: &Path, r: &RunAs) -> Result<(), EmbeddedError> {
    for dir in pgdata.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(dir) else {
            continue;
        };
        let mode = meta.mode();
        let ok = mode & 0o001 != 0
            || (meta.uid() == r.uid.as_raw() && mode & 0o100 != 0)
            || (meta.gid() == r.gid.as_raw() && mode & 0o010 != 0);
        if !ok {
            return Err(EmbeddedError::Unreachable {
                user: r.name.clone(),
                dir: dir.display().to_string(),
            });
        }
    }
    Ok(())
}

fn initdb(
    bins: &Binaries,
    pgdata: &Path,
    run_as: Option<&RunAs>,
    ephemeral: bool,
) -> Result<(), EmbeddedError> {
    if let Some(r) = run_as {
        check_reachable(pgdata, r)?;
    }
    // initdb wants an empty directory: initialise into a fresh sibling and rename it into
    // place, so an interrupted first run never leaves a half-made cluster behind.
    let staging = pgdata.with_file_name("postgres.initdb");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(format!("removing {}", staging.display())))?;
    }
    prepare_dir(&staging, run_as)?;
    tracing::info!(dir = %pgdata.display(), bindir = %bins.bindir.display(), "initialising a private PostgreSQL {} cluster", bins.major);
    let mut cmd = command_as(&bins.initdb(), run_as);
    cmd.arg("--pgdata")
        .arg(&staging)
        .args([
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
        ])
        .arg("--no-instructions");
    if ephemeral {
        cmd.arg("--no-sync");
    }
    let out = cmd
        .output()
        .map_err(io(format!("running {}", bins.initdb().display())))?;
    if !out.status.success() {
        let _ = fs::remove_dir_all(&staging);
        return Err(EmbeddedError::Failed {
            what: "initdb".into(),
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    fs::rename(&staging, pgdata).map_err(io(format!(
        "moving the new cluster to {}",
        pgdata.display()
    )))
}

fn spawn_postgres(
    bins: &Binaries,
    pgdata: &Path,
    socket_dir: &Path,
    log_path: &Path,
    run_as: Option<&RunAs>,
    ephemeral: bool,
) -> Result<Child, EmbeddedError> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log_path)
        .map_err(io(format!("opening {}", log_path.display())))?;
    let log2 = log.try_clone().map_err(io("duplicating the log handle"))?;
    let mut cmd = command_as(&bins.postgres(), run_as);
    cmd.arg("-D").arg(pgdata);
    let mut settings: Vec<String> = vec![
        "listen_addresses=".into(),
        format!("unix_socket_directories={}", socket_dir.display()),
        "unix_socket_permissions=0700".into(),
        format!("port={PORT}"),
        "logging_collector=off".into(),
        "log_line_prefix=%m [%p] ".into(),
        "max_connections=200".into(),
    ];
    if ephemeral {
        settings.extend(
            [
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
            ]
            .map(String::from),
        );
    }
    for s in settings {
        cmd.arg("-c").arg(s);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        // Its own process group: a Ctrl-C in the terminal reaches zinovia, which then stops
        // the server in order, instead of reaching both at once.
        .process_group(0);
    cmd.spawn()
        .map_err(io(format!("starting {}", bins.postgres().display())))
}

/// The pid from `postmaster.pid` if that process is alive and is a PostgreSQL server.
fn live_postmaster(pgdata: &Path) -> Option<Pid> {
    let text = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    let pid = Pid::from_raw(pid);
    kill(pid, None).ok()?;
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    (comm.trim() == "postgres" || comm.trim() == "postmaster").then_some(pid)
}

/// Waits until `postmaster.pid` says "ready" and the socket exists; returns the pid.
fn wait_ready(
    pgdata: &Path,
    mut child: Option<&mut Child>,
    log_path: &Path,
    timeout: Duration,
) -> Result<Pid, EmbeddedError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(text) = fs::read_to_string(pgdata.join("postmaster.pid")) {
            let lines: Vec<&str> = text.lines().collect();
            // Line 8 is the postmaster's status: "starting", "stopping", "ready", "standby".
            if lines.get(7).map(|s| s.trim()) == Some("ready") {
                let socket = lines.get(4).map(|s| s.trim()).unwrap_or_default();
                let socket_file = Path::new(socket).join(format!(".s.PGSQL.{PORT}"));
                if let Some(pid) = lines.first().and_then(|l| l.trim().parse::<i32>().ok())
                    && socket_file.exists()
                {
                    return Ok(Pid::from_raw(pid));
                }
            }
        }
        if let Some(c) = child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            return Err(EmbeddedError::Failed {
                what: format!("PostgreSQL ({status})"),
                detail: format!("see {}:\n{}", log_path.display(), log_tail(log_path)),
            });
        }
        if Instant::now() >= deadline {
            return Err(EmbeddedError::Failed {
                what: "waiting for PostgreSQL to accept connections".into(),
                detail: format!(
                    "not ready after {}s; see {}:\n{}",
                    timeout.as_secs(),
                    log_path.display(),
                    log_tail(log_path)
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_get_a_short_socket_directory() {
        let short = socket_dir_for(Path::new("/srv/zinovia/postgres"));
        assert_eq!(short, Path::new("/srv/zinovia/run"));
        let deep = format!("/{}/postgres", "very-long-directory-name/".repeat(6));
        let dir = socket_dir_for(Path::new(&deep));
        assert!(dir.starts_with(std::env::temp_dir()), "{}", dir.display());
        assert!(dir.as_os_str().len() + 14 <= MAX_SOCKET_PATH);
        // Deterministic, so guests find the owner's socket.
        assert_eq!(dir, socket_dir_for(Path::new(&deep)));
    }

    #[test]
    fn missing_binaries_name_the_package_to_install() {
        let e = pick_binaries(
            vec![PathBuf::from("/nonexistent")],
            Path::new("/nonexistent/pg"),
        )
        .unwrap_err();
        assert!(matches!(e, EmbeddedError::BinariesNotFound));
        let msg = e.to_string();
        assert!(
            msg.contains("apt-get install postgresql") && msg.contains("DATABASE_URL"),
            "{msg}"
        );
    }

    #[test]
    fn a_cluster_of_another_major_version_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("PG_VERSION"), "9\n").unwrap();
        match pick_binaries(candidate_dirs(), dir.path()) {
            Err(EmbeddedError::VersionMismatch { data_version, .. }) => {
                assert_eq!(data_version, "9")
            }
            other => panic!("expected a version mismatch, got {other:?}"),
        }
        // With the matching version present, its binaries are chosen.
        let any = pick_binaries(candidate_dirs(), Path::new("/nonexistent")).unwrap();
        fs::write(dir.path().join("PG_VERSION"), format!("{}\n", any.major)).unwrap();
        assert_eq!(
            pick_binaries(candidate_dirs(), dir.path()).unwrap().major,
            any.major
        );
    }
}
