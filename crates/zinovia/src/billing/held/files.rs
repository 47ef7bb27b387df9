//! A payout batch's files for the bank: CSV (any currency) and a SEPA credit-transfer
//! initiation (ISO 20022 `pain.001.001.03`, euros), with the creators' bank details opened
//! from their sealed form only here.

use std::fmt::Write as _;

use chrono::Utc;
use uuid::Uuid;

use super::super::db;
use super::BankDetails;
use crate::error::AppError;
use crate::state::AppState;

/// One payout with its bank details opened.
struct Line {
    id: Uuid,
    handle: String,
    holder: String,
    amount_minor: i64,
    bank: BankDetails,
}

async fn lines(state: &AppState, batch: Uuid) -> Result<(String, Vec<Line>), AppError> {
    let mut conn = state.db.acquire().await?;
    let (currency, _) = db::batch(&mut conn, batch, false)
        .await?
        .ok_or(AppError::NotFound)?;
    let key = state.data_key()?;
    let mut out = Vec::new();
    for l in db::batch_lines(&mut conn, batch).await? {
        let plain = key.open(l.creator_id.as_bytes(), &l.details).map_err(|_| {
            AppError::Conflict(format!(
                "the bank details of @{} cannot be opened: DATA_ENCRYPTION_KEY is not the key they were saved with",
                l.handle
            ))
        })?;
        let bank: BankDetails = serde_json::from_slice(&plain)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("sealed bank details: {e}")))?;
        out.push(Line {
            id: l.id,
            handle: l.handle,
            holder: l.holder,
            amount_minor: l.amount_minor,
            bank,
        });
    }
    Ok((currency, out))
}

/// The countries of the SEPA scheme (IBAN prefixes; their territories use these codes).
const SEPA_COUNTRIES: [&str; 36] = [
    "AD", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GI", "GR",
    "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MT", "NL", "NO", "PL", "PT", "RO",
    "SE", "SI", "SK", "SM",
];

/// The reference a creator sees on their bank statement.
fn reference(id: Uuid) -> String {
    format!("Zinovia payout {}", &id.simple().to_string()[..12])
}

/// A CSV field: quoted when it must be, and never read as a formula by a spreadsheet.
pub(super) fn csv_field(raw: &str) -> String {
    let s = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The batch as CSV: one payout per line.
pub async fn csv(state: &AppState, batch: Uuid) -> Result<String, AppError> {
    let (currency, lines) = lines(state, batch).await?;
    let mut out =
        String::from("payout_id,creator_handle,holder,iban,bic,amount,currency,reference\n");
    for l in &lines {
        let row = [
            l.id.to_string(),
            l.handle.clone(),
            l.holder.clone(),
            l.bank.iban.clone(),
            l.bank.bic.clone(),
            crate::money::decimal(l.amount_minor),
            currency.clone(),
            reference(l.id),
        ];
        let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    Ok(out)
}

fn xml(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// A name cut to SEPA's 70 characters.
fn name70(raw: &str) -> String {
    xml(&raw.chars().take(70).collect::<String>())
}

fn agent(bic: &str) -> String {
    if bic.is_empty() {
        "<FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId>".to_owned()
    } else {
        format!("<FinInstnId><BIC>{}</BIC></FinInstnId>", xml(bic))
    }
}

/// The batch as a SEPA credit-transfer initiation (pain.001.001.03) from the platform's
/// account (`PAYOUT_DEBTOR_*`). Euros only.
pub async fn sepa(state: &AppState, batch: Uuid) -> Result<String, AppError> {
    let b = &state.settings.billing;
    let (Some(name), Some(iban)) = (&b.payout_debtor_name, &b.payout_debtor_iban) else {
        return Err(AppError::Conflict(
            "set PAYOUT_DEBTOR_NAME and PAYOUT_DEBTOR_IBAN (the account payouts are paid from) to make SEPA files; the CSV needs neither".into(),
        ));
    };
    let debtor_iban =
        super::iban(iban).map_err(|e| AppError::Conflict(format!("PAYOUT_DEBTOR_IBAN {e}")))?;
    let debtor_bic = b.payout_debtor_bic.clone().unwrap_or_default();
    let (currency, lines) = lines(state, batch).await?;
    if currency != "EUR" {
        return Err(AppError::Conflict(format!(
            "SEPA credit transfers are in euros and this batch is in {currency}: use its CSV"
        )));
    }
    let outside: Vec<String> = lines
        .iter()
        .filter(|l| !SEPA_COUNTRIES.contains(&&l.bank.iban[..2]))
        .map(|l| format!("@{}", l.handle))
        .collect();
    if !outside.is_empty() {
        return Err(AppError::Conflict(format!(
            "the bank accounts of {} are outside SEPA, and a bank refuses the whole file for one: pay this batch from its CSV",
            outside.join(", ")
        )));
    }
    let total: i64 = lines.iter().map(|l| l.amount_minor).sum();
    let now = Utc::now();
    let id = batch.simple().to_string();
    let mut x = String::new();
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n\
         <CstmrCdtTrfInitn>\n\
         <GrpHdr><MsgId>{id}</MsgId><CreDtTm>{created}</CreDtTm><NbOfTxs>{n}</NbOfTxs><CtrlSum>{sum}</CtrlSum><InitgPty><Nm>{name}</Nm></InitgPty></GrpHdr>\n\
         <PmtInf><PmtInfId>{id}</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>true</BtchBookg><NbOfTxs>{n}</NbOfTxs><CtrlSum>{sum}</CtrlSum>\
         <PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf><ReqdExctnDt>{date}</ReqdExctnDt>\
         <Dbtr><Nm>{name}</Nm></Dbtr><DbtrAcct><Id><IBAN>{debtor_iban}</IBAN></Id></DbtrAcct><DbtrAgt>{debtor_agent}</DbtrAgt><ChrgBr>SLEV</ChrgBr>\n",
        created = now.format("%Y-%m-%dT%H:%M:%S"),
        n = lines.len(),
        sum = crate::money::decimal(total),
        name = name70(name),
        date = now.format("%Y-%m-%d"),
        debtor_agent = agent(&debtor_bic),
    );
    for l in &lines {
        let creditor_agent = if l.bank.bic.is_empty() {
            String::new()
        } else {
            format!("<CdtrAgt>{}</CdtrAgt>", agent(&l.bank.bic))
        };
        let _ = writeln!(
            x,
            "<CdtTrfTxInf><PmtId><EndToEndId>{e2e}</EndToEndId></PmtId><Amt><InstdAmt Ccy=\"EUR\">{amount}</InstdAmt></Amt>\
             {creditor_agent}<Cdtr><Nm>{holder}</Nm></Cdtr><CdtrAcct><Id><IBAN>{iban}</IBAN></Id></CdtrAcct>\
             <RmtInf><Ustrd>{reference}</Ustrd></RmtInf></CdtTrfTxInf>",
            e2e = l.id.simple(),
            amount = crate::money::decimal(l.amount_minor),
            holder = name70(&l.holder),
            iban = xml(&l.bank.iban),
            reference = xml(&reference(l.id)),
        );
    }
    x.push_str("</PmtInf>\n</CstmrCdtTrfInitn>\n</Document>\n");
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("Ann Lee"), "Ann Lee");
        assert_eq!(csv_field("Lee, Ann"), "\"Lee, Ann\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-5"), "'-5");
        assert_eq!(xml("A&B <C>"), "A&amp;B &lt;C&gt;");
        assert_eq!(name70(&"x".repeat(90)).len(), 70);
    }
}
