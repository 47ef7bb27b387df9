-- Media: uploaded files (assets) and the files the worker makes from them (variants).
--
-- An asset's bytes go straight from the browser to storage (uploads/<id>); the API never
-- sees them. States: awaiting_upload -> uploaded -> processing -> ready | rejected, and
-- deleting while its objects are removed.

create table media_assets (
    id uuid not null,
    owner_id uuid not null,
    kind text not null,
    -- What the asset is for: post media, or a profile's avatar or banner.
    purpose text not null default 'post',
    state text not null default 'awaiting_upload',
    -- Declared at upload time and signed into the upload URL; the worker checks the bytes.
    content_type text not null,
    byte_size bigint not null,
    -- The uploader's file name, sanitised; shown back to them only, never used as a key.
    original_filename text,
    object_key text not null,
    width integer,
    height integer,
    duration_ms integer,
    blurhash text,
    rejection_reason text,
    upload_expires_at timestamptz not null,
    uploaded_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint media_assets_pkey primary key (id),
    constraint media_assets_object_key_key unique (object_key),
    constraint media_assets_owner_id_fkey foreign key (owner_id) references users (id) on delete cascade,
    constraint media_assets_kind_check check (kind in ('image', 'video')),
    constraint media_assets_purpose_check check (purpose in ('post', 'avatar', 'banner')),
    constraint media_assets_state_check
        check (state in ('awaiting_upload', 'uploaded', 'processing', 'ready', 'rejected', 'deleting')),
    constraint media_assets_byte_size_check check (byte_size > 0),
    constraint media_assets_filename_check check (length(original_filename) <= 255)
);

create index media_assets_owner_idx on media_assets (owner_id, created_at desc);
-- Finding abandoned uploads.
create index media_assets_awaiting_idx on media_assets (created_at) where state = 'awaiting_upload';

select trigger_updated_at('media_assets');

create table media_variants (
    asset_id uuid not null,
    -- thumb, grid, full, poster ... (the pipeline's fixed names)
    variant text not null,
    object_key text not null,
    content_type text not null,
    width integer not null,
    height integer not null,
    byte_size bigint not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint media_variants_pkey primary key (asset_id, variant),
    constraint media_variants_object_key_key unique (object_key),
    constraint media_variants_asset_id_fkey foreign key (asset_id) references media_assets (id) on delete cascade
);

select trigger_updated_at('media_variants');
