//! The enrollment's reservations: six orders bought over its periods (paid up front or
//! monthly, one of them refunded, one exchanged for another on the day it is returned), their
//! daily use by the virtual machines of their region, the purchase and refund transactions,
//! and the purchase recommendations a look-back over the usage would make. Everything follows from the seed. The purchases are not among the
//! usage rows nor in the balance: the reservation datasets stand apart, as the EA API's did.
//! Cost exports may carry them as commitment charges ([`Enrollment::commitment_charges`]):
//! the purchases and refunds in actual cost, each day's share of the month's charge, split
//! between the hours used and unused, in amortized cost.

use chrono::{Datelike, Duration, NaiveDate};

use super::{COST_SCALE, Enrollment, FAMILIES, PeriodId, REGIONS, guid, hash};

/// Scale of reserved and used hours.
pub const HOURS_SCALE: u32 = 2;
/// Scale of reservation prices and amounts.
pub const AMOUNT_SCALE: u32 = 4;

/// A reservable size: ARM SKU name, flexibility group, ratio within it, price per hour at
/// [`AMOUNT_SCALE`], and the generator's meter family it reserves.
struct Size {
    sku: &'static str,
    group: &'static str,
    ratio: &'static str,
    hourly: i64,
    family: usize,
}

static SIZES: &[Size] = &[
    Size {
        sku: "Standard_D2s_v3",
        group: "DSv3 Series",
        ratio: "1",
        hourly: 620,
        family: 0,
    },
    Size {
        sku: "Standard_D4s_v3",
        group: "DSv3 Series",
        ratio: "2",
        hourly: 1240,
        family: 0,
    },
    Size {
        sku: "Standard_B2s",
        group: "BS Series",
        ratio: "1",
        hourly: 260,
        family: 1,
    },
    Size {
        sku: "Standard_D8s_v3",
        group: "DSv3 Series",
        ratio: "4",
        hourly: 2480,
        family: 0,
    },
];

/// What the generator buys: size, quantity, term, period, monthly billing, the period it is
/// returned in, and the order it is exchanged for (bought the day this one is returned).
type Bought = (
    usize,
    u32,
    &'static str,
    usize,
    bool,
    Option<usize>,
    Option<usize>,
);

pub struct Reservation {
    pub order_id: String,
    pub id: String,
    pub order_name: String,
    pub sku: &'static str,
    pub flex_group: &'static str,
    pub flex_ratio: &'static str,
    pub region: usize,
    pub quantity: u32,
    /// `P1Y` or `P3Y`.
    pub term: &'static str,
    pub purchased: NaiveDate,
    /// Billed monthly rather than up front.
    pub recurring: bool,
    /// One month's charge, at [`AMOUNT_SCALE`].
    pub monthly: i128,
    pub subscription: usize,
    /// The day it was returned, if it was: it covers no day from then on.
    pub refunded: Option<NaiveDate>,
    /// Resource indexes of the virtual machines it can apply to.
    pub instances: Vec<usize>,
}

impl Reservation {
    fn months(&self) -> u32 {
        if self.term == "P3Y" { 36 } else { 12 }
    }

    /// The last day it covers.
    pub fn last_day(&self) -> NaiveDate {
        let end = self
            .purchased
            .checked_add_months(chrono::Months::new(self.months()))
            .expect("a date within range")
            - Duration::days(1);
        match self.refunded {
            Some(r) => end.min(r - Duration::days(1)),
            None => end,
        }
    }

    /// What the up-front purchase cost, at [`AMOUNT_SCALE`].
    pub fn upfront(&self) -> i128 {
        self.monthly * self.months() as i128
    }
}

/// One day of one reservation on one instance.
pub struct ReservationDay<'a> {
    pub date: NaiveDate,
    pub reservation: &'a Reservation,
    /// The instance the hours applied to, or `None` on a day no VM used it.
    pub instance: Option<&'a str>,
    /// At [`HOURS_SCALE`].
    pub reserved_hours: i128,
    pub used_hours: i128,
}

/// A purchase or a refund.
pub struct ReservationEvent<'a> {
    pub date: NaiveDate,
    pub reservation: &'a Reservation,
    /// `Purchase` or `Refund`.
    pub kind: &'static str,
    /// At [`AMOUNT_SCALE`]; negative for a refund.
    pub amount: i128,
}

