-- Messaging (ADR 0024, 0025): conversations between a fan and a creator, paid messages
-- decided by the one entitlement rule, mass messages delivered by jobs, welcome messages,
-- blocks, reports, and the creator's vault tags.

-- Who may write to a creator: their subscribers (default) or anyone signed in. The welcome
-- message (existing `welcome_message` text) may carry media and a price.
alter table creators
    add column messages_from text not null default 'subscribers',
    add column welcome_media uuid[] not null default '{}',
    add column welcome_price_minor integer,
    add constraint creators_messages_from_check check (messages_from in ('subscribers', 'anyone')),
    add constraint creators_welcome_price_check check (welcome_price_minor is null or welcome_price_minor > 0),
    add constraint creators_welcome_media_check check (cardinality(welcome_media) <= 20);

-- One conversation per fan and creator. The counters and the last message are kept by the
-- writes that change them (in their transaction); `*_read_at`: up to when each side has read.
create table conversations (
    id uuid not null,
    creator_id uuid not null,
    fan_id uuid not null,
    last_message_at timestamptz,
    last_message_id uuid,
    creator_unread integer not null default 0,
    fan_unread integer not null default 0,
    creator_read_at timestamptz,
    fan_read_at timestamptz,
    created_at timestamptz not null default now(),
    constraint conversations_pkey primary key (id),
    constraint conversations_pair_key unique (creator_id, fan_id),
    constraint conversations_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade,
    constraint conversations_fan_id_fkey foreign key (fan_id) references users (id) on delete cascade,
    constraint conversations_not_self_check check (creator_id <> fan_id),
    constraint conversations_unread_check check (creator_unread >= 0 and fan_unread >= 0)
);

-- The inboxes: newest first, keyset on (last_message_at, id).
create index conversations_creator_inbox_idx on conversations (creator_id, last_message_at desc, id desc)
    where last_message_at is not null;
create index conversations_fan_inbox_idx on conversations (fan_id, last_message_at desc, id desc)
    where last_message_at is not null;

-- A mass message: one message to a segment of the creator's fans, delivered in chunks by
-- jobs (`cursor`: the last fan id delivered to; fans are taken in id order).
create table mass_messages (
    id uuid not null,
    creator_id uuid not null,
    body text not null default '',
    media uuid[] not null default '{}',
    price_minor integer,
    currency text,
    segment text not null,
    min_spend_minor bigint,
    post_id uuid,
    send_at timestamptz not null default now(),
    status text not null default 'scheduled',
    cursor uuid,
    sent_count integer not null default 0,
    unsent_at timestamptz,
    created_at timestamptz not null default now(),
    constraint mass_messages_pkey primary key (id),
    constraint mass_messages_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade,
    constraint mass_messages_post_id_fkey foreign key (post_id) references posts (id) on delete set null,
    constraint mass_messages_segment_check check (segment in ('active', 'expired', 'spenders', 'buyers')),
    constraint mass_messages_status_check check (status in ('scheduled', 'sending', 'sent', 'unsent')),
    constraint mass_messages_price_check check ((price_minor is null) = (currency is null) and (price_minor is null or price_minor > 0)),
    constraint mass_messages_media_check check (cardinality(media) <= 20),
    constraint mass_messages_body_check check (length(body) <= 2000)
);

create index mass_messages_creator_idx on mass_messages (creator_id, created_at desc);

-- A message. `price_minor`: a paid message (its media unlock by a checkout of kind
-- `message`). `tip_minor`: a tip the message came with. `unsent_at`: the sender took it
-- back (gone for the recipient unless they bought it).
create table messages (
    id uuid not null,
    conversation_id uuid not null,
    sender_id uuid not null,
    body text not null default '',
    price_minor integer,
    currency text,
    tip_minor integer,
    mass_message_id uuid,
    welcome boolean not null default false,
    unsent_at timestamptz,
    created_at timestamptz not null default now(),
    constraint messages_pkey primary key (id),
    constraint messages_conversation_id_fkey foreign key (conversation_id) references conversations (id) on delete cascade,
    constraint messages_sender_id_fkey foreign key (sender_id) references users (id) on delete cascade,
    constraint messages_mass_message_id_fkey foreign key (mass_message_id) references mass_messages (id) on delete set null,
    constraint messages_money_check check (
        (price_minor is null and tip_minor is null) = (currency is null)
        and (price_minor is null or tip_minor is null)),
    constraint messages_price_positive_check check (price_minor is null or price_minor > 0),
    constraint messages_tip_positive_check check (tip_minor is null or tip_minor > 0),
    constraint messages_body_check check (length(body) <= 2000),
    -- A mass message reaches a conversation once, however often its delivery is retried.
    constraint messages_mass_once_key unique (mass_message_id, conversation_id)
);

create index messages_thread_idx on messages (conversation_id, id desc);
-- The welcome message is sent once per fan and creator.
create unique index messages_welcome_once_idx on messages (conversation_id) where welcome;

