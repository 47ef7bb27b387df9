-- Reports (docs/TRUST-AND-SAFETY.md): anyone may report a profile, post, comment or message;
-- each waits in the moderation queue with a due time (business days, REPORT_SLA_BUSINESS_DAYS)
-- until a moderator resolves it with a reason. Message reports (0011) move here.

create table reports (
    id uuid not null,
    reporter_id uuid,
    -- Where the acknowledgement and the outcome go (the account's address when signed in).
    reporter_email text not null,
    subject_type text not null,
    subject_id uuid not null,
    -- Whose content it is (for the queue and for the notice), when it has an owner.
    owner_id uuid,
    category text not null,
    details text not null default '',
    status text not null default 'open',
    due_at timestamptz not null,
    resolved_at timestamptz,
    resolved_by uuid,
    resolution text not null default '',
    created_at timestamptz not null default now(),
    constraint reports_pkey primary key (id),
    constraint reports_reporter_id_fkey foreign key (reporter_id) references users (id) on delete set null,
    constraint reports_resolved_by_fkey foreign key (resolved_by) references users (id),
    constraint reports_subject_type_check check (subject_type in ('profile', 'post', 'comment', 'message')),
    constraint reports_category_check check (category in ('illegal', 'non_consensual', 'underage', 'copyright', 'spam', 'other')),
    constraint reports_status_check check (status in ('open', 'dismissed', 'actioned')),
    constraint reports_details_check check (length(details) <= 2000),
    constraint reports_resolution_check check (length(resolution) <= 2000),
    constraint reports_resolved_check check ((status = 'open') = (resolved_at is null))
);

-- One open report per reporter and thing (reporting again updates it).
create unique index reports_open_once_key on reports (subject_type, subject_id, reporter_id)
    where status = 'open' and reporter_id is not null;
create index reports_queue_idx on reports (due_at, id) where status = 'open';
create index reports_subject_idx on reports (subject_id);

insert into reports (id, reporter_id, reporter_email, subject_type, subject_id, owner_id, category, details, due_at, created_at)
select r.id, r.reporter_id, u.email, 'message', r.message_id, m.sender_id, r.reason, r.details,
       r.created_at + interval '9 days', r.created_at
from message_reports r
join users u on u.id = r.reporter_id
join messages m on m.id = r.message_id;

drop table message_reports;