/// What a reservation's row in a cost export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitmentKind {
    Purchase,
    Refund,
    /// Hours a virtual machine used: at no cost in actual cost, at their share of the day's
    /// amortized charge in amortized cost.
    Used,
    /// Hours reserved and not used (amortized cost only).
    Unused,
}

/// A reservation's row in a cost export (see [`Enrollment::commitment_charges`]).
pub struct CommitmentCharge<'a> {
    pub date: NaiveDate,
    pub reservation: &'a Reservation,
    pub kind: CommitmentKind,
    /// Hours at [`HOURS_SCALE`]; for a purchase or refund, the reservations bought.
    pub quantity: i128,
    /// At [`COST_SCALE`]; negative for a refund.
    pub cost: i128,
    /// The virtual machine the used hours ran on.
    pub instance: Option<&'a str>,
}

/// A day's share of a month's charge (`monthly` at [`AMOUNT_SCALE`]), at [`COST_SCALE`]: day
/// `k` (from 0) of a month of `D` days gets ⌊(k+1)·M/D⌋ − ⌊k·M/D⌋, so that the shares of days
/// `a..b` add up to ⌊b·M/D⌋ − ⌊a·M/D⌋ and a whole month's to the charge exactly. This is the
/// emulator's amortization schedule: a reservation's cost is spread over the days it covers,
/// each month's charge over that month's days.
pub fn amortized_share(monthly: i128, day: NaiveDate) -> i128 {
    let m = monthly * 10i128.pow(COST_SCALE - AMOUNT_SCALE);
    let days = PeriodId::of_date(day).days() as i128;
    let k = day.day0() as i128;
    (k + 1) * m / days - k * m / days
}

/// `n / d` rounded half to even (`n` ≥ 0, `d` > 0).
fn div_half_even(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 == 1 => q + 1,
        _ => q,
    }
}

/// A purchase recommendation over a look-back of `days`.
pub struct Recommendation<'a> {
    pub id: String,
    pub sku: &'static str,
    pub flex_group: &'static str,
    pub flex_ratio: &'static str,
    pub region: usize,
    pub meter_id: &'a str,
    /// `Some(subscription index)` for a `Single` recommendation, `None` for `Shared`.
    pub subscription: Option<usize>,
    pub quantity: u32,
    /// At [`AMOUNT_SCALE`].
    pub cost_without: i128,
    pub cost_with: i128,
    pub first_usage: NaiveDate,
    pub total_hours: u32,
}

impl Enrollment {
    /// The reservations bought by today, in purchase order.
    pub fn reservations(&self) -> Vec<Reservation> {
        let seed = self.spec.seed;
        let vms: Vec<usize> = (0..self.resources.len())
            .filter(|&r| FAMILIES[self.resources[r].family].resource_type == "virtualMachines")
            .collect();
        let last = self.periods.len() - 1;
        // (size, quantity, term, period, recurring, refunded in period, exchanged for)
        let plan: [Bought; 6] = [
            (0, 4, "P1Y", 0, false, None, None),
            (1, 2, "P3Y", 1.min(last), true, None, None),
            (2, 6, "P1Y", 0, false, Some(2.min(last)), None),
            (3, 1, "P1Y", 3.min(last), false, None, None),
            (0, 3, "P1Y", 1.min(last), false, Some(3.min(last)), Some(5)),
            (1, 1, "P1Y", 3.min(last), false, None, None),
        ];
        let mut out: Vec<Reservation> = Vec::new();
        let mut exchanges: Vec<(usize, NaiveDate)> = Vec::new();
        for (i, &(size, quantity, term, period, recurring, refund, exchange)) in
            plan.iter().enumerate()
        {
            let s = &SIZES[size];
            let h = hash(&[seed, 0x2E5, i as u64]);
            let p = self.periods[period].id;
            let purchased = match exchanges.iter().find(|(order, _)| *order == i) {
                Some(&(_, day)) => day,
                None => p.first_day() + Duration::days((h % 20) as i64 + 2),
            };
            if purchased > self.spec.today {
                continue;
            }
            let candidates: Vec<usize> = vms
                .iter()
                .copied()
                .filter(|&r| self.resources[r].family == s.family)
                .collect();
            let anchor = candidates
                .get((h >> 8) as usize % candidates.len().max(1))
                .copied();
            let region = anchor.map_or(0, |r| self.resources[r].region);
            let instances: Vec<usize> = candidates
                .into_iter()
                .filter(|&r| self.resources[r].region == region)
                .collect();
            // Returned early in its month, within the days that have data.
            let refunded = refund.filter(|&rp| rp > period).map(|rp| {
                let p = &self.periods[rp];
                p.id.first_day() + Duration::days(4.min(p.days_with_data as i64 - 1))
            });
            if let (Some(day), Some(into)) = (refunded, exchange) {
                exchanges.push((into, day));
            }
            out.push(Reservation {
                order_id: guid(&[seed, 0x2E6, i as u64]),
                id: guid(&[seed, 0x2E7, i as u64]),
                order_name: format!(
                    "VM_RI_{}_{:02}-{:02}",
                    purchased.format("%m-%d-%Y"),
                    10 + i,
                    h % 60
                ),
                sku: s.sku,
                flex_group: s.group,
                flex_ratio: s.ratio,
                region,
                quantity,
                term,
                purchased,
                recurring,
                monthly: s.hourly as i128 * 730 * quantity as i128,
                subscription: anchor.map_or(0, |r| self.resources[r].subscription),
                refunded,
                instances,
            });
        }
        out
    }

