//! The command line: `zinovia up | serve | worker | migrate | config | jobs | openapi`.
//! Each subcommand reads only the settings groups it uses, so `--help` lists exactly those.

use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app;
use crate::config::{
    CoreSettings, DatabaseSettings, HttpSettings, HumanDuration, JobSettings, LifecycleSettings,
    ReadGroups, Role, Settings,
};
use crate::database::{Database, Embedded};
use crate::http::ServeRole;
use crate::jobs::admin::{self, RetryOutcome};

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
    /// Run background jobs (production's worker service).
    Worker(WorkerArgs),
    /// Apply pending database migrations (production's one-off migration task). Idempotent.
    Migrate(MigrateArgs),
    /// Print the effective settings (secrets redacted) and every problem found; exits
    /// non-zero when there is a problem.
    Config(ConfigArgs),
    /// Inspect and retry background jobs.
    Jobs(JobsArgs),
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
    http: HttpSettings,
    #[command(flatten)]
    jobs: JobSettings,
    #[command(flatten)]
    lifecycle: LifecycleSettings,
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
    http: HttpSettings,
    #[command(flatten)]
    lifecycle: LifecycleSettings,
}

#[derive(Debug, Args)]
struct WorkerArgs {
    #[command(flatten)]
    core: CoreSettings,
    #[command(flatten)]
    database: DatabaseSettings,
    #[command(flatten)]
    jobs: JobSettings,
    #[command(flatten)]
    lifecycle: LifecycleSettings,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    #[command(flatten)]
    core: CoreSettings,
    #[command(flatten)]
    database: DatabaseSettings,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Check the settings for this command's role.
    #[arg(long = "for", value_enum, default_value = "up")]
    role: Role,
    #[command(flatten)]
    core: CoreSettings,
    #[command(flatten)]
    database: DatabaseSettings,
    #[command(flatten)]
    http: HttpSettings,
    #[command(flatten)]
    jobs: JobSettings,
    #[command(flatten)]
    lifecycle: LifecycleSettings,
}

#[derive(Debug, Args)]
struct JobsArgs {
    #[command(subcommand)]
    action: JobsAction,
    #[command(flatten)]
    core: CoreSettings,
    #[command(flatten)]
    database: DatabaseSettings,
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

fn run(command: Command, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up(a) => {
            let settings = Settings::assemble(
                matches,
                a.core,
                ReadGroups {
                    database: Some(a.database),
                    http: Some(a.http),
                    jobs: Some(a.jobs),
                    lifecycle: Some(a.lifecycle),
                },
            );
            crate::telemetry::init(&settings.core);
            runtime()?.block_on(app::up(settings))?;
        }
        Command::Serve(a) => {
            let settings = Settings::assemble(
                matches,
                a.core,
                ReadGroups {
                    database: Some(a.database),
                    http: Some(a.http),
                    lifecycle: Some(a.lifecycle),
                    ..ReadGroups::default()
                },
            );
            crate::telemetry::init(&settings.core);
            runtime()?.block_on(app::serve(settings, a.role))?;
        }
        Command::Worker(a) => {
            let settings = Settings::assemble(
                matches,
                a.core,
                ReadGroups {
                    database: Some(a.database),
                    jobs: Some(a.jobs),
                    lifecycle: Some(a.lifecycle),
                    ..ReadGroups::default()
                },
            );
            crate::telemetry::init(&settings.core);
            runtime()?.block_on(app::worker(settings))?;
        }
        Command::Migrate(a) => {
            let settings = Settings::assemble(
                matches,
                a.core,
                ReadGroups {
                    database: Some(a.database),
                    ..ReadGroups::default()
                },
            );
            crate::telemetry::init(&settings.core);
            runtime()?.block_on(app::migrate(settings))?;
        }
        Command::Config(a) => {
            let settings = Settings::assemble(
                matches,
                a.core,
                ReadGroups {
                    database: Some(a.database),
                    http: Some(a.http),
                    jobs: Some(a.jobs),
                    lifecycle: Some(a.lifecycle),
                },
            );
            return Ok(print_config(&settings, a.role));
        }
        Command::Jobs(a) => {
            let settings = Settings::assemble(
                matches,
                a.core,
                ReadGroups {
                    database: Some(a.database),
                    ..ReadGroups::default()
                },
            );
            crate::telemetry::init(&settings.core);
            return runtime()?.block_on(jobs(settings, a.action));
        }
        Command::Openapi => {
            let doc = crate::http::openapi_document()
                .to_pretty_json()
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

async fn jobs(settings: Settings, action: JobsAction) -> anyhow::Result<ExitCode> {
    app::check_settings(&settings, Role::Migrate)?;
    let db = Database::open(&settings, Embedded::Join).await?;
    let result = async {
        match action {
            JobsAction::List { state, limit } => {
                print!(
                    "{}",
                    admin::list(&db.pool, state.as_deref(), limit.clamp(1, 1000)).await?
                );
                Ok(ExitCode::SUCCESS)
            }
            JobsAction::Failed { limit } => {
                print!("{}", admin::failed(&db.pool, limit.clamp(1, 1000)).await?);
                Ok(ExitCode::SUCCESS)
            }
            JobsAction::Retry { id } => match admin::retry(&db.pool, id).await? {
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
                let id = crate::jobs::enqueue(&db.pool, &crate::jobs::Canary { hold_ms })
                    .await?
                    .context("the canary was not enqueued")?;
                println!("enqueued canary job {id}");
                if wait.0.is_zero() {
                    return Ok(ExitCode::SUCCESS);
                }
                let started = std::time::Instant::now();
                loop {
                    let state = admin::get(&db.pool, id.0).await?.map(|r| r.state);
                    match state.as_deref() {
                        Some("succeeded") => {
                            println!("canary job {id} finished after {:.1}s", started.elapsed().as_secs_f64());
                            return Ok(ExitCode::SUCCESS);
                        }
                        Some("failed") => {
                            eprintln!("canary job {id} failed; see `zinovia jobs failed`");
                            return Ok(ExitCode::FAILURE);
                        }
                        _ if started.elapsed() >= wait.0 => {
                            eprintln!("no worker finished canary job {id} within {wait}; is a worker running?");
                            return Ok(ExitCode::FAILURE);
                        }
                        _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                    }
                }
            }
        }
    }
    .await;
    db.close().await;
    result
}
