-- Creators get paid (ADR 0020): where each payment's money went, and what the platform
-- holds for a creator until it is transferred to them.

-- `held`: the platform received this money (or gave it back) and owes it to the creator;
-- false when it went straight to the creator's own account at the rail (a destination
-- charge). Rows written before this migration are not held: nothing already recorded is
-- transferred again. `transfer`: money the platform moved from what it holds to the
-- creator's account at the rail (negative, held, no fees).
alter table ledger_entries
    add column held boolean not null default false,
    drop constraint ledger_entries_kind_check,
    add constraint ledger_entries_kind_check
        check (kind in ('subscription', 'ppv', 'tip', 'refund', 'dispute', 'transfer')),
    drop constraint ledger_entries_sign_check,
    add constraint ledger_entries_sign_check check (
        (kind in ('subscription', 'ppv', 'tip') and gross_minor >= 0)
        or (kind in ('refund', 'dispute') and gross_minor <= 0)
        or (kind = 'transfer' and gross_minor < 0 and held)),
    add constraint ledger_entries_transfer_fee_check
        check (kind <> 'transfer' or (platform_fee_minor = 0 and processor_fee_minor is null));
alter table ledger_entries alter column held drop default;

create index ledger_entries_held_idx on ledger_entries (creator_id, provider, currency) where held;

-- The creator's account at the rail a checkout's money is routed to (null: the platform
-- holds it), decided when the checkout starts.
alter table checkouts add column destination text;

-- The account a subscription's invoices pay (from the rail's subscription object).
alter table subscriptions add column destination text;

-- Transfers of what the platform holds to a creator's account at the rail: written before
-- the rail is called (its id is the idempotency key), `sent` once the rail answered with
-- its transfer, `recorded` once the rail's event put it in the ledger. At most one transfer
-- per creator, rail and currency is in flight.
create table creator_transfers (
    id uuid not null,
    creator_id uuid not null,
    provider text not null,
    currency text not null,
    amount_minor bigint not null,
    destination text not null,
    transfer_id text,
    status text not null default 'requested',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint creator_transfers_pkey primary key (id),
    constraint creator_transfers_creator_id_fkey foreign key (creator_id) references creators (user_id),
    constraint creator_transfers_provider_transfer_key unique (provider, transfer_id),
    constraint creator_transfers_amount_check check (amount_minor > 0),
    constraint creator_transfers_status_check check (status in ('requested', 'sent', 'recorded')),
    constraint creator_transfers_sent_check check ((status = 'requested') = (transfer_id is null))
);

create unique index creator_transfers_in_flight_key
    on creator_transfers (creator_id, provider, currency) where status <> 'recorded';

select trigger_updated_at('creator_transfers');
