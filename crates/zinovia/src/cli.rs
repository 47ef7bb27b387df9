//! The command line: `zinovia up | serve | worker | migrate | config | jobs | admin |
//! openapi`. Each subcommand reads only the settings groups it uses, so `--help` lists
//! exactly those.

use std::future::Future;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use crate::accounts::{self, Role as AccountRole};
use crate::app;
use crate::config::{
    AuthSettings, BillingSettings, ContentSettings, CoreSettings, DatabaseSettings, HttpSettings,
    HumanDuration, JobSettings, LifecycleSettings, MailSettings, MediaSettings, ReadGroups, Role,
    Settings, SiteSettings,
};
use crate::database::{Database, Embedded};
use crate::error::AppError;
use crate::http::ServeRole;
use crate::jobs::admin::{self, RetryOutcome};
use crate::state::AppState;

const ABOUT: &str = "Zinovia: a self-hostable creator-subscription platform.";
const LONG_ABOUT: &str = "Zinovia: a self-hostable creator-subscription platform.\n\n\
Creators publish photo and video posts; fans subscribe, buy pay-per-view posts and tip; media is \
paywalled end to end. One binary runs every role. Settings are environment variables (also accepted \
as the flags shown); each command's --help lists the settings it reads.\n\n\
Quick start: `zinovia up` runs everything on embedded defaults (a private PostgreSQL cluster under \
DATA_DIR) at http://127.0.0.1:8080/.";

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "zinovia", version, about = ABOUT, long_about = LONG_ABOUT, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything in one process on embedded defaults: migrations, web pages and API on
    /// one listener, and the job worker. Without DATABASE_URL it starts a private PostgreSQL
    /// cluster under DATA_DIR and stops it on Ctrl-C.
    Up(UpArgs),
    /// Serve web pages and/or the JSON API (production's web and api services). Does not
    /// apply migrations: /readyz reports not ready until `zinovia migrate` has run.
    Serve(ServeArgs),
    /// Run background jobs (production's worker service): emails, media processing, cleanup.
    Worker(WorkerArgs),
    /// Apply pending database migrations (production's one-off migration task). Idempotent.
    Migrate(DbArgs),
    /// Print the effective settings (secrets redacted) and every problem found; exits
    /// non-zero when there is a problem.
    Config(ConfigArgs),
    /// Inspect and retry background jobs.
    Jobs(JobsArgs),
    /// Operator tasks on accounts.
    Admin(AdminArgs),
    /// Print the OpenAPI 3.1 document of the JSON API.
    Openapi,
}

#[derive(Debug, Args)]
struct UpArgs {
    #[command(flatten)]
    core: CoreSettings,
    #[command(flatten)]
    database: DatabaseSettings,
    #[command(flatten)]
    site: SiteSettings,
    #[command(flatten)]
    http: HttpSettings,
    #[command(flatten)]
    auth: AuthSettings,
    #[command(flatten)]
    mail: MailSettings,
    #[command(flatten)]
    media: MediaSettings,
    #[command(flatten)]
    content: ContentSettings,
    #[command(flatten)]
    billing: BillingSettings,
    #[command(flatten)]
    jobs: JobSettings,
    #[command(flatten)]
    lifecycle: LifecycleSettings,
}

