//! Zinovia's integration tests: one binary, a fresh database per test, the app on port 0.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod helpers;

mod accounts;
mod billing;
mod ccbill;
mod embedded;
mod harness;
mod held;
mod http;
mod jobs;
mod lifecycle;
mod media;
mod messages;
mod moderation;
mod moderation_actions;
mod pages;
mod payouts;
mod posts;
mod process;
mod processing;
mod rails;
mod security;
mod snapshots;
mod two_factor;
mod verification;
