//! One memory budget for a whole run: every unit of a `sync` or an `ingest` takes its large
//! buffers from the same [`MemoryBudget`] (answers held whole, decoding chunks, the open row
//! group of each partition file), so the process stays near the budget however many units run
//! at once, instead of each unit being bounded alone.
//!
//! A unit that finds no room gives back what it can first (it writes its decoded chunks and
//! flushes its row group), then waits; so a unit only ever waits holding nothing of the budget,
//! and the units cannot wait for one another in a circle. A request larger than the whole
//! budget is cut to the whole budget: it runs alone, slowly, rather than never.
//!
//! Built on tokio's semaphore, whose waiters are served in order: once a unit waits, others'
//! attempts to grow fail, so they flush and give it room. One permit is a KiB.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;

/// The default budget: 256 MiB of buffers.
pub const DEFAULT_MEMORY: u64 = 256 << 20;

/// Bytes per permit.
const GRAIN: u64 = 1024;

/// The budget shared by the units of a run; cloning shares it.
#[derive(Clone)]
pub struct MemoryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    permits: Semaphore,
    /// The budget, in permits.
    total: u32,
    /// The most permits reserved at once so far.
    peak: AtomicU64,
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryBudget({} bytes)", self.bytes())
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::new(DEFAULT_MEMORY)
    }
}

/// Permits for `bytes`, rounded up.
fn permits(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(GRAIN)).unwrap_or(u32::MAX)
}

impl MemoryBudget {
    /// A budget of `bytes` (at least one KiB; at most what a semaphore counts, 4 TiB).
    pub fn new(bytes: u64) -> MemoryBudget {
        let total = permits(bytes).clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u32);
        MemoryBudget {
            inner: Arc::new(Inner {
                permits: Semaphore::new(total as usize),
                total,
                peak: AtomicU64::new(0),
            }),
        }
    }

    /// The budget in bytes.
    pub fn bytes(&self) -> u64 {
        u64::from(self.inner.total) * GRAIN
    }

    /// The most bytes reserved at once so far.
    pub fn peak(&self) -> u64 {
        self.inner.peak.load(Ordering::Relaxed) * GRAIN
    }

    /// An empty reservation, to grow with [`Reservation::try_resize`].
    pub fn none(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            permits: 0,
        }
    }

    /// Room for `bytes` if there is some now.
    pub fn try_reserve(&self, bytes: u64) -> Option<Reservation> {
        let mut reservation = self.none();
        reservation.try_resize(bytes).then_some(reservation)
    }

    /// Room for `bytes` (at most the whole budget), waiting until other units give it back.
    /// Call it holding nothing of the budget: see the module documentation.
    pub async fn reserve(&self, bytes: u64) -> Reservation {
        let wanted = permits(bytes).min(self.inner.total);
        self.inner
            .permits
            .acquire_many(wanted)
            .await
            .expect("the budget's semaphore is never closed")
            .forget();
        self.note_peak();
        Reservation {
            budget: self.clone(),
            permits: wanted,
        }
    }

    fn note_peak(&self) {
        let used = u64::from(self.inner.total) - self.inner.permits.available_permits() as u64;
        self.inner.peak.fetch_max(used, Ordering::Relaxed);
    }
}

/// Bytes reserved from a [`MemoryBudget`], given back when dropped.
pub struct Reservation {
    budget: MemoryBudget,
    permits: u32,
}

impl Reservation {
    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        u64::from(self.permits) * GRAIN
    }

    /// The budget this is held in.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Holds `bytes` from now on: shrinking always succeeds; growing only if the budget has
    /// the room now (never past the whole budget), else nothing changes and this is `false`.
    pub fn try_resize(&mut self, bytes: u64) -> bool {
        let wanted = permits(bytes);
        if wanted <= self.permits {
            self.budget
                .inner
                .permits
                .add_permits((self.permits - wanted) as usize);
            self.permits = wanted;
            return true;
        }
        match self
            .budget
            .inner
            .permits
            .try_acquire_many(wanted - self.permits)
        {
            Ok(permit) => {
                permit.forget();
                self.permits = wanted;
                self.budget.note_peak();
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.inner.permits.add_permits(self.permits as usize);
    }
}

/// Parses a size as the command line takes it: `256MB`, `1.5GiB`, `512k`, or bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write it like 256MB, 1GB or 512KB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "`{other}` is not a unit of size: use KB, MB or GB (powers of 1024)"
            ));
        }
    };
    let bytes = number * scale as f64;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("`{text}` is not a size of memory"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_give_back_what_they_hold() {
        let budget = MemoryBudget::new(10 << 10);
        let mut a = budget.try_reserve(6 << 10).expect("room");
        assert!(budget.try_reserve(5 << 10).is_none());
        assert!(a.try_resize(2 << 10));
        let b = budget.try_reserve(8 << 10).expect("room after shrinking");
        assert!(!a.try_resize(3 << 10), "growing past the budget fails");
        assert_eq!(a.bytes(), 2 << 10);
        drop(b);
        assert!(a.try_resize(10 << 10));
        assert_eq!(budget.peak(), 10 << 10);
    }

    #[tokio::test]
    async fn a_waiting_unit_gets_room_when_another_gives_it_back() {
        let budget = MemoryBudget::new(4 << 10);
        let held = budget.try_reserve(3 << 10).expect("room");
        let waiter = tokio::spawn({
            let budget = budget.clone();
            async move { budget.reserve(2 << 10).await.bytes() }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        // While a unit waits, the room left is kept for it: others' attempts to grow fail,
        // so they flush instead of starving it.
        assert!(budget.try_reserve(1 << 10).is_none());
        drop(held);
        assert_eq!(waiter.await.unwrap(), 2 << 10);
        // More than the whole budget is the whole budget.
        assert_eq!(budget.reserve(1 << 30).await.bytes(), 4 << 10);
    }

    #[test]
    fn sizes_parse_as_the_command_line_writes_them() {
        assert_eq!(parse_size("256MB"), Ok(256 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("0").is_err());
    }
}