impl UpArgs {
    fn settings(self, m: &ArgMatches) -> Settings {
        let read = ReadGroups {
            database: Some(self.database),
            site: Some(self.site),
            http: Some(self.http),
            auth: Some(self.auth),
            mail: Some(self.mail),
            media: Some(self.media),
            content: Some(self.content),
            billing: Some(self.billing),
            jobs: Some(self.jobs),
            lifecycle: Some(self.lifecycle),
        };
        Settings::assemble(m, self.core, read)
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// What to serve: `web` pages, the `api`, or `all` on one listener.
    #[arg(long, value_enum, default_value = "all")]
    role: ServeRole,
    #[command(flatten)]
    core: CoreSettings,
    #[command(flatten)]
    database: DatabaseSettings,
    #[command(flatten)]
    site: SiteSettings,
    #[command(flatten)]
    http: HttpSettings,
    #[command(flatten)]
    auth: AuthSettings,
    #[command(flatten)]
    media: MediaSettings,
    #[command(flatten)]
    content: ContentSettings,
    #[command(flatten)]
    billing: BillingSettings,
    #[command(flatten)]
    lifecycle: LifecycleSettings,
}

impl ServeArgs {
    fn settings(self, m: &ArgMatches) -> (Settings, ServeRole) {
        let read = ReadGroups {
            database: Some(self.database),
            site: Some(self.site),
            http: Some(self.http),
            auth: Some(self.auth),
            media: Some(self.media),
            content: Some(self.content),
            billing: Some(self.billing),
            lifecycle: Some(self.lifecycle),
            ..ReadGroups::default()
        };
        (Settings::assemble(m, self.core, read), self.role)
    }
}

#[derive(Debug, Args)]
struct WorkerArgs {
    #[command(flatten)]
    core: CoreSettings,
    #[command(flatten)]
    database: DatabaseSettings,
    #[command(flatten)]
    site: SiteSettings,
    #[command(flatten)]
    mail: MailSettings,
    #[command(flatten)]
    media: MediaSettings,
    #[command(flatten)]
    billing: BillingSettings,
    #[command(flatten)]
    jobs: JobSettings,
    #[command(flatten)]
    lifecycle: LifecycleSettings,
}

impl WorkerArgs {
    fn settings(self, m: &ArgMatches) -> Settings {
        let read = ReadGroups {
            database: Some(self.database),
            site: Some(self.site),
            mail: Some(self.mail),
            media: Some(self.media),
            billing: Some(self.billing),
            jobs: Some(self.jobs),
            lifecycle: Some(self.lifecycle),
            ..ReadGroups::default()
        };
        Settings::assemble(m, self.core, read)
    }
}

/// The settings of commands that only need the database.
#[derive(Debug, Args)]
struct DbArgs {
    #[command(flatten)]
    core: CoreSettings,
    #[command(flatten)]
    database: DatabaseSettings,
}

impl DbArgs {
    fn settings(self, m: &ArgMatches) -> Settings {
        let read = ReadGroups {
            database: Some(self.database),
            ..ReadGroups::default()
        };
        Settings::assemble(m, self.core, read)
    }
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Check the settings for this command's role.
    #[arg(long = "for", value_enum, default_value = "up")]
    role: Role,
    #[command(flatten)]
    all: UpArgs,
}

#[derive(Debug, Args)]
struct JobsArgs {
    #[command(subcommand)]
    action: JobsAction,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Subcommand)]
enum JobsAction {
    /// Counts by kind and state, then the newest jobs.
    List {
        /// Only jobs in this state (queued, running, succeeded, failed).
        #[arg(long)]
        state: Option<String>,
        /// How many jobs to show.
        #[arg(long, default_value = "20")]
        limit: i64,
    },
    /// Failed jobs with their last error, newest first.
    Failed {
        /// How many jobs to show.
        #[arg(long, default_value = "50")]
        limit: i64,
    },
    /// Run a failed job again with fresh attempts (or a waiting job now).
    Retry {
        /// The job's id.
        id: i64,
    },
    /// Enqueue a canary job and wait for a worker to finish it: checks, after a deploy,
    /// that workers are processing jobs.
    Canary {
        /// How long the canary holds a worker slot.
        #[arg(long, default_value = "0s")]
        hold: HumanDuration,
        /// How long to wait for it to finish (0s: do not wait).
        #[arg(long, default_value = "60s")]
        wait: HumanDuration,
    },
}