    /// The days of `reservations` from `from` to `to` (inclusive), within the data's days,
    /// ordered by date, then reservation.
    pub fn reservation_days<'a>(
        &'a self,
        reservations: &'a [Reservation],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<ReservationDay<'a>> {
        let first = self.periods[0].id.first_day();
        let to = to
            .min(self.spec.today)
            .min(self.periods.last().map_or(first, |p| {
                p.id.first_day() + Duration::days(p.days_with_data as i64 - 1)
            }));
        let mut out = Vec::new();
        let mut day = from.max(first);
        while day <= to {
            for (i, r) in reservations.iter().enumerate() {
                if day < r.purchased || day > r.last_day() {
                    continue;
                }
                let h = hash(&[
                    self.spec.seed,
                    0x2E8,
                    i as u64,
                    day.num_days_from_ce() as u64,
                ]);
                let reserved = 24 * r.quantity as i128 * 10i128.pow(HOURS_SCALE);
                // Used 55 % to 100 % of the reserved hours, to the hundredth of an hour; now
                // and then not at all.
                let (instance, used) = if h.is_multiple_of(23) || r.instances.is_empty() {
                    (None, 0)
                } else {
                    let vm = r.instances[(h >> 8) as usize % r.instances.len()];
                    let pct = 55 + (h >> 20) % 46;
                    (
                        Some(self.resources[vm].instance_id.as_str()),
                        24 * r.quantity as i128 * pct as i128,
                    )
                };
                out.push(ReservationDay {
                    date: day,
                    reservation: r,
                    instance,
                    reserved_hours: reserved,
                    used_hours: used,
                });
            }
            day += Duration::days(1);
        }
        out
    }

    /// The purchases and refunds from `from` to `to` (inclusive), by date: an up-front
    /// reservation is charged once, a monthly one on its purchase day of each month, and a
    /// refund returns the months of an up-front purchase not yet begun.
    pub fn reservation_events<'a>(
        &self,
        reservations: &'a [Reservation],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<ReservationEvent<'a>> {
        let mut out = Vec::new();
        for r in reservations {
            let mut charge = r.purchased;
            while charge <= r.last_day() && charge <= self.spec.today {
                out.push(ReservationEvent {
                    date: charge,
                    reservation: r,
                    kind: "Purchase",
                    amount: if r.recurring { r.monthly } else { r.upfront() },
                });
                if !r.recurring {
                    break;
                }
                charge = charge
                    .checked_add_months(chrono::Months::new(1))
                    .expect("a date");
            }
            if let Some(day) = r.refunded {
                let used = (day.year() - r.purchased.year()) * 12 + day.month() as i32
                    - r.purchased.month() as i32
                    + 1;
                let left = r.months() as i128 - used as i128;
                out.push(ReservationEvent {
                    date: day,
                    reservation: r,
                    kind: "Refund",
                    amount: -(r.monthly * left.max(0)),
                });
            }
        }
        out.retain(|e| e.date >= from && e.date <= to);
        out.sort_by_key(|e| e.date);
        out
    }

