-- Creators, posts and the rows the paywall decides from (subscriptions, purchases).
--
-- One entitlement rule (src/posts/entitlements.rs) reads these: a viewer may see a post's
-- media if they are its creator, the post is public, they hold a subscription that grants
-- access now, or they bought that pay-per-view post. The payments feature fills
-- subscriptions and purchases; this migration only creates them.

create table creators (
    user_id uuid not null,
    -- Lower case, 3-30 of [a-z0-9_]; unique (case folds before it is stored).
    handle text not null,
    display_name text not null,
    bio text not null default '',
    avatar_id uuid,
    banner_id uuid,
    -- Monthly price in minor units of `currency`.
    price_minor integer not null,
    currency text not null,
    trial_days integer not null default 0,
    welcome_message text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint creators_pkey primary key (user_id),
    constraint creators_handle_key unique (handle),
    constraint creators_user_id_fkey foreign key (user_id) references users (id) on delete cascade,
    constraint creators_avatar_id_fkey foreign key (avatar_id) references media_assets (id) on delete set null,
    constraint creators_banner_id_fkey foreign key (banner_id) references media_assets (id) on delete set null,
    constraint creators_handle_check check (handle ~ '^[a-z0-9_]{3,30}$'),
    constraint creators_price_check check (price_minor > 0),
    constraint creators_currency_check check (currency ~ '^[A-Z]{3}$'),
    constraint creators_trial_check check (trial_days between 0 and 90)
);

select trigger_updated_at('creators');

-- Handles a creator gave up: they redirect to the creator's current handle, and nobody else
-- may take them, until expires_at.
create table creator_handle_redirects (
    handle text not null,
    creator_id uuid not null,
    expires_at timestamptz not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint creator_handle_redirects_pkey primary key (handle),
    constraint creator_handle_redirects_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade
);

select trigger_updated_at('creator_handle_redirects');

create table posts (
    id uuid not null,
    creator_id uuid not null,
    -- Plain text; escaped (and links made clickable) when shown.
    body text not null default '',
    visibility text not null,
    -- Pay-per-view price (only for `ppv`).
    price_minor integer,
    currency text,
    -- Whether people who may not see the media still see the text.
    text_is_teaser boolean not null default false,
    -- When it appears (scheduled posts are invisible to others until then).
    published_at timestamptz not null default now(),
    expires_at timestamptz,
    pinned boolean not null default false,
    like_count integer not null default 0,
    comment_count integer not null default 0,
    deleted_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint posts_pkey primary key (id),
    constraint posts_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade,
    constraint posts_visibility_check check (visibility in ('public', 'subscribers', 'ppv')),
    constraint posts_price_check check ((visibility = 'ppv') = (price_minor is not null and price_minor > 0 and currency is not null)),
    constraint posts_expiry_check check (expires_at is null or expires_at > published_at)
);

-- A creator's page: pinned first, newest first (keyset on (pinned, published_at, id)).
create index posts_creator_idx on posts (creator_id, pinned desc, published_at desc, id desc)
    where deleted_at is null;
-- The feed (by creator, newest first, without the pinned order) and explore.
create index posts_creator_published_idx on posts (creator_id, published_at desc, id desc)
    where deleted_at is null;
create index posts_visibility_idx on posts (visibility, published_at desc, id desc)
    where deleted_at is null;

select trigger_updated_at('posts');

-- A post's media, in order.
create table post_media (
    post_id uuid not null,
    position smallint not null,
    asset_id uuid not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint post_media_pkey primary key (post_id, position),
    constraint post_media_asset_key unique (post_id, asset_id),
    constraint post_media_post_id_fkey foreign key (post_id) references posts (id) on delete cascade,
    constraint post_media_asset_id_fkey foreign key (asset_id) references media_assets (id) on delete cascade,
    constraint post_media_position_check check (position between 0 and 19)
);

create index post_media_asset_idx on post_media (asset_id);

select trigger_updated_at('post_media');

