//! Media: upload intents straight to storage, completion, status, signed delivery behind
//! one entitlement check, deletion and cleanup of abandoned uploads. Processing the bytes
//! is the worker's (`process_media`, in `process`); videos stream as protected HLS
//! (`hls`).

mod api;
mod db;
mod hls;
mod jobs;
mod process;
mod service;
mod types;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use api::UploadInstructions;
pub use jobs::{AbandonStaleUploads, DeleteMedia, DeleteMediaFiles, ProcessMedia, ProcessVideo};
pub use process::Processing;
pub use service::{
    Access, Usage, access, bytes_text, close_account, discard, find, ready_variants,
    set_legal_hold, usage,
};
pub use types::{Asset, Kind, MediaId, Purpose, State, Variant};

/// The JSON API (`/api/v1/media/...`).
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router().merge(hls::router())
}

/// Adds the jobs of media (processing, deletion, cleanup of abandoned files) to `registry`.
pub fn jobs(registry: crate::jobs::Registry) -> crate::jobs::Registry {
    registry
        .with::<DeleteMedia>()
        .with::<AbandonStaleUploads>()
        .with::<ProcessMedia>()
        .with::<ProcessVideo>()
        .with::<DeleteMediaFiles>()
        .every(
            crate::jobs::HOURLY,
            "abandon_stale_uploads",
            &AbandonStaleUploads,
        )
}
