-- Media processing (the worker's `process_media` job).
--
-- A new state, `failed`: processing kept failing for reasons that are not the file's fault
-- (storage or scanner down past every retry). Unlike `rejected`, the upload is kept, and an
-- operator's `zinovia jobs retry` runs it again.

alter table media_assets drop constraint media_assets_state_check;
alter table media_assets add constraint media_assets_state_check
    check (state in ('awaiting_upload', 'uploaded', 'processing', 'ready', 'rejected', 'failed', 'deleting'));

-- When the worker last finished with the asset (ready, rejected or failed).
alter table media_assets add column processed_at timestamptz;
