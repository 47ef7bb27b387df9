-- Accounts: people, their sessions, and the single-use tokens emailed to them
-- (see docs/adr/0004-opaque-sessions.md and docs/ACCOUNTS.md).

create table users (
    id uuid not null,
    -- Kept as typed for display; unique without regard to case (users_email_key below).
    email text not null,
    email_verified_at timestamptz,
    password_hash text not null,
    display_name text not null,
    role text not null default 'fan',
    -- When the person confirmed being 18 or older (required to sign up).
    adult_confirmed_at timestamptz not null,
    -- Set when the account is deleted: personal data is scrubbed, the row stays as a
    -- tombstone that financial records can keep referring to.
    deleted_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint users_pkey primary key (id),
    constraint users_role_check check (role in ('fan', 'creator', 'admin')),
    constraint users_email_check check (length(email) between 3 and 320),
    constraint users_display_name_check check (length(display_name) between 1 and 100)
);

create unique index users_email_key on users (lower(email));

select trigger_updated_at('users');

create table sessions (
    id uuid not null,
    user_id uuid not null,
    -- SHA-256 of the token; the token itself is never stored.
    token_hash bytea not null,
    user_agent text,
    ip inet,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    -- Absolute end (SESSION_LIFETIME after log-in); the idle end is last_seen_at +
    -- SESSION_IDLE_TIMEOUT.
    expires_at timestamptz not null,
    constraint sessions_pkey primary key (id),
    constraint sessions_token_hash_key unique (token_hash),
    constraint sessions_user_id_fkey foreign key (user_id) references users (id) on delete cascade
);

create index sessions_user_id_idx on sessions (user_id, created_at desc);
create index sessions_expires_at_idx on sessions (expires_at);

select trigger_updated_at('sessions');

create table account_tokens (
    id uuid not null,
    user_id uuid not null,
    purpose text not null,
    -- SHA-256 of the token sent by email; the token itself is never stored.
    token_hash bytea not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint account_tokens_pkey primary key (id),
    constraint account_tokens_token_hash_key unique (token_hash),
    constraint account_tokens_purpose_check check (purpose in ('verify_email', 'reset_password')),
    constraint account_tokens_user_id_fkey foreign key (user_id) references users (id) on delete cascade
);

create index account_tokens_user_id_idx on account_tokens (user_id, purpose);
create index account_tokens_expires_at_idx on account_tokens (expires_at);

select trigger_updated_at('account_tokens');