    /// The reservations' rows of a cost export of `period`, for the days before `until`: in
    /// actual cost (`amortized` false) the purchases and refunds, and the hours used at no
    /// cost; in amortized cost each day's [`amortized_share`] of the month's charge, split
    /// between the hours used (rounded half to even) and the hours unused (the rest), and no
    /// purchase. The days after a refund are not amortized: the refund returns only the months
    /// not yet begun.
    pub fn commitment_charges<'a>(
        &'a self,
        reservations: &'a [Reservation],
        period: PeriodId,
        amortized: bool,
        until: NaiveDate,
    ) -> Vec<CommitmentCharge<'a>> {
        let last = until - Duration::days(1);
        let mut out = Vec::new();
        if !amortized {
            for event in self.reservation_events(
                reservations,
                period.first_day(),
                last.min(period.last_day()),
            ) {
                out.push(CommitmentCharge {
                    date: event.date,
                    reservation: event.reservation,
                    kind: if event.kind == "Refund" {
                        CommitmentKind::Refund
                    } else {
                        CommitmentKind::Purchase
                    },
                    quantity: event.reservation.quantity as i128 * 10i128.pow(HOURS_SCALE),
                    cost: event.amount * 10i128.pow(COST_SCALE - AMOUNT_SCALE),
                    instance: None,
                });
            }
        }
        for day in self.reservation_days(
            reservations,
            period.first_day(),
            last.min(period.last_day()),
        ) {
            let share = amortized_share(day.reservation.monthly, day.date);
            let used = if amortized {
                div_half_even(share * day.used_hours, day.reserved_hours)
            } else {
                0
            };
            let charge = |kind, quantity, cost, instance| CommitmentCharge {
                date: day.date,
                reservation: day.reservation,
                kind,
                quantity,
                cost,
                instance,
            };
            if day.used_hours > 0 {
                out.push(charge(
                    CommitmentKind::Used,
                    day.used_hours,
                    used,
                    day.instance,
                ));
            }
            if amortized && day.used_hours < day.reserved_hours {
                out.push(charge(
                    CommitmentKind::Unused,
                    day.reserved_hours - day.used_hours,
                    share - used,
                    None,
                ));
            }
        }
        out.sort_by_key(|c| c.date);
        out
    }

    /// The recommendations of a look-back of `days` ending today: per virtual machine size
    /// used in a region, one for the whole enrollment (`Shared`) and one for the subscription
    /// that uses it most (`Single`), sized to what ran steadily.
    pub fn reservation_recommendations(&self, days: u32) -> Vec<Recommendation<'_>> {
        let seed = self.spec.seed;
        let mut out = Vec::new();
        for (i, s) in SIZES.iter().enumerate().take(3) {
            let h = hash(&[seed, 0x2E9, i as u64]);
            let region = (h % REGIONS.len() as u64) as usize;
            let Some(meter) = self
                .meters
                .iter()
                .find(|m| m.family == s.family && m.region == region)
            else {
                continue;
            };
            for single in [false, true] {
                let quantity = 1 + ((h >> 8) % 5) as u32 + u32::from(!single);
                let hours = days * 24;
                let cost_without = s.hourly as i128 * 10 / 7 * hours as i128 * quantity as i128;
                let cost_with =
                    s.hourly as i128 * hours as i128 * quantity as i128 + (h % 1000) as i128 * 100;
                out.push(Recommendation {
                    id: guid(&[seed, 0x2EA, i as u64, single as u64, days as u64]),
                    sku: s.sku,
                    flex_group: s.group,
                    flex_ratio: s.ratio,
                    region,
                    meter_id: &meter.id,
                    subscription: single.then(|| (h >> 16) as usize % self.subscriptions.len()),
                    quantity,
                    cost_without,
                    cost_with,
                    first_usage: self.spec.today - Duration::days(days as i64 - 1),
                    total_hours: hours,
                });
            }
        }
        out
    }
}
