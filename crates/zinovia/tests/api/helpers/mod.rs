//! The test harness: a fresh, migrated database per test, the app on port 0 with typed
//! request helpers, the `zinovia` binary for process-level tests, and deterministic job runs.
//!
//! Databases live on `DATABASE_URL`'s server when it is set; otherwise on a private,
//! throwaway PostgreSQL cluster that this process starts on first use (like `zinovia up`
//! does) and that a watchdog stops and deletes once the test process is gone, however it
//! ends. Each test database is cloned from a template migrated once per server and set of
//! migrations, so a fresh database costs one `CREATE DATABASE`.

mod app;
mod database;
mod fakes;
mod fixtures;
mod processes;

pub use app::*;
pub use database::*;
pub use fakes::*;
pub use fixtures::*;
pub use processes::*;
