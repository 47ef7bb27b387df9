//! Media's background jobs: deleting an asset's objects and row, and handing abandoned
//! uploads to deletion. (Processing uploads is the media worker's `process_media`.)

use serde::{Deserialize, Serialize};

use super::service;
use super::types::MediaId;
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
