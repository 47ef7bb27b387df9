//! Zinovia: a self-hostable creator-subscription platform. One crate holds the HTTP API, the
//! web pages, the worker and the CLI, organised by feature; see `docs/ARCHITECTURE.md`.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod assets;
pub mod audit;
pub mod billing;
pub mod cli;
pub mod config;
pub mod creators;
pub mod crypto;
pub mod database;
pub mod error;
pub mod http;
pub mod id;
pub mod jobs;
pub mod mail;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod moderation;
pub mod money;
pub mod posts;
pub mod ratelimit;
pub mod scan;
pub mod site;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod verification;
