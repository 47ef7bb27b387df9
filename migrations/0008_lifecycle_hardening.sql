-- Hardening the edges around the paywall (see docs/ACCOUNTS.md and ADR 0017).

-- Subscriptions are the rail's subscriptions, one row each, kept as history: a fan who
-- subscribes again after an old subscription ended gets a new row, and an event about the
-- old one never touches the new one. Rows are keyed by (provider, provider_subscription_id)
-- (subscriptions_provider_subscription_key, from 0007); (fan, creator) is only an index.
alter table subscriptions drop constraint subscriptions_fan_creator_key;
create index subscriptions_fan_creator_idx on subscriptions (fan_id, creator_id, created_at desc);
alter table subscriptions
    -- When we asked the rail to cancel it at once (an account in it was closed).
    add column cancel_requested_at timestamptz,
    add constraint subscriptions_provider_check
        check ((provider is null) = (provider_subscription_id is null));

-- THE definition of "this subscription grants access at `at`", used by the entitlement rule
-- (posts/entitlements.rs loads the creators whose subscription passes it) and by every
-- count of subscribers (profiles, explore's ranking, the dashboard): active or trialing,
-- or past due for less than `grace`; its period not over; not revoked by us (a refunded or
-- disputed payment, or an account closed).
create function subscription_grants(
    status text,
    current_period_end timestamptz,
    past_due_since timestamptz,
    revoked_at timestamptz,
    grace interval,
    at timestamptz
) returns boolean
language sql immutable parallel safe
return revoked_at is null
    and current_period_end > at
    and (status in ('active', 'trialing')
         or (status = 'past_due' and past_due_since is not null and at < past_due_since + grace));

-- How many fans hold a subscription to `creator` that grants access at `at` (profiles,
-- explore's "popular" ranking, the dashboard): the same definition, counted once per fan.
create function creator_subscribers(creator uuid, grace interval, at timestamptz)
returns bigint
language sql stable parallel safe
return (select count(distinct s.fan_id) from subscriptions s
        where s.creator_id = creator
          and subscription_grants(s.status, s.current_period_end, s.past_due_since, s.revoked_at,
                                  grace, at));

-- Checkouts: the trial this checkout grants (0 for a fan who subscribed to the creator
-- before: a trial is given once per fan and creator), and two more ends: `canceled` (closed
-- by us: an account in it was deleted) and `refused` (the rail reported an amount or
-- currency other than the checkout's; nothing granted, logged for an operator).
alter table checkouts
    add column trial_days integer not null default 0,
    add column closed_reason text,
    add constraint checkouts_trial_days_check check (trial_days between 0 and 90),
    drop constraint checkouts_status_check,
    add constraint checkouts_status_check
        check (status in ('open', 'completed', 'failed', 'expired', 'canceled', 'refused'));

create index checkouts_creator_open_idx on checkouts (creator_id) where status = 'open';
create index checkouts_fan_open_idx on checkouts (fan_id) where status = 'open';

-- Storage quota: what an account keeps in storage is summed per owner.
create index media_assets_owner_state_idx on media_assets (owner_id, state);