#[derive(Debug, Args)]
struct AdminArgs {
    #[command(subcommand)]
    action: AdminAction,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Create an account (verified) with a role, e.g. the first administrator. The
    /// password is read from standard input when it is not a terminal; otherwise one is
    /// generated and printed once.
    CreateUser {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Role of the new account.
        #[arg(long, value_enum, default_value = "fan")]
        role: AccountRole,
        /// Public name (default: the part of the email before `@`).
        #[arg(long)]
        display_name: Option<String>,
    },
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let sub = matches
        .subcommand()
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    match run(cli.command, &sub) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "zinovia stopped with an error");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(command: Command, m: &ArgMatches) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up(a) => {
            let settings = a.settings(m);
            crate::telemetry::init(&settings.core);
            runtime()?.block_on(app::up(settings))?;
        }
        Command::Serve(a) => {
            let (settings, role) = a.settings(m);
            crate::telemetry::init(&settings.core);
            runtime()?.block_on(app::serve(settings, role))?;
        }
        Command::Worker(a) => {
            let settings = a.settings(m);
            crate::telemetry::init(&settings.core);
            runtime()?.block_on(app::worker(settings))?;
        }
        Command::Migrate(a) => {
            let settings = a.settings(m);
            crate::telemetry::init(&settings.core);
            runtime()?.block_on(app::migrate(settings))?;
        }
        Command::Config(a) => {
            let role = a.role;
            return Ok(print_config(&a.all.settings(m), role));
        }
        Command::Jobs(a) => {
            let settings = a.db.settings(m);
            crate::telemetry::init(&settings.core);
            return runtime()?.block_on(with_database(settings, |db| jobs(db, a.action)));
        }
        Command::Admin(a) => {
            let settings = a.db.settings(m);
            crate::telemetry::init(&settings.core);
            let action = a.action;
            return runtime()?.block_on(with_database(settings.clone(), move |db| {
                admin_command(db, settings, action)
            }));
        }
        Command::Openapi => {
            // The embedded defaults' limits; a server serves its own at /api/v1/openapi.json.
            let doc = app::openapi_json(&Settings::defaults())
                .context("serialising the OpenAPI document")?;
            println!("{doc}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_config(settings: &Settings, role: Role) -> ExitCode {
    let rows = settings.describe();
    let width = rows.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    for (name, value, source) in &rows {
        println!("{name:<width$}  {value}  ({source})");
    }
    let report = settings.validate(role);
    for w in &report.warnings {
        println!("warning: {w}");
    }
    if report.problems.is_empty() {
        println!(
            "no problems found (checked for `{}`)",
            format!("{role:?}").to_lowercase()
        );
        ExitCode::SUCCESS
    } else {
        for p in &report.problems {
            println!("problem: {p}");
        }
        ExitCode::from(2)
    }
}

/// Opens the database (joining the embedded cluster if another process runs it), runs
/// `f`, and closes it whatever happened.
async fn with_database<F, Fut>(settings: Settings, f: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    app::check_settings(&settings, Role::Migrate)?;
    let db = Database::open(&settings, Embedded::Join).await?;
    let result = f(db.pool.clone()).await;
    db.close().await;
    result
}

async fn jobs(pool: PgPool, action: JobsAction) -> anyhow::Result<ExitCode> {
    match action {
        JobsAction::List { state, limit } => {
            print!(
                "{}",
                admin::list(&pool, state.as_deref(), limit.clamp(1, 1000)).await?
            );
            Ok(ExitCode::SUCCESS)
        }
        JobsAction::Failed { limit } => {
            print!("{}", admin::failed(&pool, limit.clamp(1, 1000)).await?);
            Ok(ExitCode::SUCCESS)
        }
        JobsAction::Retry { id } => match admin::retry(&pool, id).await? {
            RetryOutcome::Requeued => {
                println!("job {id} is queued again");
                Ok(ExitCode::SUCCESS)
            }
            RetryOutcome::NotFound => {
                eprintln!("no job {id}");
                Ok(ExitCode::FAILURE)
            }
            RetryOutcome::NotRetryable(state) => {
                eprintln!("job {id} is {state}; only failed or waiting jobs can be retried");
                Ok(ExitCode::FAILURE)
            }
            RetryOutcome::Duplicate => {
                eprintln!("an identical job is already queued; job {id} was left failed");
                Ok(ExitCode::FAILURE)
            }
        },
        JobsAction::Canary { hold, wait } => {
            let hold_ms = u64::try_from(hold.0.as_millis()).unwrap_or(u64::MAX);
            let id = crate::jobs::enqueue(&pool, &crate::jobs::Canary { hold_ms })
                .await?
                .context("the canary was not enqueued")?;
            println!("enqueued canary job {id}");
            if wait.0.is_zero() {
                return Ok(ExitCode::SUCCESS);
            }
            let started = std::time::Instant::now();
            loop {
                let state = admin::get(&pool, id.0).await?.map(|r| r.state);
                match state.as_deref() {
                    Some("succeeded") => {
                        println!(
                            "canary job {id} finished after {:.1}s",
                            started.elapsed().as_secs_f64()
                        );
                        return Ok(ExitCode::SUCCESS);
                    }
                    Some("failed") => {
                        eprintln!("canary job {id} failed; see `zinovia jobs failed`");
                        return Ok(ExitCode::FAILURE);
                    }
                    _ if started.elapsed() >= wait.0 => {
                        eprintln!(
                            "no worker finished canary job {id} within {wait}; is a worker running?"
                        );
                        return Ok(ExitCode::FAILURE);
                    }
                    _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                }
            }
        }
    }
}

async fn admin_command(
    pool: PgPool,
    settings: Settings,
    action: AdminAction,
) -> anyhow::Result<ExitCode> {
    match action {
        AdminAction::CreateUser {
            email,
            role,
            display_name,
        } => {
            let stdin = std::io::stdin();
            let (password, generated) = if stdin.is_terminal() {
                (SecretString::from(crate::crypto::random_token()), true)
            } else {
                let mut line = String::new();
                stdin
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                let line = line.trim_end_matches(['\n', '\r']).to_owned();
                if line.is_empty() {
                    (SecretString::from(crate::crypto::random_token()), true)
                } else {
                    (SecretString::from(line), false)
                }
            };
            let name = display_name
                .unwrap_or_else(|| email.split('@').next().unwrap_or("admin").to_owned());
            let state = AppState::new(pool, settings);
            match accounts::create_user(&state, &email, &name, role, password.expose_secret()).await
            {
                Ok(user) => {
                    println!(
                        "created {} account {} for {}",
                        role.as_str(),
                        user.id,
                        user.email
                    );
                    if generated {
                        println!("password (shown once): {}", password.expose_secret());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(AppError::Validation(fields)) => {
                    for (field, messages) in fields {
                        for m in messages {
                            eprintln!("{field}: {m}");
                        }
                    }
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(anyhow::anyhow!("{e}")),
            }
        }
    }
}
