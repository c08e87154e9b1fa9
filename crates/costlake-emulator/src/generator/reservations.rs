//! The enrollment's reservations: four orders bought over its periods (paid up front or
//! monthly, one of them refunded), their daily use by the virtual machines of their region,
//! the purchase and refund transactions, and the purchase recommendations a look-back over
//! the usage would make. Everything follows from the seed. The purchases are not among the
//! usage rows nor in the balance: the reservation datasets stand apart, as the EA API's did.

use chrono::{Datelike, Duration, NaiveDate};

use super::{Enrollment, FAMILIES, REGIONS, guid, hash};

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

/// What the generator buys: size, quantity, term, period, monthly billing, and the period it
/// is returned in.
type Bought = (usize, u32, &'static str, usize, bool, Option<usize>);

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
        // (size, quantity, term, period, recurring, refunded in period)
        let plan: [Bought; 4] = [
            (0, 4, "P1Y", 0, false, None),
            (1, 2, "P3Y", 1.min(last), true, None),
            (2, 6, "P1Y", 0, false, Some(2.min(last))),
            (3, 1, "P1Y", 3.min(last), false, None),
        ];
        let mut out = Vec::new();
        for (i, &(size, quantity, term, period, recurring, refund)) in plan.iter().enumerate() {
            let s = &SIZES[size];
            let h = hash(&[seed, 0x2E5, i as u64]);
            let p = self.periods[period].id;
            let purchased = p.first_day() + Duration::days((h % 20) as i64 + 2);
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
