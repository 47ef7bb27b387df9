-- Platform-held payouts (ADR 0023): money the platform holds for creators on rails that do
-- not pay them directly is paid by bank transfer in batches an operator runs.

-- `payout`: money paid out of what the platform holds to the creator's bank account
-- (negative, held, no fees), one row per rail the paid money was held on.
alter table ledger_entries
    drop constraint ledger_entries_kind_check,
    add constraint ledger_entries_kind_check
        check (kind in ('subscription', 'ppv', 'tip', 'refund', 'dispute', 'transfer', 'payout')),
    drop constraint ledger_entries_sign_check,
    add constraint ledger_entries_sign_check check (
        (kind in ('subscription', 'ppv', 'tip') and gross_minor >= 0)
        or (kind in ('refund', 'dispute') and gross_minor <= 0)
        or (kind in ('transfer', 'payout') and gross_minor < 0 and held)),
    drop constraint ledger_entries_transfer_fee_check,
    add constraint ledger_entries_transfer_fee_check
        check (kind not in ('transfer', 'payout') or (platform_fee_minor = 0 and processor_fee_minor is null));

-- Where a creator is paid: a SEPA bank account. The account number and BIC are sealed
-- (AES-256-GCM under DATA_ENCRYPTION_KEY, the creator's id as associated data); `masked`
-- is what pages show. `schedule`: when payouts are requested without the creator asking.
create table payout_methods (
    creator_id uuid not null,
    holder text not null,
    details bytea not null,
    masked text not null,
    schedule text not null default 'manual',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint payout_methods_pkey primary key (creator_id),
    constraint payout_methods_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade,
    constraint payout_methods_schedule_check check (schedule in ('manual', 'weekly', 'monthly')),
    constraint payout_methods_holder_check check (length(holder) between 1 and 70)
);

select trigger_updated_at('payout_methods');

-- Who a creator is for tax purposes. The tax id is sealed like payout details.
create table tax_profiles (
    creator_id uuid not null,
    legal_name text not null,
    country text not null,
    tax_id bytea not null,
    tax_id_masked text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint tax_profiles_pkey primary key (creator_id),
    constraint tax_profiles_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade,
    constraint tax_profiles_country_check check (country ~ '^[A-Z]{2}$'),
    constraint tax_profiles_legal_name_check check (length(legal_name) between 1 and 140)
);

select trigger_updated_at('tax_profiles');

-- A file of payouts an operator sends to the bank, in one currency; `paid` once the operator
-- marks it paid (then its payouts are in the ledger).
create table payout_batches (
    id uuid not null,
    currency text not null,
    status text not null default 'open',
    created_by uuid,
    created_at timestamptz not null default now(),
    paid_at timestamptz,
    constraint payout_batches_pkey primary key (id),
    constraint payout_batches_created_by_fkey foreign key (created_by) references users (id) on delete set null,
    constraint payout_batches_status_check check (status in ('open', 'paid')),
    constraint payout_batches_paid_check check ((status = 'paid') = (paid_at is not null))
);

-- A creator's request to be paid `amount_minor` of what is available. Requested by the
-- creator or by their schedule; taken into a batch with the payout method as it was then
-- (sealed again, so a later change of method does not change a file already made); paid
-- when its batch is. At most one request per creator and currency is not paid yet.
create table payout_requests (
    id uuid not null,
    creator_id uuid not null,
    currency text not null,
    amount_minor bigint not null,
    status text not null default 'requested',
    automatic boolean not null default false,
    batch_id uuid,
    holder text,
    details bytea,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint payout_requests_pkey primary key (id),
    constraint payout_requests_creator_id_fkey foreign key (creator_id) references creators (user_id),
    constraint payout_requests_batch_id_fkey foreign key (batch_id) references payout_batches (id),
    constraint payout_requests_amount_check check (amount_minor > 0),
    constraint payout_requests_status_check check (status in ('requested', 'batched', 'paid', 'canceled')),
    constraint payout_requests_batched_check
        check ((status in ('batched', 'paid')) = (batch_id is not null and details is not null and holder is not null))
);

create unique index payout_requests_open_key
    on payout_requests (creator_id, currency) where status in ('requested', 'batched');
create index payout_requests_batch_idx on payout_requests (batch_id);

select trigger_updated_at('payout_requests');

-- The local test clock of the simulated rail moves payout holds forward too: each move, so
-- that it ages what was recorded before it and not what comes after (never written where
-- the test clock does not exist).
create table payout_clock_moves (
    id bigint generated always as identity,
    moved_at timestamptz not null default now(),
    seconds bigint not null,
    constraint payout_clock_moves_pkey primary key (id),
    constraint payout_clock_moves_seconds_check check (seconds > 0)
);
