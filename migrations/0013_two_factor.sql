-- Two-factor sign-in (ADR 0028), the moderator role, new-device emails, and the audit log
-- widened for operators' actions (reason, details, address; docs/TRUST-AND-SAFETY.md).

alter table users drop constraint users_role_check;
alter table users add constraint users_role_check check (role in ('fan', 'creator', 'moderator', 'admin'));

-- When the session's sign-in passed a second factor (or the session enrolled one). Roles
-- that must use two factors reach their endpoints only through such a session.
alter table sessions add column second_factor_at timestamptz;

-- One authenticator app per account. The shared secret is sealed with the server's data
-- key (bound to the user id); `last_step` is the newest 30-second step a code was accepted
-- for, so each code works once. `confirmed_at` is null while enrolment awaits its first code.
create table user_totp (
    user_id uuid not null,
    secret_sealed bytea not null,
    last_step bigint not null default 0,
    confirmed_at timestamptz,
    created_at timestamptz not null default now(),
    constraint user_totp_pkey primary key (user_id),
    constraint user_totp_user_id_fkey foreign key (user_id) references users (id) on delete cascade
);

-- Single-use recovery codes (SHA-256 of each; ten made at a time, the old set replaced).
create table recovery_codes (
    user_id uuid not null,
    code_hash bytea not null,
    used_at timestamptz,
    created_at timestamptz not null default now(),
    constraint recovery_codes_pkey primary key (user_id, code_hash),
    constraint recovery_codes_user_id_fkey foreign key (user_id) references users (id) on delete cascade
);

-- A password accepted for an account with two factors: no session yet, only this
-- short-lived challenge, which the second factor turns into a session. A challenge reaches
-- nothing else, and dies after a few wrong codes.
create table login_challenges (
    token_hash bytea not null,
    user_id uuid not null,
    attempts integer not null default 0,
    user_agent text,
    ip inet,
    device_hash bytea,
    expires_at timestamptz not null,
    created_at timestamptz not null default now(),
    constraint login_challenges_pkey primary key (token_hash),
    constraint login_challenges_user_id_fkey foreign key (user_id) references users (id) on delete cascade
);

create index login_challenges_expires_at_idx on login_challenges (expires_at);

-- Devices an account has signed in from (a hash of the browser's device cookie, or of the
-- user agent for API clients): a sign-in from one not seen before is emailed to the owner.
create table user_devices (
    user_id uuid not null,
    device_hash bytea not null,
    first_seen_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    constraint user_devices_pkey primary key (user_id, device_hash),
    constraint user_devices_user_id_fkey foreign key (user_id) references users (id) on delete cascade
);

-- The audit log (0006 made it for admins' views of paid posts) now records what operators
-- and the security-relevant account changes did, with why and from where. Append-only: the
-- application never updates or deletes a row. A system action has no actor.
alter table audit_log
    alter column actor_id drop not null,
    alter column subject_id drop not null,
    add column reason text not null default '',
    add column details jsonb not null default '{}',
    add column ip inet,
    add constraint audit_log_action_check check (length(action) between 1 and 80),
    add constraint audit_log_reason_check check (length(reason) <= 2000);

create index audit_log_created_at_idx on audit_log (id desc);
create index audit_log_subject_idx on audit_log (subject_id, id desc);
create index audit_log_action_idx on audit_log (action, id desc);
