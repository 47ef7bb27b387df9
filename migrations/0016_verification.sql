-- Creator verification (ADR 0031, docs/TRUST-AND-SAFETY.md): a legal name, a date of birth
-- (18+), an ID document and a selfie in private storage, reviewed by moderators. Until an
-- attempt is approved, a creator cannot publish paid posts, send paid messages, be sold to
-- or be paid.

-- One row per attempt. The legal name and date of birth are sealed with the data key (bound
-- to the user id). `provider` names who checks (`manual`: our reviewers). The documents sit
-- at `private/verification/<id>/{id_document,selfie}` until `documents_deleted_at`.
-- status: `started` (details or documents missing), `checking` (the worker scans and probes
-- the files), `submitted` (waiting for a reviewer), `more_needed` (the reviewer asked for
-- more), `approved`, `rejected`.
create table verifications (
    id uuid not null,
    user_id uuid not null,
    provider text not null default 'manual',
    legal_name_sealed bytea,
    date_of_birth_sealed bytea,
    id_document_type text,
    selfie_type text,
    status text not null default 'started',
    -- Why the files were refused by the check, or what the reviewer asked for / decided.
    problem text not null default '',
    submitted_at timestamptz,
    decided_at timestamptz,
    decided_by uuid,
    documents_deleted_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint verifications_pkey primary key (id),
    constraint verifications_user_id_fkey foreign key (user_id) references users (id),
    constraint verifications_decided_by_fkey foreign key (decided_by) references users (id),
    constraint verifications_status_check
        check (status in ('started', 'checking', 'submitted', 'more_needed', 'approved', 'rejected')),
    constraint verifications_problem_check check (length(problem) <= 2000)
);
-- One attempt in progress per person; an approved one ends the need.
create unique index verifications_live_key on verifications (user_id)
    where status in ('started', 'checking', 'submitted', 'more_needed');
create unique index verifications_approved_key on verifications (user_id) where status = 'approved';
create index verifications_queue_idx on verifications (submitted_at, id) where status = 'submitted';
create index verifications_retention_idx on verifications (decided_at)
    where documents_deleted_at is null and status in ('approved', 'rejected');
