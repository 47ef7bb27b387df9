//! The rules of creator verification (ADR 0031): a person gives their legal name and date of
//! birth (18 or older), uploads an ID document and a selfie straight to private storage,
//! submits; the worker scans and probes the files; a reviewer (moderator or administrator,
//! with a second factor) opens each document through a short-lived URL — every opening
//! audited — and approves, rejects or asks for more. Until approved, a creator cannot sell.

use chrono::{Datelike, NaiveDate, Utc};
use uuid::Uuid;

use super::db::{self, QueueRow, Row};
use super::jobs::{CheckDocuments, TellPerson};
use super::types::{
    DOCUMENT_TYPES, Document, MAX_DOCUMENT_BYTES, VerificationId, VerificationStatus,
};
use crate::accounts::{FieldCheck, User};
use crate::config::VerificationMode;
use crate::error::AppError;
use crate::http::extract::ClientMeta;
use crate::state::AppState;
use crate::storage::{PresignedUpload, StorageKey};

/// Longest legal name (characters).
pub const MAX_NAME: usize = 200;
/// How long a reviewer's document URL works.
pub const DOCUMENT_URL_TTL: std::time::Duration = std::time::Duration::from_secs(120);
/// How long an upload URL works.
const UPLOAD_URL_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Who checks identities: the embedded default is our own reviewers; a KYC service would be
/// another implementation, chosen by `CREATOR_VERIFICATION` (ADR 0031).
pub trait Provider {
    /// Its name, stored on each attempt.
    fn name(&self) -> &'static str;
    /// What happens when a person submits: `Submitted` (waits for a reviewer) for manual
    /// review; a service would start its own check here and report back by webhook.
    fn on_submit(&self) -> VerificationStatus;
}

/// Review by moderators in the console.
pub struct Manual;

impl Provider for Manual {
    fn name(&self) -> &'static str {
        "manual"
    }
    fn on_submit(&self) -> VerificationStatus {
        VerificationStatus::Submitted
    }
}

/// A reviewer's decision as typed: `approved`, `rejected` or `more_needed`.
pub fn parse_decision(raw: &str) -> Result<VerificationStatus, AppError> {
    match VerificationStatus::parse(raw.trim()) {
        Some(
            d @ (VerificationStatus::Approved
            | VerificationStatus::Rejected
            | VerificationStatus::MoreNeeded),
        ) => Ok(d),
        _ => Err(AppError::field(
            "decision",
            "must be approved, rejected or more_needed",
        )),
    }
}

/// Whether `user` may sell (publish paid posts and messages, be sold to, be paid): verified,
/// or verification is off.
pub async fn may_sell(state: &AppState, user: Uuid) -> Result<bool, sqlx::Error> {
    if state.settings.content.creator_verification == VerificationMode::Off {
        return Ok(true);
    }
    db::approved(&state.db, user).await
}

/// The field error of a sale refused to an unverified creator.
pub const NOT_VERIFIED: &str = "needs your identity verified first (Account → Verification): until then you can post for free only";

/// The refusal of payouts to an unverified creator.
pub const NOT_VERIFIED_PAYOUTS: &str =
    "payouts need your identity verified first (Account → Verification)";

/// A person's attempt as they see it (their own details unsealed).
#[derive(Debug, Clone)]
pub struct Mine {
    /// The attempt (none: never started).
    pub row: Option<Row>,
    /// Their legal name, as given.
    pub legal_name: String,
    /// Their date of birth, as given.
    pub date_of_birth: Option<NaiveDate>,
    /// Verification is off on this platform.
    pub off: bool,
}

