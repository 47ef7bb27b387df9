-- The background job queue (see docs/adr/0002-jobs-in-postgresql.md).
--
-- A job is enqueued in the same transaction as the write that needs it. Workers claim due
-- jobs with `for update skip locked` and hold a lease (locked_by, locked_until) that they
-- renew by heartbeat; a lease that runs out is requeued by any worker. Finished jobs stay
-- visible: succeeded ones until pruned after JOB_RETENTION, failed ones (with last_error)
-- until an operator retries or deletes them.

create table jobs (
    id bigint generated always as identity,
    kind text not null,
    payload jsonb not null default '{}'::jsonb,
    state text not null default 'queued',
    priority smallint not null default 0,
    attempts integer not null default 0,
    max_attempts integer not null,
    run_at timestamptz not null default now(),
    dedup_key text,
    locked_by text,
    locked_until timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    constraint jobs_pkey primary key (id),
    constraint jobs_state_check
        check (state in ('queued', 'running', 'succeeded', 'failed')),
    constraint jobs_attempts_check check (max_attempts >= 1 and attempts >= 0),
    constraint jobs_lease_check check ((state = 'running') = (locked_until is not null)),
    constraint jobs_kind_check check (kind <> '' and length(kind) <= 100),
    constraint jobs_dedup_key_check check (length(dedup_key) <= 500)
);

-- Due jobs, in claim order.
create index jobs_due_idx on jobs (priority desc, run_at, id) where state = 'queued';
-- Expired leases.
create index jobs_lease_idx on jobs (locked_until) where state = 'running';
-- Pruning of finished jobs and the operator's list of failures.
create index jobs_finished_idx on jobs (state, finished_at) where state in ('succeeded', 'failed');
-- At most one queued job per (kind, dedup_key): enqueueing a duplicate is a no-op. A job
-- that already started does not block a new one, since it may have read older data.
create unique index jobs_dedup_key on jobs (kind, dedup_key)
    where state = 'queued' and dedup_key is not null;

select trigger_updated_at('jobs');

-- Wake idle workers when a job is enqueued. NOTIFY is delivered at commit, so a job enqueued
-- in a transaction that rolls back wakes nobody (and does not exist).
create function notify_jobs_enqueued() returns trigger
language plpgsql as $$
begin
    perform pg_notify('zinovia_jobs', '');
    return null;
end;
$$;

create trigger jobs_notify after insert on jobs
    for each statement execute function notify_jobs_enqueued();

-- Periodic jobs: one row per schedule. The worker that moves next_run_at forward enqueues
-- the run in the same transaction, so with many workers each slot runs once.
create table job_schedules (
    name text not null,
    next_run_at timestamptz not null,
    last_enqueued_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint job_schedules_pkey primary key (name)
);

select trigger_updated_at('job_schedules');
