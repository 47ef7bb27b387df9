//! Creators, posts, the feed and the paywall: the authorization matrix, keyset pagination
//! under inserts, a constant number of statements per listing, the indexes the listings
//! use, handle races, bad input, and the hot-page cache across server processes.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::helpers::{
    Member, call, creator, grant_purchase, grant_subscription, member, post, ready_photo, subscribe,
};
use chrono::{Duration as Days, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;
use zinovia::accounts::Role;

use crate::helpers::{TestApp, TestDb, unique_email, wait_until};

fn ids_of(listing: &Value) -> Vec<String> {
    listing["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether a post in a response shows its media (unlocked, with signed URLs).
fn shows_media(post: &Value) -> bool {
    post["locked"] == false
        && post["media"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["variants"].as_array().is_some_and(|v| v.len() == 3))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Viewer {
    Anonymous,
    OtherFan,
    Subscriber,
    ExpiredSubscriber,
    PastDueInGrace,
    PastDueBeyondGrace,
    Buyer,
    Creator,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Public,
    Subscribers,
    Ppv,
    Scheduled,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Profile,
    Feed,
    Single,
    Media,
    VariantUrl,
}

/// The rule, written out as the product states it.
fn expected(v: Viewer, k: Kind, way: Way) -> bool {
    use Viewer::*;
    let subscribed = matches!(v, Subscriber | PastDueInGrace);
    match way {
        // The feed holds posts of creators one subscribes to, and posts one bought.
        Way::Feed => match k {
            Kind::Public | Kind::Subscribers => subscribed,
            Kind::Ppv => v == Buyer,
            Kind::Scheduled | Kind::Deleted => false,
        },
        _ => match k {
            // The media of a deleted post stays its owner's asset.
            Kind::Deleted => v == Creator && matches!(way, Way::Media | Way::VariantUrl),
            Kind::Scheduled => matches!(v, Creator | Admin),
            Kind::Public => true,
            Kind::Subscribers => subscribed || matches!(v, Creator | Admin),
            Kind::Ppv => matches!(v, Buyer | Creator | Admin),
        },
    }
}

/// The post of each kind, and its photo.
type MatrixPosts = Vec<(Kind, String, Uuid)>;

/// A creator with a post of every kind, and a viewer of every kind (the creator and an
/// admin among them): what the authorization matrix checks.
async fn matrix_scene(app: &TestApp) -> (Member, MatrixPosts, Vec<(Viewer, Option<Member>)>) {
    let db = &app.state.db;
    let c = creator(app, "matrix_creator").await;
    let mut posts: Vec<(Kind, String, Uuid)> = Vec::new();
    for kind in [
        Kind::Public,
        Kind::Subscribers,
        Kind::Ppv,
        Kind::Scheduled,
        Kind::Deleted,
    ] {
        let asset = ready_photo(db, c.id).await;
        let mut body = json!({"text": format!("{kind:?} post"), "media_ids": [asset]});
        match kind {
            Kind::Public | Kind::Deleted => body["visibility"] = json!("public"),
            Kind::Subscribers => body["visibility"] = json!("subscribers"),
            Kind::Ppv => {
                body["visibility"] = json!("ppv");
                body["price_minor"] = json!(500);
            }
            Kind::Scheduled => {
                body["visibility"] = json!("subscribers");
                body["publish_at"] = json!((Utc::now() + Days::days(2)).to_rfc3339());
            }
        }
        let p = post(app, &c, body).await;
        let id = p["id"].as_str().unwrap().to_owned();
        if kind == Kind::Deleted {
            let (s, _) = call(
                app,
                Method::DELETE,
                &format!("/api/v1/posts/{id}"),
                Some(&c.token),
                None,
            )
            .await;
            assert_eq!(s, StatusCode::NO_CONTENT);
        }
        posts.push((kind, id, asset));
    }
    let ppv_id = Uuid::parse_str(&posts[2].1).unwrap();
    let now = Utc::now();
    let mut viewers: Vec<(Viewer, Option<Member>)> = vec![(Viewer::Anonymous, None)];
    for v in [
        Viewer::OtherFan,
        Viewer::Subscriber,
        Viewer::ExpiredSubscriber,
        Viewer::PastDueInGrace,
        Viewer::PastDueBeyondGrace,
        Viewer::Buyer,
    ] {
        let m = member(app, Role::Fan).await;
        match v {
            Viewer::Subscriber => {
                grant_subscription(db, m.id, c.id, "active", now + Days::days(20), None).await
            }
            Viewer::ExpiredSubscriber => {
                grant_subscription(db, m.id, c.id, "active", now - Days::hours(1), None).await
            }
            Viewer::PastDueInGrace => {
                grant_subscription(
                    db,
                    m.id,
                    c.id,
                    "past_due",
                    now + Days::days(20),
                    Some(now - Days::days(1)),
                )
                .await
            }
            Viewer::PastDueBeyondGrace => {
                grant_subscription(
                    db,
                    m.id,
                    c.id,
                    "past_due",
                    now + Days::days(20),
                    Some(now - Days::days(5)),
                )
                .await
            }
            Viewer::Buyer => grant_purchase(db, m.id, ppv_id, "paid").await,
            _ => Ok(()),
        }
        .unwrap();
        viewers.push((v, Some(m)));
    }
    viewers.push((Viewer::Creator, Some(c.clone())));
    let admin = member(app, Role::Admin).await;
    viewers.push((Viewer::Admin, Some(admin.clone())));

    (c, posts, viewers)
}

#[tokio::test]
async fn the_authorization_matrix_holds_for_every_viewer_post_and_way_in() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let (_, posts, viewers) = matrix_scene(&app).await;
    let admin = viewers
        .iter()
        .find(|(v, _)| *v == Viewer::Admin)
        .and_then(|(_, m)| m.clone())
        .unwrap();
    let mut checked = 0;
    for (viewer, m) in &viewers {
        let token = m.as_ref().map(|m| m.token.as_str());
        let (s, profile) = call(
            &app,
            Method::GET,
            "/api/v1/creators/matrix_creator/posts",
            token,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (fs, feed) = call(&app, Method::GET, "/api/v1/feed", token, None).await;
        if token.is_none() {
            assert_eq!(fs, StatusCode::UNAUTHORIZED);
        }
        for (kind, id, asset) in &posts {
            let find = |listing: &Value| {
                listing["posts"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["id"] == id.as_str()).cloned())
            };
            let (ss, single) = call(
                &app,
                Method::GET,
                &format!("/api/v1/posts/{id}"),
                token,
                None,
            )
            .await;
            let (ms, media) = call(
                &app,
                Method::GET,
                &format!("/api/v1/media/{asset}"),
                token,
                None,
            )
            .await;
            let (us, url) = call(
                &app,
                Method::GET,
                &format!("/api/v1/media/{asset}/url?variant=grid.webp"),
                token,
                None,
            )
            .await;
            let got = [
                (
                    Way::Profile,
                    find(&profile).is_some_and(|p| shows_media(&p)),
                    &profile,
                ),
                (
                    Way::Feed,
                    find(&feed).is_some_and(|p| shows_media(&p)),
                    &feed,
                ),
                (
                    Way::Single,
                    ss == StatusCode::OK && shows_media(&single),
                    &single,
                ),
                (Way::Media, ms == StatusCode::OK, &media),
                (
                    Way::VariantUrl,
                    us == StatusCode::OK && url["url"].is_string(),
                    &url,
                ),
            ];
            for (way, allowed, body) in got {
                let want = expected(*viewer, *kind, way);
                assert_eq!(allowed, want, "{viewer:?} × {kind:?} × {way:?}: {body}");
                checked += 1;
                // Whoever is denied gets neither a URL of this asset nor the original's key.
                let text = body.to_string();
                if !want {
                    assert!(
                        !text.contains(&format!("media/{asset}/"))
                            && !text.contains(&format!("uploads/{asset}")),
                        "{viewer:?} × {kind:?} × {way:?} leaked a key or URL: {text}"
                    );
                }
            }
            // Denied in a listing means: absent, or locked with the preview only.
            if let Some(p) = find(&profile).filter(|p| p["locked"] == true) {
                assert_eq!(p["media_count"], 1);
                assert_eq!(p["media"][0]["kind"], "image");
                assert_eq!(p["media"][0]["width"], 4000);
                assert!(p["media"][0]["blurhash"].is_string());
                assert!(p["media"][0].get("id").is_none());
                assert_eq!(p["media"][0]["variants"], json!([]));
                assert!(p["text"].is_null(), "no teaser was asked for");
            }
            if *kind == Kind::Ppv
                && let Some(p) = find(&profile)
            {
                assert_eq!(p["price"], json!({"amount_minor": 500, "currency": "USD"}));
            }
            // Never the original's key, to anyone but its owner (who asks for it by name).
            assert!(!single.to_string().contains(&format!("uploads/{asset}")));
        }
    }
    assert_eq!(checked, 9 * 5 * 5);
    // What the admin saw only as an admin is on record.
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_log where actor_id = $1")
        .bind(admin.id)
        .fetch_one(db)
        .await
        .unwrap();
    assert!(audited >= 3, "admin views audited: {audited}");
}

#[tokio::test]
async fn pages_return_every_post_exactly_once_while_new_posts_arrive() {
    let app = TestApp::spawn().await;
    let c = creator(&app, "pager").await;
    let fan = member(&app, Role::Fan).await;
    subscribe(&app, &fan, &c, "active", 30).await;
    let mut original = Vec::new();
    for i in 0..23 {
        let vis = if i % 2 == 0 { "public" } else { "subscribers" };
        let p = post(
            &app,
            &c,
            json!({"text": format!("post {i}"), "visibility": vis, "pinned": i == 3}),
        )
        .await;
        original.push(p["id"].as_str().unwrap().to_owned());
    }
    for path in ["/api/v1/creators/pager/posts", "/api/v1/feed"] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let q = cursor
                .as_ref()
                .map_or(String::new(), |c| format!("&cursor={c}"));
            let (s, page) = call(
                &app,
                Method::GET,
                &format!("{path}?limit=5{q}"),
                Some(&fan.token),
                None,
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{page}");
            seen.extend(ids_of(&page));
            pages += 1;
            // A new post between pages: newer than the cursor, so it never shows up later.
            post(
                &app,
                &c,
                json!({"text": "meanwhile", "visibility": "public"}),
            )
            .await;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(pages < 20, "runaway paging");
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{path}: a post came twice");
        for id in &original {
            assert!(seen.contains(id), "{path}: post {id} was skipped");
        }
        if path.contains("creators") {
            assert_eq!(seen[0], original[3], "the pinned post comes first");
            assert_eq!(
                seen.len(),
                23,
                "posts made while paging are newer than the cursor"
            );
        }
    }
    let (s, body) = call(
        &app,
        Method::GET,
        "/api/v1/creators/pager/posts?cursor=bm9wZQ",
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["cursor"].is_array());
    for bad in ["0", "51", "abc", "-1"] {
        let (s, body) = call(
            &app,
            Method::GET,
            &format!("/api/v1/creators/pager/posts?limit={bad}"),
            None,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(body["error"]["fields"]["limit"].is_array());
    }
}

/// A TCP proxy in front of PostgreSQL that counts the statements clients execute (the
/// protocol's Execute and simple Query messages).
struct CountingProxy {
    addr: std::net::SocketAddr,
    statements: Arc<AtomicUsize>,
}

impl CountingProxy {
    async fn start(db: &TestDb) -> CountingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        let options = db.options.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                let options = options.clone();
                tokio::spawn(async move {
                    let server: Box<dyn Duplex> = match options.get_socket() {
                        Some(dir) => {
                            let path = dir.join(format!(".s.PGSQL.{}", options.get_port()));
                            Box::new(tokio::net::UnixStream::connect(path).await.unwrap())
                        }
                        None => Box::new(
                            tokio::net::TcpStream::connect((
                                options.get_host(),
                                options.get_port(),
                            ))
                            .await
                            .unwrap(),
                        ),
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = tokio::io::split(server);
                    let up = async move {
                        let mut parser = FrontendParser::default();
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            counter.fetch_add(parser.feed(&buf[..n]), Ordering::SeqCst);
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let down = async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        CountingProxy { addr, statements }
    }

    fn count(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }
}

trait Duplex: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Duplex for T {}

/// Splits the client's byte stream into protocol messages (the first, the startup
/// message, has no type byte) and counts Execute (`E`) and Query (`Q`).
#[derive(Default)]
struct FrontendParser {
    started: bool,
    pending: Vec<u8>,
}

impl FrontendParser {
    fn feed(&mut self, bytes: &[u8]) -> usize {
        self.pending.extend_from_slice(bytes);
        let mut count = 0;
        loop {
            let (header, ty) = if self.started {
                (5, self.pending.first().copied())
            } else {
                (4, None)
            };
            if self.pending.len() < header {
                break;
            }
            let at = header - 4;
            let len = u32::from_be_bytes(self.pending[at..at + 4].try_into().unwrap()) as usize;
            let total = at + len;
            if self.pending.len() < total {
                break;
            }
            if matches!(ty, Some(b'E' | b'Q')) {
                count += 1;
            }
            self.started = true;
            self.pending.drain(..total);
        }
        count
    }
}

#[tokio::test]
async fn listing_posts_runs_the_same_number_of_statements_for_2_or_50_posts() {
    let db = TestDb::new().await;
    let proxy = CountingProxy::start(&db).await;
    let options = sqlx::postgres::PgConnectOptions::new()
        .host("127.0.0.1")
        .port(proxy.addr.port())
        .username(db.options.get_username())
        .database(db.options.get_database().unwrap())
        .ssl_mode(sqlx::postgres::PgSslMode::Disable);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(zinovia::database::session_options(options))
        .await
        .unwrap();
    let app =
        TestApp::spawn_on_pool(db, pool, |s| s.content.posts_cache_ttl.0 = Duration::ZERO).await;
    let small = creator(&app, "small_one").await;
    let big = creator(&app, "big_one").await;
    let fan = member(&app, Role::Fan).await;
    for (c, posts, media) in [(&small, 2, 1), (&big, 50, 5)] {
        grant_subscription(
            &app.state.db,
            fan.id,
            c.id,
            "active",
            Utc::now() + Days::days(9),
            None,
        )
        .await
        .unwrap();
        for i in 0..posts {
            let mut ids = Vec::new();
            for _ in 0..media {
                ids.push(ready_photo(&app.state.db, c.id).await);
            }
            let vis = ["public", "subscribers", "ppv"][i % 3];
            let mut body = json!({"text": "hello", "visibility": vis, "media_ids": ids});
            if vis == "ppv" {
                body["price_minor"] = json!(400);
            }
            post(&app, c, body).await;
        }
    }
    let mut counts = Vec::new();
    for (handle, n) in [("small_one", 2), ("big_one", 50)] {
        for token in [None, Some(fan.token.as_str())] {
            let before = proxy.count();
            let (s, page) = call(
                &app,
                Method::GET,
                &format!("/api/v1/creators/{handle}/posts?limit=50"),
                token,
                None,
            )
            .await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(page["posts"].as_array().unwrap().len(), n);
            counts.push((handle, token.is_some(), proxy.count() - before));
        }
    }
    let (anon_small, anon_big) = (counts[0].2, counts[2].2);
    let (fan_small, fan_big) = (counts[1].2, counts[3].2);
    assert!(anon_small > 0, "the proxy saw the statements: {counts:?}");
    assert_eq!(anon_small, anon_big, "anonymous: {counts:?}");
    assert_eq!(fan_small, fan_big, "signed in: {counts:?}");
    assert!(fan_big <= 8, "{counts:?}");
}

#[tokio::test]
async fn listings_read_through_indexes_not_whole_tables() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let c = creator(&app, "indexed").await;
    let others: Vec<Member> = {
        let mut v = Vec::new();
        for i in 0..19 {
            v.push(creator(&app, &format!("other_{i}")).await);
        }
        v
    };
    for who in std::iter::once(&c).chain(others.iter()) {
        sqlx::query(
            "insert into posts (id, creator_id, body, visibility, published_at)
             select gen_random_uuid(), $1, 'x', (array['public','subscribers'])[1 + i % 2],
                    now() - make_interval(mins => i)
             from generate_series(1, 1500) as i",
        )
        .bind(who.id)
        .execute(db)
        .await
        .unwrap();
    }
    // Every post gets a photo with its variants: 30,000 media, so the planner weighs an
    // index against tables of a size where it matters (a generic plan expects ten ids in
    // `= any($1)`; against a few hundred rows a scan is cheaper, and rightly chosen).
    for sql in [
        "insert into media_assets (id, owner_id, kind, purpose, state, content_type, byte_size, object_key, upload_expires_at)
         select p.id, p.creator_id, 'image', 'post', 'ready', 'image/jpeg', 1, 'uploads/' || p.id, now()
         from posts p",
        "insert into post_media (post_id, position, asset_id) select p.id, 0, p.id from posts p",
        "insert into media_variants (asset_id, variant, object_key, content_type, width, height, byte_size)
         select p.id, v, 'media/' || p.id || '/' || v, 'image/webp', 1, 1, 1
         from posts p, unnest(array['thumb.webp', 'grid.webp', 'full.webp', 'full.jpg']) as v",
    ] {
        sqlx::query(sql).execute(db).await.unwrap();
    }
    sqlx::query("analyze").execute(db).await.unwrap();
    // The plans the app runs: its connections use generic plans, so each statement is
    // prepared with its parameters and explained as the generic plan ("$1" in it shows
    // that it is).
    let mut conn = db.acquire().await.unwrap();
    let mut plan = async |name: &str, types: &str, sql: &str, args: String| {
        sqlx::raw_sql(&format!("prepare {name}({types}) as {sql}"))
            .execute(&mut *conn)
            .await
            .unwrap();
        let rows: Vec<(String,)> = sqlx::query_as(&format!("explain execute {name}({args})"))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let plan = rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join("\n");
        assert!(plan.contains("$1"), "not the generic plan: {plan}");
        plan
    };
    let page = plan(
        "page",
        "uuid, bool, bool, timestamptz, uuid, bigint",
        zinovia::posts::CREATOR_PAGE_SQL,
        format!(
            "'{}', false, true, 'infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 20",
            c.id
        ),
    )
    .await;
    assert!(page.contains("posts_creator_idx"), "{page}");
    assert!(!page.contains("Seq Scan"), "{page}");
    let ids: Vec<String> = others.iter().map(|o| format!("'{}'", o.id)).collect();
    let feed = plan(
        "feed",
        "uuid, uuid[], timestamptz, uuid, bigint",
        zinovia::posts::FEED_SQL,
        format!(
            "'{}', array[{}]::uuid[], 'infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 20",
            Uuid::now_v7(),
            ids[..2].join(",")
        ),
    )
    .await;
    assert!(!feed.contains("Seq Scan on posts"), "{feed}");
    let media = plan(
        "media",
        "uuid[], text[]",
        zinovia::posts::MEDIA_SQL,
        format!(
            "array['{}', '{}']::uuid[], array['thumb.webp', 'grid.webp', 'full.webp']",
            Uuid::now_v7(),
            Uuid::now_v7()
        ),
    )
    .await;
    assert!(!media.contains("Seq Scan"), "{media}");
}

#[tokio::test]
async fn handles_are_unique_without_regard_to_case_even_when_claimed_at_once() {
    let app = TestApp::spawn().await;
    for round in 0..5 {
        let a = member(&app, Role::Fan).await;
        let b = member(&app, Role::Fan).await;
        let body = |h: &str| {
            Some(json!({"handle": h, "display_name": "X", "price_minor": 500, "currency": "usd"}))
        };
        let handle = format!("Race_{round}");
        let (ra, rb) = tokio::join!(
            call(
                &app,
                Method::PUT,
                "/api/v1/me/creator",
                Some(&a.token),
                body(&handle)
            ),
            call(
                &app,
                Method::PUT,
                "/api/v1/me/creator",
                Some(&b.token),
                body(&handle.to_lowercase())
            ),
        );
        let mut statuses = [ra.0, rb.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY],
            "{ra:?} {rb:?}"
        );
        let loser = if ra.0 == StatusCode::CREATED {
            rb.1
        } else {
            ra.1
        };
        assert_eq!(loser["error"]["fields"]["handle"][0], "is taken", "{loser}");
    }
    let count: i64 = sqlx::query_scalar("select count(*) from creators")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 5);
}

#[tokio::test]
async fn a_changed_handle_redirects_and_stays_reserved() {
    let app = TestApp::spawn().await;
    let c = creator(&app, "old_name").await;
    let (s, body) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator",
        Some(&c.token),
        Some(json!({"handle": "new_name", "display_name": "Ada", "price_minor": 999, "currency": "USD"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let r = app.get("/api/v1/creators/old_name/posts").await;
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.headers()["location"], "/api/v1/creators/new_name/posts");
    let r = app.get("/api/v1/creators/Old_Name").await;
    assert_eq!(r.headers()["location"], "/api/v1/creators/new_name");
    let (s, profile) = call(&app, Method::GET, "/api/v1/creators/new_name", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        profile["price"],
        json!({"amount_minor": 999, "currency": "USD"})
    );
    assert!(
        profile["counts"]["subscribers"].is_null(),
        "only the creator sees it"
    );
    let (_, own) = call(
        &app,
        Method::GET,
        "/api/v1/creators/new_name",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(own["counts"]["subscribers"], 0);
    // Someone else cannot take the old handle while it redirects.
    let other = member(&app, Role::Fan).await;
    let (s, body) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator",
        Some(&other.token),
        Some(json!({"handle": "old_name", "display_name": "B", "price_minor": 999, "currency": "USD"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"]["handle"][0], "is taken");
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/api/v1/creators/nobody_here",
            None,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

async fn counts(db: &PgPool) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "select (select count(*) from creators), (select count(*) from posts),
                (select count(*) from post_media), (select count(*) from post_comments)",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn becoming_a_creator_refuses_each_bad_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let fan = member(&app, Role::Fan).await;
    // Becoming a creator.
    let good = json!({"handle": "fine_name", "display_name": "Ada", "price_minor": 999, "currency": "USD"});
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for (field, value) in [
        ("handle", json!("ab")),
        ("handle", json!("admin")),
        ("handle", json!("has space")),
        ("handle", json!("x".repeat(31))),
        ("display_name", json!("")),
        ("display_name", json!("y".repeat(61))),
        ("bio", json!("z".repeat(1001))),
        ("bio", json!("bell\u{7}")),
        ("price_minor", json!(1)),
        ("price_minor", json!(10_000_000)),
        ("currency", json!("XYZ")),
        ("trial_days", json!(91)),
        ("trial_days", json!(-1)),
        ("avatar_id", json!(Uuid::now_v7())),
    ] {
        let mut b = good.clone();
        b[field] = value;
        cases.push((b, field));
    }
    for (body, field) in &cases {
        let (s, r) = call(
            &app,
            Method::PUT,
            "/api/v1/me/creator",
            Some(&fan.token),
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {r}");
        assert!(r["error"]["fields"][field].is_array(), "{field}: {r}");
    }
    for raw in ["{", "[]", r#"{"handle": 5}"#, r#"{"price_minor": "a lot"}"#] {
        let r = app
            .client
            .put(format!("{}/api/v1/me/creator", app.base))
            .bearer_auth(&fan.token)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{raw}: {}", r.status());
    }
    assert_eq!(counts(db).await, (0, 0, 0, 0));
    // An unverified account cannot become a creator.
    let (token, _) = app
        .sign_up(&unique_email("unverified"), "purple lighthouse at dawn")
        .await;
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator",
        Some(&token),
        Some(good.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_new_post_refuses_each_bad_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let fan = member(&app, Role::Fan).await;
    // Posting before being a creator.
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/v1/posts",
        Some(&fan.token),
        Some(json!({"text": "x", "visibility": "public"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    let c = creator(&app, "writer").await;
    let mine = ready_photo(db, c.id).await;
    let theirs = ready_photo(db, fan.id).await;
    let processing = ready_photo(db, c.id).await;
    sqlx::query("update media_assets set state = 'processing' where id = $1")
        .bind(processing)
        .execute(db)
        .await
        .unwrap();
    let many: Vec<Uuid> = (0..21).map(|_| Uuid::now_v7()).collect();
    let base = counts(db).await;
    for (body, field) in [
        (json!({"text": "x"}), "visibility"),
        (json!({"text": "x", "visibility": "friends"}), ""),
        (json!({"visibility": "public"}), "text"),
        (
            json!({"text": "t".repeat(5001), "visibility": "public"}),
            "text",
        ),
        (json!({"text": "nul\u{0}", "visibility": "public"}), "text"),
        (json!({"text": "x", "visibility": "ppv"}), "price_minor"),
        (
            json!({"text": "x", "visibility": "ppv", "price_minor": 1}),
            "price_minor",
        ),
        (
            json!({"text": "x", "visibility": "public", "price_minor": 500}),
            "price_minor",
        ),
        (
            json!({"text": "x", "visibility": "public", "media_ids": [theirs]}),
            "media_ids",
        ),
        (
            json!({"text": "x", "visibility": "public", "media_ids": [processing]}),
            "media_ids",
        ),
        (
            json!({"text": "x", "visibility": "public", "media_ids": [mine, mine]}),
            "media_ids",
        ),
        (
            json!({"text": "x", "visibility": "public", "media_ids": many}),
            "media_ids",
        ),
        (
            json!({"text": "x", "visibility": "public", "media_ids": ["not-a-uuid"]}),
            "",
        ),
        (
            json!({"text": "x", "visibility": "public", "publish_at": "2001-01-01T00:00:00Z"}),
            "publish_at",
        ),
        (
            json!({"text": "x", "visibility": "public", "publish_at": "yesterday"}),
            "",
        ),
        (
            json!({"text": "x", "visibility": "public", "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
    ] {
        let (s, r) = call(
            &app,
            Method::POST,
            "/api/v1/posts",
            Some(&c.token),
            Some(body.clone()),
        )
        .await;
        assert!(s.is_client_error(), "{body}: {s} {r}");
        if !field.is_empty() {
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r}");
            assert!(r["error"]["fields"][field].is_array(), "{body}: {r}");
        }
    }
    assert_eq!(counts(db).await, base, "nothing stored");
}

#[tokio::test]
async fn an_edit_refuses_bad_changes_and_others_posts_and_files_in_posts_stay() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let fan = member(&app, Role::Fan).await;
    let c = creator(&app, "writer").await;
    let mine = ready_photo(db, c.id).await;
    let theirs = ready_photo(db, fan.id).await;
    // Editing: bad changes leave the post as it was.
    let p = post(
        &app,
        &c,
        json!({"text": "kept", "visibility": "public", "media_ids": [mine]}),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    for body in [
        json!({"visibility": "ppv"}),
        json!({"media_ids": [theirs]}),
        json!({"text": "", "media_ids": []}),
        json!({"publish_at": (Utc::now() + Days::days(3)).to_rfc3339()}),
    ] {
        let (s, r) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/posts/{id}"),
            Some(&c.token),
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r}");
    }
    let (_, after) = call(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(after["text"], "kept");
    assert_eq!(after["visibility"], "public");
    assert_eq!(after["media_count"], 1);
    // Someone else's post is not theirs to edit or delete.
    let (s, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/posts/{id}"),
        Some(&fan.token),
        Some(json!({"text": "mine now"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "a fan is not a creator");
    let other = creator(&app, "other_writer").await;
    let (s, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/posts/{id}"),
        Some(&other.token),
        Some(json!({"text": "mine now"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/posts/{id}"),
        Some(&other.token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A file in a live post cannot be deleted from under it.
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/media/{mine}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn comments_and_likes_refuse_bad_text_and_viewers_without_access() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let fan = member(&app, Role::Fan).await;
    let c = creator(&app, "writer").await;
    let mine = ready_photo(db, c.id).await;
    let p = post(
        &app,
        &c,
        json!({"text": "kept", "visibility": "public", "media_ids": [mine]}),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    // Comments: empty, too long, and from someone without access.
    for text in ["", "   ", &"c".repeat(2001)] {
        let (s, r) = call(
            &app,
            Method::POST,
            &format!("/api/v1/posts/{id}/comments"),
            Some(&c.token),
            Some(json!({"text": text})),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    }
    let (s, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/posts/{id}/comments"),
        Some(&fan.token),
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a public post, but not a subscriber"
    );
    let (s, _) = call(
        &app,
        Method::PUT,
        &format!("/api/v1/posts/{id}/like"),
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, _, _, comments) = counts(db).await;
    assert_eq!(comments, 0);
}

#[tokio::test]
async fn subscribers_like_and_comment_and_the_creator_moderates() {
    let app = TestApp::spawn().await;
    let c = creator(&app, "chatty").await;
    let fan = member(&app, Role::Fan).await;
    subscribe(&app, &fan, &c, "trialing", 7).await;
    let p = post(
        &app,
        &c,
        json!({"text": "hello https://example.com", "visibility": "subscribers"}),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    assert!(
        p["text_html"]
            .as_str()
            .unwrap()
            .contains("<a href=\"https://example.com\"")
    );
    for _ in 0..2 {
        let (s, _) = call(
            &app,
            Method::PUT,
            &format!("/api/v1/posts/{id}/like"),
            Some(&fan.token),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    let (s, cm) = call(
        &app,
        Method::POST,
        &format!("/api/v1/posts/{id}/comments"),
        Some(&fan.token),
        Some(json!({"text": "<b>nice</b>"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{cm}");
    assert_eq!(cm["text_html"], "&lt;b&gt;nice&lt;/b&gt;");
    let (_, got) = call(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}"),
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(
        (
            got["like_count"].clone(),
            got["comment_count"].clone(),
            got["liked"].clone()
        ),
        (json!(1), json!(1), json!(true))
    );
    let (s, list) = call(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}/comments"),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{list}");
    let (_, list) = call(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}/comments"),
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(list["comments"][0]["own"], true);
    let other = member(&app, Role::Fan).await;
    let cid = cm["id"].as_str().unwrap();
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/posts/{id}/comments/{cid}"),
        Some(&other.token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/posts/{id}/comments/{cid}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, got) = call(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}"),
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(got["comment_count"], 0);
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/posts/{id}/like"),
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Explore lists creators with public posts only.
    let (_, ex) = call(&app, Method::GET, "/api/v1/explore", None, None).await;
    assert_eq!(ex["creators"], json!([]));
    post(&app, &c, json!({"text": "free", "visibility": "public"})).await;
    let (_, ex) = call(
        &app,
        Method::GET,
        "/api/v1/explore?sort=popular",
        None,
        None,
    )
    .await;
    assert_eq!(ex["creators"][0]["handle"], "chatty");
    assert_eq!(ex["creators"][0]["subscribers"], 1);
    let (s, _) = call(&app, Method::GET, "/api/v1/explore?sort=random", None, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_page_cache_never_serves_stale_rows_or_anyone_elses_access() {
    let app = TestApp::spawn_with(|s| s.content.posts_cache_ttl.0 = Duration::from_secs(600)).await;
    // A second server process on the same database, with its own cache.
    let other = TestApp::spawn_on_pool(TestDb::unborn(), app.db.pool().await, |s| {
        s.content.posts_cache_ttl.0 = Duration::from_secs(600);
    })
    .await;
    wait_until(Duration::from_secs(10), "both caches listening", || async {
        app.state.posts_cache().active() && other.state.posts_cache().active()
    })
    .await;
    let c = creator(&app, "cached").await;
    let fan = member(&app, Role::Fan).await;
    let asset = ready_photo(&app.state.db, c.id).await;
    let first = post(
        &app,
        &c,
        json!({"text": "one", "visibility": "subscribers", "media_ids": [asset]}),
    )
    .await;
    let path = "/api/v1/creators/cached/posts";
    let locked = |v: &Value| {
        v["posts"][0]["locked"] == true && !v.to_string().contains(&format!("media/{asset}/"))
    };
    for _ in 0..3 {
        // Anonymous, then a subscriber, then anonymous again, all from warm caches.
        let (_, anon) = call(&other, Method::GET, path, None, None).await;
        assert!(locked(&anon), "{anon}");
        grant_subscription(
            &app.state.db,
            fan.id,
            c.id,
            "active",
            Utc::now() + Days::days(3),
            None,
        )
        .await
        .unwrap();
        let (_, sub) = call(&other, Method::GET, path, Some(&fan.token), None).await;
        assert!(shows_media(&sub["posts"][0]), "{sub}");
        // The subscription ends: the very next request is locked (access is never cached).
        sqlx::query("update subscriptions set status = 'canceled' where fan_id = $1")
            .bind(fan.id)
            .execute(&app.state.db)
            .await
            .unwrap();
        let (_, ended) = call(&other, Method::GET, path, Some(&fan.token), None).await;
        assert!(locked(&ended), "{ended}");
    }
    // A write through one process reaches the other's cache.
    let second = post(&app, &c, json!({"text": "two", "visibility": "public"})).await;
    wait_until(
        Duration::from_secs(5),
        "the other process sees the new post",
        || async {
            let (_, page) = call(&other, Method::GET, path, None, None).await;
            ids_of(&page).first() == second["id"].as_str().map(str::to_owned).as_ref()
        },
    )
    .await;
    // A change made straight in the database (as the payments feature or an operator would)
    // reaches both too.
    sqlx::query("update posts set visibility = 'public' where id = $1")
        .bind(Uuid::parse_str(first["id"].as_str().unwrap()).unwrap())
        .execute(&app.state.db)
        .await
        .unwrap();
    for server in [&app, &other] {
        wait_until(
            Duration::from_secs(5),
            "the change reaches every cache",
            || async {
                let (_, page) = call(server, Method::GET, path, None, None).await;
                page["posts"][1]["visibility"] == "public" && shows_media(&page["posts"][1])
            },
        )
        .await;
    }
}
