//! Statements from the ledger: a creator's month (page and CSV), their year-end summary,
//! and the operator's report of creators above the reporting threshold.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::db;
use super::super::types::EntryKind;
use crate::error::AppError;
use crate::state::AppState;

/// One ledger entry on a statement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementLine {
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// What.
    pub kind: EntryKind,
    /// The rail.
    pub provider: String,
    /// The rail's object (or the payout's id).
    pub reference: String,
    /// Currency.
    pub currency: String,
    /// Paid by the fan (negative: went back).
    pub gross_minor: i64,
    /// The platform's fee.
    pub platform_fee_minor: i64,
    /// The processor's fee, when reported.
    pub processor_fee_minor: Option<i64>,
    /// Yours.
    pub net_minor: i64,
    /// Held by the platform for you (not paid to an account of yours at the rail).
    pub held: bool,
}

/// Sums of one currency over a period.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct Totals {
    /// Currency.
    pub currency: String,
    /// Sales (subscriptions, pay-per-view, tips), gross.
    pub sales_minor: i64,
    /// Refunds and disputes, gross (negative).
    pub reversals_minor: i64,
    /// Platform fees (net of fees given back).
    pub platform_fees_minor: i64,
    /// Processor fees, where reported.
    pub processor_fees_minor: i64,
    /// Earned: sales less reversals and fees.
    pub earned_minor: i64,
    /// Moved to your account at the rail or paid to your bank (positive).
    pub paid_minor: i64,
}

fn totals(lines: &[StatementLine]) -> Vec<Totals> {
    let mut out: Vec<Totals> = Vec::new();
    for l in lines {
        let i = match out.iter().position(|t| t.currency == l.currency) {
            Some(i) => i,
            None => {
                out.push(Totals {
                    currency: l.currency.clone(),
                    ..Totals::default()
                });
                out.len() - 1
            }
        };
        let t = &mut out[i];
        match l.kind {
            EntryKind::Transfer | EntryKind::Payout => t.paid_minor -= l.net_minor,
            k => {
                if k.money_in() {
                    t.sales_minor += l.gross_minor;
                } else {
                    t.reversals_minor += l.gross_minor;
                }
                t.platform_fees_minor += l.platform_fee_minor;
                t.processor_fees_minor += l.processor_fee_minor.unwrap_or(0);
                t.earned_minor += l.net_minor;
            }
        }
    }
    out.sort_by(|a, b| a.currency.cmp(&b.currency));
    out
}

/// A month's statement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Statement {
    /// `YYYY-MM`.
    pub month: String,
    /// Every entry, oldest first.
    pub lines: Vec<StatementLine>,
    /// Per currency.
    pub totals: Vec<Totals>,
}

/// The first instant of `YYYY-MM` and of the month after, or a field error.
pub fn month_bounds(raw: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let bad = || AppError::field("month", "must be a month like 2026-11");
    let (y, m) = raw.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(2000..=9999).contains(&y) || raw.len() != 7 {
        return Err(bad());
    }
    let start = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    }
    .ok_or_else(bad)?;
    let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    Ok((at(start), at(next)))
}

async fn lines(
    state: &AppState,
    creator: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<StatementLine>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(db::statement(&mut conn, creator, from, to)
        .await?
        .into_iter()
        .map(|l| StatementLine {
            occurred_at: l.occurred_at,
            kind: l.kind,
            provider: l.provider,
            reference: l.source_id,
            currency: l.currency,
            gross_minor: l.gross_minor,
            platform_fee_minor: l.platform_fee_minor,
            processor_fee_minor: l.processor_fee_minor,
            net_minor: l.net_minor,
            held: l.held,
        })
        .collect())
}

/// The caller's statement of `month` (`YYYY-MM`, UTC).
pub async fn month(state: &AppState, user: Uuid, month: &str) -> Result<Statement, AppError> {
    let (from, to) = month_bounds(month)?;
    let creator = super::creator_of(state, user).await?;
    let lines = lines(state, creator.user_id, from, to).await?;
    Ok(Statement {
        month: month.to_owned(),
        totals: totals(&lines),
        lines,
    })
}

