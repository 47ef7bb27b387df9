//! The harness itself: every test gets its own database.

use crate::helpers::TestDb;

async fn insert_and_count(kind: &str) -> (i64, Vec<String>) {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    sqlx::query("insert into jobs (kind, max_attempts) values ($1, 1), ($1, 1)")
        .bind(kind)
        .execute(&pool)
        .await
        .unwrap();
    // Give the other test time to write too, if it shared this database.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let kinds: Vec<String> = sqlx::query_scalar("select distinct kind from jobs")
        .fetch_all(&pool)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    (n, kinds)
}

#[tokio::test]
async fn tests_writing_the_same_table_do_not_see_each_other_a() {
    let (n, kinds) = insert_and_count("isolation_a").await;
    assert_eq!((n, kinds), (2, vec!["isolation_a".to_owned()]));
}

#[tokio::test]
async fn tests_writing_the_same_table_do_not_see_each_other_b() {
    let (n, kinds) = insert_and_count("isolation_b").await;
    assert_eq!((n, kinds), (2, vec!["isolation_b".to_owned()]));
}

#[tokio::test]
async fn fresh_databases_are_migrated_and_empty_ones_are_not() {
    let migrated = TestDb::new().await;
    let pool = migrated.pool().await;
    let status = zinovia::database::migrations::status(&pool).await.unwrap();
    assert!(status.is_current(), "{status:?}");

    let empty = TestDb::empty().await;
    let pool = empty.pool().await;
    let status = zinovia::database::migrations::status(&pool).await.unwrap();
    assert_eq!(
        status.pending.len(),
        zinovia::database::migrations::MIGRATOR.iter().count()
    );
}
