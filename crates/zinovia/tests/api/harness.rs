//! The harness itself: every test gets its own database.

use crate::helpers::TestDb;

#[tokio::test]
async fn tests_writing_the_same_table_do_not_see_each_other() {
    // Two test databases at once, as two tests running side by side get: each sees only
    // its own rows (a harness handing both the same database fails here, alone or not).
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    assert_ne!(a.name, b.name);
    let (pa, pb) = (a.pool().await, b.pool().await);
    for (pool, kind) in [(&pa, "isolation_a"), (&pb, "isolation_b")] {
        sqlx::query("insert into jobs (kind, max_attempts) values ($1, 1), ($1, 1)")
            .bind(kind)
            .execute(pool)
            .await
            .unwrap();
    }
    for (pool, kind) in [(&pa, "isolation_a"), (&pb, "isolation_b")] {
        let kinds: Vec<(String, i64)> =
            sqlx::query_as("select kind, count(*) from jobs group by kind")
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(kinds, [(kind.to_owned(), 2)]);
    }
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