/// A statement as CSV (one entry per line, amounts in major units).
pub fn csv(s: &Statement) -> String {
    let mut out = String::from(
        "date,kind,rail,reference,currency,gross,platform_fee,processor_fee,net,held_by_platform\n",
    );
    let d = crate::money::decimal;
    for l in &s.lines {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            l.occurred_at.format("%Y-%m-%dT%H:%M:%SZ"),
            l.kind,
            l.provider,
            super::files::csv_field(&l.reference),
            l.currency,
            d(l.gross_minor),
            d(l.platform_fee_minor),
            l.processor_fee_minor.map(d).unwrap_or_default(),
            d(l.net_minor),
            l.held
        ));
    }
    out
}

/// A year-end summary.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct YearSummary {
    /// The year.
    pub year: i32,
    /// Per currency, the whole year.
    pub totals: Vec<Totals>,
    /// Per month with entries.
    pub months: Vec<MonthTotals>,
}

/// One month of a year-end summary.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonthTotals {
    /// `YYYY-MM`.
    pub month: String,
    /// Per currency.
    pub totals: Vec<Totals>,
}

/// The caller's summary of `year` (UTC).
pub async fn year(state: &AppState, user: Uuid, year: i32) -> Result<YearSummary, AppError> {
    if !(2000..=9999).contains(&year) {
        return Err(AppError::field("year", "must be a year like 2026"));
    }
    let creator = super::creator_of(state, user).await?;
    let (from, _) = month_bounds(&format!("{year}-01"))?;
    let (_, to) = month_bounds(&format!("{year}-12"))?;
    let lines = lines(state, creator.user_id, from, to).await?;
    let months = (1..=12)
        .filter_map(|m| {
            let in_month: Vec<StatementLine> = lines
                .iter()
                .filter(|l| l.occurred_at.month() == m)
                .cloned()
                .collect();
            (!in_month.is_empty()).then(|| MonthTotals {
                month: format!("{year}-{m:02}"),
                totals: totals(&in_month),
            })
        })
        .collect();
    Ok(YearSummary {
        year,
        totals: totals(&lines),
        months,
    })
}

/// A creator above the reporting threshold in a year.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportRow {
    /// Handle.
    pub handle: String,
    /// Currency.
    pub currency: String,
    /// Gross sales.
    pub gross_minor: i64,
    /// Number of sales.
    pub sales: i64,
    /// Earned after reversals and fees.
    pub net_minor: i64,
    /// From their tax profile (empty: none given).
    pub legal_name: String,
    /// From their tax profile.
    pub country: String,
    /// Their tax id, opened for the operator.
    pub tax_id: String,
}

/// The operator's report: creators whose gross sales in `year` reach
/// `TAX_REPORT_THRESHOLD` in a currency.
pub async fn report(state: &AppState, year: i32) -> Result<Vec<ReportRow>, AppError> {
    if !(2000..=9999).contains(&year) {
        return Err(AppError::field("year", "must be a year like 2026"));
    }
    let (from, _) = month_bounds(&format!("{year}-01"))?;
    let (_, to) = month_bounds(&format!("{year}-12"))?;
    let threshold = i64::try_from(state.settings.billing.tax_report_threshold).unwrap_or(i64::MAX);
    let mut conn = state.db.acquire().await?;
    let key = state.data_key()?;
    Ok(db::report(&mut conn, from, to, threshold)
        .await?
        .into_iter()
        .map(|r| ReportRow {
            tax_id: r
                .tax_id
                .map(|t| {
                    key.open(r.creator_id.as_bytes(), &t)
                        .ok()
                        .and_then(|p| String::from_utf8(p).ok())
                        .unwrap_or_else(|| {
                            "(cannot be opened with this DATA_ENCRYPTION_KEY)".into()
                        })
                })
                .unwrap_or_default(),
            handle: r.handle,
            currency: r.currency,
            gross_minor: r.gross_minor,
            sales: r.sales,
            net_minor: r.net_minor,
            legal_name: r.legal_name.unwrap_or_default(),
            country: r.country.unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_strictly() {
        let (a, b) = month_bounds("2026-12").unwrap();
        assert_eq!(a.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-00", "x"] {
            assert!(month_bounds(bad).is_err(), "{bad}");
        }
    }
}
