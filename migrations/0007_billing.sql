-- Payments: what fans paid and creators earned, from the payment provider's webhooks.
--
-- The provider (Stripe, or the simulated one) is the source of truth for money; these rows
-- are what its events said, kept so that entitlements (subscriptions, post_purchases,
-- read by the one rule in src/posts/entitlements.rs) follow at once, and a creator's
-- earnings are the sum of an append-only ledger.

-- Every webhook event, once: the key makes a redelivery a no-op.
create table billing_events (
    provider text not null,
    event_id text not null,
    event_type text not null,
    -- The event as received (verified before it was parsed).
    payload jsonb not null,
    received_at timestamptz not null default now(),
    processed_at timestamptz,
    constraint billing_events_pkey primary key (provider, event_id)
);

-- The provider's customer of each fan.
create table billing_customers (
    user_id uuid not null,
    provider text not null,
    customer_id text not null,
    created_at timestamptz not null default now(),
    constraint billing_customers_pkey primary key (user_id, provider),
    constraint billing_customers_provider_customer_key unique (provider, customer_id),
    constraint billing_customers_user_id_fkey foreign key (user_id) references users (id) on delete cascade
);

-- Where a creator's share is paid out (a Stripe Connect account).
create table payout_accounts (
    creator_id uuid not null,
    provider text not null,
    account_id text not null,
    charges_enabled boolean not null default false,
    payouts_enabled boolean not null default false,
    details_submitted boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint payout_accounts_pkey primary key (creator_id, provider),
    constraint payout_accounts_provider_account_key unique (provider, account_id),
    constraint payout_accounts_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade
);

select trigger_updated_at('payout_accounts');

-- The provider's recurring price for each (creator, amount): a changed price is a new row,
-- and subscribers keep the price they subscribed at.
create table creator_prices (
    creator_id uuid not null,
    provider text not null,
    amount_minor integer not null,
    currency text not null,
    product_id text not null,
    price_id text not null,
    created_at timestamptz not null default now(),
    constraint creator_prices_pkey primary key (creator_id, provider, amount_minor, currency),
    constraint creator_prices_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade
);

-- A checkout we started: what it is for, so its completion can be matched to it.
create table checkouts (
    id uuid not null,
    provider text not null,
    -- The provider's session id (set once the session exists).
    session_id text,
    fan_id uuid not null,
    kind text not null,
    creator_id uuid not null,
    post_id uuid,
    amount_minor integer not null,
    currency text not null,
    message text,
    -- open, completed (paid), failed, expired.
    status text not null default 'open',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint checkouts_pkey primary key (id),
    constraint checkouts_provider_session_key unique (provider, session_id),
    constraint checkouts_fan_id_fkey foreign key (fan_id) references users (id) on delete cascade,
    constraint checkouts_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade,
    constraint checkouts_post_id_fkey foreign key (post_id) references posts (id) on delete set null,
    constraint checkouts_kind_check check (kind in ('subscription', 'ppv', 'tip')),
    constraint checkouts_status_check check (status in ('open', 'completed', 'failed', 'expired')),
    constraint checkouts_amount_check check (amount_minor > 0)
);

create index checkouts_fan_idx on checkouts (fan_id, created_at desc);

select trigger_updated_at('checkouts');

-- Subscriptions as the provider reports them. `state_at` is the provider's time of the
-- state held here: an event older than it changes nothing (events arrive in any order).
-- `revoked_at`: access withdrawn by us (a disputed or refunded payment), whatever the
-- provider's status says.
alter table subscriptions
    add column provider text,
    add column provider_subscription_id text,
    add column state_at timestamptz,
    add column price_minor integer,
    add column currency text,
    add column revoked_at timestamptz,
    add constraint subscriptions_provider_subscription_key unique (provider, provider_subscription_id),
    drop constraint subscriptions_status_check,
    add constraint subscriptions_status_check
        check (status in ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due',
                          'canceled', 'unpaid', 'paused'));

-- The payment behind a purchase (refunds and disputes find it by this).
alter table post_purchases
    add column provider text,
    add column payment_id text,
    add constraint post_purchases_provider_payment_key unique (provider, payment_id);

create table tips (
    id uuid not null,
    fan_id uuid not null,
    creator_id uuid not null,
    amount_minor integer not null,
    currency text not null,
    message text,
    provider text not null,
    payment_id text not null,
    -- paid, refunded or disputed.
    status text not null default 'paid',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint tips_pkey primary key (id),
    constraint tips_provider_payment_key unique (provider, payment_id),
    constraint tips_fan_id_fkey foreign key (fan_id) references users (id) on delete cascade,
    constraint tips_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade,
    constraint tips_status_check check (status in ('paid', 'refunded', 'disputed'))
);

create index tips_creator_idx on tips (creator_id, created_at desc);

select trigger_updated_at('tips');

-- What each creator earned and lost, one row per money movement, never changed: a
-- creator's balance is the sum of `net_minor`. Refunds and disputes are negative rows.
create table ledger_entries (
    id bigint generated always as identity,
    creator_id uuid not null,
    -- subscription, ppv, tip (money in); refund, dispute (money back out).
    kind text not null,
    provider text not null,
    -- The provider's object this row records (invoice, payment, refund, dispute): with
    -- `kind`, unique, so a redelivered event cannot record it twice.
    source_id text not null,
    -- The payment (charge or payment intent) it belongs to, for refunds and disputes.
    payment_id text,
    fan_id uuid,
    post_id uuid,
    subscription_id uuid,
    currency text not null,
    gross_minor bigint not null,
    platform_fee_minor bigint not null,
    -- The processor's fee when the provider reports it.
    processor_fee_minor bigint,
    net_minor bigint not null,
    occurred_at timestamptz not null,
    recorded_at timestamptz not null default now(),
    constraint ledger_entries_pkey primary key (id),
    constraint ledger_entries_source_key unique (provider, kind, source_id),
    constraint ledger_entries_creator_id_fkey foreign key (creator_id) references creators (user_id),
    constraint ledger_entries_kind_check check (kind in ('subscription', 'ppv', 'tip', 'refund', 'dispute')),
    constraint ledger_entries_sign_check check (
        (kind in ('subscription', 'ppv', 'tip') and gross_minor >= 0)
        or (kind in ('refund', 'dispute') and gross_minor <= 0)),
    constraint ledger_entries_net_check
        check (net_minor = gross_minor - platform_fee_minor - coalesce(processor_fee_minor, 0))
);

create index ledger_entries_creator_idx on ledger_entries (creator_id, occurred_at desc);
create index ledger_entries_payment_idx on ledger_entries (provider, payment_id);

create function ledger_entries_append_only() returns trigger
    language plpgsql as $$
begin
    raise exception 'ledger entries are append-only (% refused)', tg_op;
end;
$$;

create trigger ledger_entries_append_only
    before update or delete on ledger_entries
    for each row execute function ledger_entries_append_only();
