//! Money: an amount in minor units (cents) of an ISO 4217 currency, as every feature that
//! prices or pays something holds it, and how people read and type it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount of money: minor units (cents) of an ISO 4217 currency (upper case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Minor units (cents).
    pub minor: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

impl Money {
    /// `minor` units of `currency`.
    pub fn new(minor: impl Into<i64>, currency: impl Into<String>) -> Money {
        Money {
            minor: minor.into(),
            currency: currency.into(),
        }
    }

    /// As people read it (`12.50 EUR`).
    pub fn text(&self) -> String {
        text(self.minor, &self.currency)
    }
}

/// `12.50 EUR` from minor units.
pub fn text(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", m / 100, m % 100)
}

/// An amount as people type it (`5`, `4.99`, `4,99`) in minor units; `None` when it is not
/// one (negative, more than two decimals, not a number, absurdly large).
pub fn minor_units(typed: &str) -> Option<i64> {
    let t = typed.trim().replace(',', ".");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(frac.is_empty() || (frac.len() <= 2 && digits(frac))) {
        return None;
    }
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse::<i64>().ok()?,
    };
    Some(whole.parse::<i64>().ok()? * 100 + cents)
}

/// Minor units as a form shows them (`4.99`).
pub fn decimal(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_type_them() {
        assert_eq!(minor_units("5"), Some(500));
        assert_eq!(minor_units(" 4.99 "), Some(499));
        assert_eq!(minor_units("4,5"), Some(450));
        assert_eq!(minor_units("0.05"), Some(5));
        for bad in [
            "",
            "-1",
            "1.234",
            "abc",
            ".5",
            "1e3",
            "9999999999",
            "1.-1",
            "1.5.0",
        ] {
            assert_eq!(minor_units(bad), None, "{bad}");
        }
        assert_eq!(text(1250, "EUR"), "12.50 EUR");
        assert_eq!(text(-5, "USD"), "-0.05 USD");
        assert_eq!(decimal(499), "4.99");
        assert_eq!(
            decimal(-99),
            "-0.99",
            "a refund under one unit keeps its sign"
        );
        assert_eq!(decimal(-150), "-1.50");
        assert_eq!(decimal(0), "0.00");
        assert_eq!(Money::new(1250, "EUR").text(), "12.50 EUR");
    }
}