create table subscriptions (
    id uuid not null,
    fan_id uuid not null,
    creator_id uuid not null,
    -- The provider's words: incomplete, trialing, active, past_due, canceled, unpaid.
    status text not null,
    -- Access lasts until here (the paid period's end).
    current_period_end timestamptz not null,
    -- When it became past due (access continues for SUBSCRIPTION_GRACE from here).
    past_due_since timestamptz,
    cancel_at_period_end boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint subscriptions_pkey primary key (id),
    constraint subscriptions_fan_creator_key unique (fan_id, creator_id),
    constraint subscriptions_fan_id_fkey foreign key (fan_id) references users (id) on delete cascade,
    constraint subscriptions_creator_id_fkey foreign key (creator_id) references creators (user_id) on delete cascade,
    constraint subscriptions_status_check
        check (status in ('incomplete', 'trialing', 'active', 'past_due', 'canceled', 'unpaid'))
);

create index subscriptions_creator_idx on subscriptions (creator_id, status);

select trigger_updated_at('subscriptions');

create table post_purchases (
    id uuid not null,
    fan_id uuid not null,
    post_id uuid not null,
    amount_minor integer not null,
    currency text not null,
    -- paid (grants access), refunded or disputed (do not).
    status text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint post_purchases_pkey primary key (id),
    constraint post_purchases_fan_post_key unique (fan_id, post_id),
    constraint post_purchases_fan_id_fkey foreign key (fan_id) references users (id) on delete cascade,
    constraint post_purchases_post_id_fkey foreign key (post_id) references posts (id) on delete cascade,
    constraint post_purchases_status_check check (status in ('paid', 'refunded', 'disputed'))
);

create index post_purchases_post_idx on post_purchases (post_id);

select trigger_updated_at('post_purchases');

create table post_likes (
    post_id uuid not null,
    user_id uuid not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint post_likes_pkey primary key (post_id, user_id),
    constraint post_likes_post_id_fkey foreign key (post_id) references posts (id) on delete cascade,
    constraint post_likes_user_id_fkey foreign key (user_id) references users (id) on delete cascade
);

create index post_likes_user_idx on post_likes (user_id);

select trigger_updated_at('post_likes');

create table post_comments (
    id uuid not null,
    post_id uuid not null,
    author_id uuid not null,
    body text not null,
    deleted_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint post_comments_pkey primary key (id),
    constraint post_comments_post_id_fkey foreign key (post_id) references posts (id) on delete cascade,
    constraint post_comments_author_id_fkey foreign key (author_id) references users (id) on delete cascade,
    constraint post_comments_body_check check (length(body) between 1 and 2000)
);

create index post_comments_post_idx on post_comments (post_id, created_at, id) where deleted_at is null;

select trigger_updated_at('post_comments');

-- What admins looked at that they could not otherwise have seen.
create table audit_log (
    id uuid not null,
    actor_id uuid not null,
    action text not null,
    subject_type text not null,
    subject_id uuid not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint audit_log_pkey primary key (id),
    constraint audit_log_actor_id_fkey foreign key (actor_id) references users (id) on delete cascade
);

create index audit_log_actor_idx on audit_log (actor_id, created_at desc);

select trigger_updated_at('audit_log');

-- Any change to a creator's posts, their media, the profile or the account notifies every server process, which
-- drops its cached rows of that creator's page at once.
create or replace function notify_posts_changed() returns trigger
language plpgsql as $$
declare
    creator uuid;
begin
    if tg_table_name = 'posts' then
        creator := coalesce(new.creator_id, old.creator_id);
    elsif tg_table_name = 'creators' then
        creator := coalesce(new.user_id, old.user_id);
    elsif tg_table_name = 'users' then
        creator := new.id;
    else
        select p.creator_id into creator from posts p
        where p.id = coalesce(new.post_id, old.post_id);
    end if;
    if creator is not null then
        perform pg_notify('zinovia_posts_changed', creator::text);
    end if;
    return null;
end;
$$;

create trigger posts_changed after insert or update or delete on posts
    for each row execute function notify_posts_changed();
create trigger post_media_changed after insert or update or delete on post_media
    for each row execute function notify_posts_changed();
create trigger creators_changed after insert or update or delete on creators
    for each row execute function notify_posts_changed();
-- A deleted account takes its creator page down at once.
create trigger users_deleted after update of deleted_at on users
    for each row when (old.deleted_at is distinct from new.deleted_at)
    execute function notify_posts_changed();