create table message_media (
    message_id uuid not null,
    position smallint not null,
    asset_id uuid not null,
    constraint message_media_pkey primary key (message_id, position),
    constraint message_media_message_id_fkey foreign key (message_id) references messages (id) on delete cascade,
    constraint message_media_asset_id_fkey foreign key (asset_id) references media_assets (id) on delete cascade
);

create index message_media_asset_idx on message_media (asset_id);

-- Purchases of paid messages (written by billing, like post_purchases).
create table message_purchases (
    id uuid not null,
    fan_id uuid not null,
    message_id uuid not null,
    amount_minor integer not null,
    currency text not null,
    status text not null,
    provider text not null,
    payment_id text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint message_purchases_pkey primary key (id),
    constraint message_purchases_fan_message_key unique (fan_id, message_id),
    constraint message_purchases_provider_payment_key unique (provider, payment_id),
    constraint message_purchases_fan_id_fkey foreign key (fan_id) references users (id) on delete cascade,
    constraint message_purchases_message_id_fkey foreign key (message_id) references messages (id) on delete cascade,
    constraint message_purchases_status_check check (status in ('paid', 'refunded', 'disputed'))
);

create index message_purchases_message_idx on message_purchases (message_id) where status = 'paid';

select trigger_updated_at('message_purchases');

-- A creator's blocks: a blocked fan cannot write to them and gets no mass message.
create table message_blocks (
    creator_id uuid not null,
    fan_id uuid not null,
    created_at timestamptz not null default now(),
    constraint message_blocks_pkey primary key (creator_id, fan_id),
    constraint message_blocks_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade,
    constraint message_blocks_fan_id_fkey foreign key (fan_id) references users (id) on delete cascade
);

-- Reports of messages, kept for the moderation queue.
create table message_reports (
    id uuid not null,
    message_id uuid not null,
    reporter_id uuid not null,
    reason text not null,
    details text not null default '',
    created_at timestamptz not null default now(),
    constraint message_reports_pkey primary key (id),
    constraint message_reports_once_key unique (message_id, reporter_id),
    constraint message_reports_message_id_fkey foreign key (message_id) references messages (id) on delete cascade,
    constraint message_reports_reporter_id_fkey foreign key (reporter_id) references users (id) on delete cascade,
    constraint message_reports_reason_check check (reason in ('illegal', 'non_consensual', 'underage', 'copyright', 'spam', 'other')),
    constraint message_reports_details_check check (length(details) <= 2000)
);

-- The vault: a creator's tags on their media.
create table vault_tags (
    asset_id uuid not null,
    tag text not null,
    constraint vault_tags_pkey primary key (asset_id, tag),
    constraint vault_tags_asset_id_fkey foreign key (asset_id) references media_assets (id) on delete cascade,
    constraint vault_tags_tag_check check (tag ~ '^[a-z0-9_-]{1,30}$')
);

-- Emails about unread messages: whether a person wants them (on unless turned off) and
-- when the last one went out (one per quiet spell of unread messages).
create table message_email_prefs (
    user_id uuid not null,
    emails boolean not null default true,
    last_sent_at timestamptz,
    constraint message_email_prefs_pkey primary key (user_id),
    constraint message_email_prefs_user_id_fkey foreign key (user_id) references users (id) on delete cascade
);

-- Unread counts are summed per person (the nav's badge, the unread emails).
create index conversations_creator_unread_idx on conversations (creator_id) include (creator_unread, last_message_at)
    where creator_unread > 0;
create index conversations_fan_unread_idx on conversations (fan_id) include (fan_unread, last_message_at)
    where fan_unread > 0;

-- Unlocking a message is a checkout of kind `message`, recorded in the ledger as `message`.
alter table checkouts
    add column message_id uuid,
    add constraint checkouts_message_id_fkey foreign key (message_id) references messages (id) on delete set null,
    drop constraint checkouts_kind_check,
    add constraint checkouts_kind_check check (kind in ('subscription', 'ppv', 'tip', 'message'));

alter table ledger_entries
    drop constraint ledger_entries_kind_check,
    add constraint ledger_entries_kind_check
        check (kind in ('subscription', 'ppv', 'tip', 'message', 'refund', 'dispute', 'transfer', 'payout')),
    drop constraint ledger_entries_sign_check,
    add constraint ledger_entries_sign_check check (
        (kind in ('subscription', 'ppv', 'tip', 'message') and gross_minor >= 0)
        or (kind in ('refund', 'dispute') and gross_minor <= 0)
        or (kind in ('transfer', 'payout') and gross_minor < 0 and held));

-- Live delivery (ADR 0024): every new message, read receipt and unsend is announced on
-- this channel as '<recipient user id> <event> <conversation id>'; every server process
-- listens and pushes it to the recipient's open connections.