fn unseal(state: &AppState, row: &Row) -> Result<(String, Option<NaiveDate>), AppError> {
    let key = state.data_key()?;
    let open = |sealed: &Option<Vec<u8>>| -> Result<Option<String>, AppError> {
        sealed
            .as_deref()
            .map(|s| {
                key.open(row.user_id.as_bytes(), s)
                    .map_err(|_| {
                        AppError::Internal(anyhow::anyhow!("a verification detail does not open"))
                    })
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
            .transpose()
    };
    let name = open(&row.legal_name_sealed)?.unwrap_or_default();
    let dob = open(&row.date_of_birth_sealed)?
        .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    Ok((name, dob))
}

/// The caller's attempt.
pub async fn mine(state: &AppState, user: Uuid) -> Result<Mine, AppError> {
    let row = db::latest(&state.db, user).await?;
    let (legal_name, date_of_birth) = match &row {
        Some(r) => unseal(state, r)?,
        None => (String::new(), None),
    };
    Ok(Mine {
        row,
        legal_name,
        date_of_birth,
        off: state.settings.content.creator_verification == VerificationMode::Off,
    })
}

/// Age in whole years on `today`.
pub fn age_on(dob: NaiveDate, today: NaiveDate) -> i32 {
    let mut years = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    years
}

/// The caller's attempt in progress, locked (started now when there is none). Refused once
/// approved, and while a reviewer has it.
async fn live_for_change(tx: &mut sqlx::PgConnection, user: Uuid) -> Result<Row, AppError> {
    if let Some(row) = db::lock_live(tx, user).await? {
        return match row.status {
            VerificationStatus::Checking | VerificationStatus::Submitted => Err(AppError::Conflict(
                "your verification is with our reviewers; you can change it if they ask for more".into(),
            )),
            _ => Ok(row),
        };
    }
    if db::approved(&mut *tx, user).await? {
        return Err(AppError::Conflict(
            "your identity is already verified".into(),
        ));
    }
    let id = Uuid::now_v7();
    db::insert(tx, id, user).await?;
    db::lock(tx, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the attempt just made is gone")))
}

/// Saves the legal name and date of birth (18 or older), sealed.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn set_details(
    state: &AppState,
    user: &User,
    legal_name: &str,
    date_of_birth: &str,
) -> Result<(), AppError> {
    let mut check = FieldCheck::default();
    let name = check.text("legal_name", legal_name, MAX_NAME, true);
    let dob = match NaiveDate::parse_from_str(date_of_birth.trim(), "%Y-%m-%d") {
        Ok(d) => {
            let today = Utc::now().date_naive();
            if d > today || d.year() < 1900 {
                check.add("date_of_birth", "is not a real date of birth");
                None
            } else if age_on(d, today) < 18 {
                check.add(
                    "date_of_birth",
                    "must make you 18 or older: creators must be adults",
                );
                None
            } else {
                Some(d)
            }
        }
        Err(_) => {
            check.add("date_of_birth", "must be a date like 1990-04-21");
            None
        }
    };
    check.finish()?;
    let (Some(name), Some(dob)) = (name, dob) else {
        return Err(AppError::BadRequest("invalid details".into()));
    };
    let key = state.data_key()?;
    let mut tx = state.db.begin().await?;
    let row = live_for_change(&mut tx, user.id.0).await?;
    db::set_details(
        &mut tx,
        row.id,
        &key.seal(user.id.0.as_bytes(), name.as_bytes()),
        &key.seal(
            user.id.0.as_bytes(),
            dob.format("%Y-%m-%d").to_string().as_bytes(),
        ),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(verification_id = %row.id, "verification details saved");
    Ok(())
}

/// An upload URL for one document, straight to private storage.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn document_upload(
    state: &AppState,
    user: &User,
    document: &str,
    content_type: &str,
    byte_size: i64,
) -> Result<(PresignedUpload, chrono::DateTime<Utc>), AppError> {
    let mut check = FieldCheck::default();
    let doc = Document::parse(document.trim());
    if doc.is_none() {
        check.add("document", "must be id_document or selfie");
    }
    let content_type = content_type.trim().to_ascii_lowercase();
    if !DOCUMENT_TYPES.contains(&content_type.as_str()) {
        check.add(
            "content_type",
            "must be image/jpeg, image/png or image/webp (a photo)",
        );
    }
    let size = u64::try_from(byte_size)
        .ok()
        .filter(|s| (1..=MAX_DOCUMENT_BYTES).contains(s));
    if size.is_none() {
        check.add(
            "byte_size",
            format!("must be between 1 and {MAX_DOCUMENT_BYTES} bytes"),
        );
    }
    check.finish()?;
    let (Some(doc), Some(size)) = (doc, size) else {
        return Err(AppError::BadRequest("invalid document".into()));
    };
    let mut tx = state.db.begin().await?;
    let row = live_for_change(&mut tx, user.id.0).await?;
    db::set_document(&mut tx, row.id, doc, &content_type).await?;
    tx.commit().await?;
    let key = StorageKey::verification(row.id, doc.as_str());
    state
        .storage()?
        .presign_upload(&key, &content_type, size, UPLOAD_URL_TTL)
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// Submits the attempt: details and both documents must be there; the worker then scans
/// and probes the files before a reviewer sees them.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn submit(state: &AppState, user: &User) -> Result<VerificationStatus, AppError> {
    let mut tx = state.db.begin().await?;
    let row = live_for_change(&mut tx, user.id.0).await?;
    let mut check = FieldCheck::default();
    if row.legal_name_sealed.is_none() || row.date_of_birth_sealed.is_none() {
        check.add("legal_name", "and your date of birth are needed first");
    }
    let storage = state.storage()?;
    for (doc, declared) in [
        (Document::IdDocument, &row.id_document_type),
        (Document::Selfie, &row.selfie_type),
    ] {
        let there = match declared {
            Some(_) => storage
                .head(&StorageKey::verification(row.id, doc.as_str()))
                .await
                .map_err(|e| AppError::Internal(e.into()))?
                .is_some(),
            None => false,
        };
        if !there {
            check.add(doc.as_str(), "has not been uploaded yet");
        }
    }
    check.finish()?;
    db::set_status(&mut *tx, row.id, VerificationStatus::Checking, "").await?;
    crate::jobs::enqueue(
        &mut *tx,
        &CheckDocuments {
            verification_id: row.id,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(verification_id = %row.id, "verification submitted");
    Ok(VerificationStatus::Checking)
}

/// The worker's check of the submitted files: each is scanned for malware and must be a
/// JPEG, PNG or WebP photo by its bytes. Good files go to the reviewers; otherwise the
/// person is told what to upload again.
pub(super) async fn check_documents(state: &AppState, id: Uuid) -> Result<(), anyhow::Error> {
    let Some(row) = db::lock(&mut *state.db.acquire().await?, id).await? else {
        return Ok(());
    };
    if row.status != VerificationStatus::Checking {
        return Ok(());
    }
    let storage = state.storage()?;
    let dir = tempfile::tempdir()?;
    let mut problem = String::new();
    for doc in [Document::IdDocument, Document::Selfie] {
        let path = dir.path().join(doc.as_str());
        let key = StorageKey::verification(id, doc.as_str());
        let meta = match storage.get_to_file(&key, &path).await {
            Ok(m) => m,
            Err(crate::storage::StorageError::NotFound) => {
                problem = format!("the {} is missing: upload it again", what(doc));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        if meta.size > MAX_DOCUMENT_BYTES || meta.size == 0 {
            problem = format!("the {} is empty or too large: upload it again", what(doc));
            break;
        }
        if let Some(crate::scan::Verdict::Infected(_) | crate::scan::Verdict::TooLarge) =
            state.processing()?.scan(&path).await?
        {
            storage.delete(&key).await?;
            problem = format!(
                "the {} was refused by the malware scan and deleted",
                what(doc)
            );
            break;
        }
        let mut head = vec![0u8; 32];
        let n = {
            use tokio::io::AsyncReadExt;
            tokio::fs::File::open(&path).await?.read(&mut head).await?
        };
        let photo = matches!(
            zinovia_media::sniff(&head[..n]),
            Some(
                zinovia_media::Format::Jpeg
                    | zinovia_media::Format::Png
                    | zinovia_media::Format::Webp
            )
        );
        if !photo {
            problem = format!(
                "the {} is not a JPEG, PNG or WebP photo: upload a photo of it",
                what(doc)
            );
            break;
        }
    }
    let next = if problem.is_empty() {
        Manual.on_submit()
    } else {
        VerificationStatus::Started
    };
    db::set_status(&state.db, id, next, &problem).await?;
    tracing::info!(verification_id = %id, status = next.as_str(), "verification documents checked");
    Ok(())
}

fn what(doc: Document) -> &'static str {
    match doc {
        Document::IdDocument => "ID document",
        Document::Selfie => "selfie",
    }
}

/// An attempt as a reviewer sees it.
#[derive(Debug, Clone)]
pub struct Review {
    /// The attempt.
    pub row: Row,
    /// The legal name.
    pub legal_name: String,
    /// The date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// Age today.
    pub age: Option<i32>,
    /// The account.
    pub account: crate::accounts::standing::AccountSummary,
}

/// The reviewers' queue.
pub async fn queue(
    state: &AppState,
    status: VerificationStatus,
) -> Result<Vec<QueueRow>, AppError> {
    Ok(db::queue(&state.db, status, 200).await?)
}

/// One attempt for a reviewer (not the documents: see [`document_url`]).
pub async fn review(
    state: &AppState,
    VerificationId(id): VerificationId,
) -> Result<Review, AppError> {
    let mut conn = state.db.acquire().await?;
    let row = db::lock(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    drop(conn);
    let account = crate::accounts::standing::get(&state.db, row.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let (legal_name, date_of_birth) = unseal(state, &row)?;
    Ok(Review {
        age: date_of_birth.map(|d| age_on(d, Utc::now().date_naive())),
        row,
        legal_name,
        date_of_birth,
        account,
    })
}

/// A short-lived URL of one document for a reviewer; every one handed out is audited.
#[tracing::instrument(skip_all, fields(verification_id = %id))]
pub async fn document_url(
    state: &AppState,
    reviewer: &User,
    VerificationId(id): VerificationId,
    document: &str,
    client: &ClientMeta,
) -> Result<(String, chrono::DateTime<Utc>), AppError> {
    let doc = Document::parse(document).ok_or(AppError::NotFound)?;
    let mut tx = state.db.begin().await?;
    let row = db::lock(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if row.documents_deleted_at.is_some() {
        return Err(AppError::Conflict(
            "the documents were deleted after the decision".into(),
        ));
    }
    crate::audit::record(
        &mut *tx,
        &crate::audit::Entry {
            actor: Some(reviewer.id.0),
            action: "verification.view_document",
            subject_type: "verification",
            subject_id: Some(id),
            reason: "",
            details: serde_json::json!({"document": doc.as_str(), "user_id": row.user_id}),
            ip: client.ip,
        },
    )
    .await?;
    tx.commit().await?;
    state
        .storage()?
        .private_url(
            &StorageKey::verification(id, doc.as_str()),
            DOCUMENT_URL_TTL,
        )
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// A reviewer's decision: `approved`, `rejected` or `more_needed`, with a reason (audited;
/// the person is told).
#[tracing::instrument(skip_all, fields(verification_id = %id, decision = decision.as_str()))]
pub async fn decide(
    state: &AppState,
    reviewer: &User,
    VerificationId(id): VerificationId,
    decision: VerificationStatus,
    reason: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    let mut check = FieldCheck::default();
    let reason = check.text("reason", reason, crate::audit::MAX_REASON, true);
    check.finish()?;
    let reason = reason.unwrap_or_default();
    let decision = parse_decision(decision.as_str())?;
    let mut tx = state.db.begin().await?;
    let row = db::lock(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if row.status != VerificationStatus::Submitted {
        return Err(AppError::Conflict(format!(
            "this verification is {}, not waiting for a decision",
            row.status
        )));
    }
    if row.user_id == reviewer.id.0 {
        return Err(AppError::Conflict(
            "nobody reviews their own verification".into(),
        ));
    }
    db::decide(&mut tx, id, decision, reviewer.id.0, &reason).await?;
    crate::audit::record(
        &mut *tx,
        &crate::audit::Entry {
            actor: Some(reviewer.id.0),
            action: match decision {
                VerificationStatus::Approved => "verification.approve",
                VerificationStatus::Rejected => "verification.reject",
                _ => "verification.ask_more",
            },
            subject_type: "verification",
            subject_id: Some(id),
            reason: &reason,
            details: serde_json::json!({"user_id": row.user_id}),
            ip: client.ip,
        },
    )
    .await?;
    crate::jobs::enqueue(
        &mut *tx,
        &TellPerson {
            verification_id: id,
            status: decision,
        },
    )
    .await?;
    tx.commit().await?;
    if decision == VerificationStatus::Approved {
        // Their page may now show paid posts' prices and the subscribe button.
        state.posts_cache().forget(row.user_id);
    }
    tracing::info!("verification decided");
    Ok(())
}

/// Deletes the documents of decisions past their keeping time (the daily job).
pub(super) async fn purge_expired(state: &AppState) -> Result<usize, anyhow::Error> {
    let c = &state.settings.content;
    let now = Utc::now();
    let approved_before = now - chrono::Duration::from_std(c.verification_keep_approved.0)?;
    let rejected_before = now - chrono::Duration::from_std(c.verification_keep_rejected.0)?;
    let ids = db::expired_documents(&state.db, approved_before, rejected_before, 500).await?;
    let storage = state.storage()?;
    for id in &ids {
        storage
            .delete_prefix(&StorageKey::verification_prefix(*id))
            .await?;
        db::documents_deleted(&state.db, *id).await?;
    }
    if !ids.is_empty() {
        tracing::info!(
            attempts = ids.len(),
            "verification documents deleted after their keeping time"
        );
    }
    Ok(ids.len())
}
