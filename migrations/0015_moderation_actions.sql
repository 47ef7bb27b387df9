-- Moderation actions (ADR 0030, docs/TRUST-AND-SAFETY.md): content removed under a legal
-- hold, accounts suspended or banned, each action recorded with its reason, reversible on
-- appeal.

-- A suspended or banned account cannot sign in; its profile, posts and checkouts behave as a
-- deleted account's until it is restored. `suspension` says which (a ban is lifted by an
-- administrator only).
alter table users add column suspended_at timestamptz;
alter table users add column suspension text;
alter table users add constraint users_suspension_check
    check ((suspended_at is null) = (suspension is null) and (suspension is null or suspension in ('suspended', 'banned')));

-- A post hidden because its creator was suspended (restored with the account), as opposed
-- to one the creator deleted or a moderator removed.
alter table posts add column hidden_by_suspension boolean not null default false;

-- Files under a legal hold are evidence: neither their owner nor an account deletion can
-- remove them while the hold is on.
alter table media_assets add column legal_hold boolean not null default false;

-- What moderators did: `remove` (a post, comment or message), `suspend` or `ban` (an
-- account). `restored_at`: reversed (on appeal or by a moderator), with who and why.
create table moderation_actions (
    id uuid not null,
    kind text not null,
    subject_type text not null,
    subject_id uuid not null,
    -- Whose it is (the notice goes to them).
    owner_id uuid not null,
    reason text not null,
    report_id uuid,
    actor_id uuid not null,
    created_at timestamptz not null default now(),
    restored_at timestamptz,
    restored_by uuid,
    restore_reason text,
    constraint moderation_actions_pkey primary key (id),
    constraint moderation_actions_owner_id_fkey foreign key (owner_id) references users (id),
    constraint moderation_actions_actor_id_fkey foreign key (actor_id) references users (id),
    constraint moderation_actions_restored_by_fkey foreign key (restored_by) references users (id),
    constraint moderation_actions_report_id_fkey foreign key (report_id) references reports (id),
    constraint moderation_actions_kind_check check (kind in ('remove', 'suspend', 'ban')),
    constraint moderation_actions_subject_type_check check (subject_type in ('post', 'comment', 'message', 'account')),
    constraint moderation_actions_reason_check check (length(reason) between 1 and 2000),
    constraint moderation_actions_restored_check check ((restored_at is null) = (restored_by is null))
);
create index moderation_actions_owner_idx on moderation_actions (owner_id, created_at desc);
create index moderation_actions_subject_idx on moderation_actions (subject_id);

-- An owner's appeal against an action: one open at a time per action.
create table appeals (
    id uuid not null,
    action_id uuid not null,
    user_id uuid not null,
    body text not null,
    status text not null default 'open',
    decided_at timestamptz,
    decided_by uuid,
    decision text,
    created_at timestamptz not null default now(),
    constraint appeals_pkey primary key (id),
    constraint appeals_action_id_fkey foreign key (action_id) references moderation_actions (id),
    constraint appeals_user_id_fkey foreign key (user_id) references users (id),
    constraint appeals_decided_by_fkey foreign key (decided_by) references users (id),
    constraint appeals_status_check check (status in ('open', 'granted', 'denied')),
    constraint appeals_body_check check (length(body) between 1 and 4000),
    constraint appeals_decided_check check ((status = 'open') = (decided_at is null))
);
create unique index appeals_open_once_key on appeals (action_id) where status = 'open';
create index appeals_queue_idx on appeals (created_at) where status = 'open';
