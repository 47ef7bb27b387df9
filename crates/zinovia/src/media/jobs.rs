//! Media's background jobs: processing an upload (the pipeline itself is `process.rs`),
//! deleting an asset's objects and row or only its files, and handing abandoned uploads
//! and unused profile images to deletion.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::types::MediaId;
use super::{process, service};
use crate::jobs::{Job, JobContext, JobError};

/// Deletes an asset's objects from storage, then its row. Safe to run twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteMedia {
    /// The asset.
    pub asset_id: MediaId,
}

impl Job for DeleteMedia {
    const KIND: &'static str = "delete_media";
    const MAX_ATTEMPTS: i32 = 10;

    fn dedup_key(&self) -> Option<String> {
        Some(self.asset_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        service::purge(&ctx.state, self.asset_id)
            .await
            .map_err(JobError::Retry)?;
        tracing::info!(media_id = %self.asset_id, "media deleted");
        Ok(())
    }
}

/// Finds uploads never completed within `UPLOAD_ABANDON_AFTER` and deletes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AbandonStaleUploads;

impl Job for AbandonStaleUploads {
    const KIND: &'static str = "abandon_stale_uploads";
    const MAX_ATTEMPTS: i32 = 3;

    fn dedup_key(&self) -> Option<String> {
        Some("abandon".into())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let n = service::abandon_stale_uploads(&ctx.state).await?;
        if n > 0 {
            tracing::info!(uploads = n, "abandoned uploads handed to deletion");
        }
        Ok(())
    }
}

/// Processes one upload. Enqueued by upload completion (deduplicated per asset); safe to
/// run again at any point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessMedia {
    /// The asset.
    pub asset_id: MediaId,
}

impl Job for ProcessMedia {
    const KIND: &'static str = "process_media";
    const MAX_ATTEMPTS: i32 = 5;
    const PRIORITY: i16 = 5;
    const TIMEOUT: Duration = Duration::from_secs(45 * 60);

    fn dedup_key(&self) -> Option<String> {
        Some(self.asset_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        process_job(&ctx, self.asset_id).await
    }
}

/// Processes one uploaded video: the same work as [`ProcessMedia`], queued behind photos
/// (a transcode takes minutes; a photo, a fraction of a second) and given hours, not
/// minutes (ffmpeg's own timeout is proportional to the video's length).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessVideo {
    /// The asset.
    pub asset_id: MediaId,
}

impl Job for ProcessVideo {
    const KIND: &'static str = "process_video";
    const MAX_ATTEMPTS: i32 = 5;
    const PRIORITY: i16 = 3;
    const TIMEOUT: Duration = Duration::from_secs(8 * 3600);

    fn dedup_key(&self) -> Option<String> {
        Some(self.asset_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        process_job(&ctx, self.asset_id).await
    }
}

/// What both processing jobs run: the pipeline, knowing whether this is the last attempt.
async fn process_job(ctx: &JobContext, asset_id: MediaId) -> Result<(), JobError> {
    let last_attempt = ctx.attempt >= ctx.max_attempts;
    process::process(&ctx.state, asset_id, last_attempt).await
}

/// Deletes the files of a rejected asset (its upload and anything made from it), keeping
/// the row so the uploader can see why. Safe to run twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteMediaFiles {
    /// The asset.
    pub asset_id: MediaId,
}

impl Job for DeleteMediaFiles {
    const KIND: &'static str = "delete_media_files";
    const MAX_ATTEMPTS: i32 = 10;

    fn dedup_key(&self) -> Option<String> {
        Some(self.asset_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        ctx.state
            .storage()
            .map_err(|e| JobError::Retry(e.into()))?
            .delete_asset(self.asset_id.0)
            .await
            .map_err(JobError::retry)?;
        Ok(())
    }
}
