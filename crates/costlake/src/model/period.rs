//! Billing periods: a calendar month written `yyyyMM`, and which periods a sync asks for.

use chrono::{Datelike, Duration, NaiveDate};

/// A billing period: a calendar month, `yyyyMM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeriodId(pub u32);

impl PeriodId {
    pub fn parse(s: &str) -> Option<PeriodId> {
        let s = s.trim();
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u32 = s.parse().ok()?;
        let (y, m) = (n / 100, n % 100);
        if !(1..=12).contains(&m) || !(2000..=2999).contains(&y) {
            return None;
        }
        Some(PeriodId(n))
    }
    pub fn of_date(d: NaiveDate) -> PeriodId {
        PeriodId(d.year() as u32 * 100 + d.month())
    }
    pub fn year(self) -> i32 {
        (self.0 / 100) as i32
    }
    pub fn month(self) -> u32 {
        self.0 % 100
    }
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.month(), 1).expect("valid period")
    }
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day() - Duration::days(1)
    }
    pub fn next(self) -> PeriodId {
        if self.month() == 12 {
            PeriodId((self.year() as u32 + 1) * 100 + 1)
        } else {
            PeriodId(self.0 + 1)
        }
    }
    pub fn prev(self) -> PeriodId {
        if self.month() == 1 {
            PeriodId((self.year() as u32 - 1) * 100 + 12)
        } else {
            PeriodId(self.0 - 1)
        }
    }
    pub fn days(self) -> u32 {
        self.last_day().day()
    }
}

impl std::fmt::Display for PeriodId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// Which billing periods to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodSelection {
    /// Every period the source lists.
    All,
    /// From one period to another, inclusive.
    Range(PeriodId, PeriodId),
    /// From a period on.
    Since(PeriodId),
    /// The months covering a date range (the EA API asks for them through its custom-date
    /// endpoints).
    Dates(NaiveDate, NaiveDate),
}

impl PeriodSelection {
    /// Parses `202301..202306` or a single `202301`.
    pub fn parse_range(s: &str) -> Result<PeriodSelection, String> {
        let bad =
            || format!("'{s}' is not a period range; write 202301..202306 (or one period, 202301)");
        match s.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (
                    PeriodId::parse(a).ok_or_else(bad)?,
                    PeriodId::parse(b).ok_or_else(bad)?,
                );
                if a > b {
                    return Err(format!("'{s}': the first period comes after the last"));
                }
                Ok(PeriodSelection::Range(a, b))
            }
            None => {
                let p = PeriodId::parse(s).ok_or_else(bad)?;
                Ok(PeriodSelection::Range(p, p))
            }
        }
    }

    /// The earliest period asked for by name, if any.
    pub fn first(&self) -> Option<PeriodId> {
        match *self {
            PeriodSelection::All => None,
            PeriodSelection::Range(a, _) | PeriodSelection::Since(a) => Some(a),
            PeriodSelection::Dates(a, _) => Some(PeriodId::of_date(a)),
        }
    }

    pub fn includes(&self, p: PeriodId) -> bool {
        match *self {
            PeriodSelection::All => true,
            PeriodSelection::Range(a, b) => a <= p && p <= b,
            PeriodSelection::Since(a) => a <= p,
            PeriodSelection::Dates(a, b) => PeriodId::of_date(a) <= p && p <= PeriodId::of_date(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_ranges_parse() {
        assert_eq!(
            PeriodSelection::parse_range("202301..202306"),
            Ok(PeriodSelection::Range(PeriodId(202301), PeriodId(202306)))
        );
        assert_eq!(
            PeriodSelection::parse_range("202301"),
            Ok(PeriodSelection::Range(PeriodId(202301), PeriodId(202301)))
        );
        assert!(PeriodSelection::parse_range("202306..202301").is_err());
        assert!(PeriodSelection::parse_range("2023-01").is_err());
    }

    #[test]
    fn periods_step_over_years() {
        assert_eq!(PeriodId(202312).next(), PeriodId(202401));
        assert_eq!(PeriodId(202401).prev(), PeriodId(202312));
        assert_eq!(PeriodId(202402).days(), 29);
        assert_eq!(PeriodId::parse("202413"), None);
    }
}
