-- Videos transcoded for every player (ADR 0026): an HLS ladder with AES-128 encrypted
-- segments under a key per asset, a storyboard, and the progress of the transcode.

alter table media_assets
    -- 0–100 while a video is transcoded; null otherwise.
    add column progress smallint,
    -- The AES-128 key of the asset's HLS segments (made once, kept across retries). Handed
    -- out only through the entitlement rule.
    add column hls_key bytea,
    -- What was made: the renditions (name, size, bandwidths, codecs) and the storyboard's
    -- geometry. Set with `ready`; the files are under `media/<id>/hls/`.
    add column hls jsonb,
    add constraint media_assets_progress_check check (progress between 0 and 100),
    add constraint media_assets_hls_key_check check (octet_length(hls_key) = 16);
