//! Per-key rate limits with GCRA (one theoretical arrival time per key and dimension), in process
//! or shared between replicas through Redis, where the read-modify-write is one Lua script so
//! concurrent replicas cannot both spend the same allowance.

use crate::resp::RedisPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Admitted; the limit's backlog after this charge (the time until a full burst fits
    /// again).
    Allow(Duration),
    /// Refused; retry after this long.
    Deny(Duration),
    /// The shared store did not answer and the policy is to fail closed.
    Unavailable,
}

/// How long the shared store is left alone after it failed before it is tried again (meanwhile
/// the failure policy decides at once instead of every request waiting for a timeout).
const STORE_RETRY_US: u64 = 1_000_000;

/// One GCRA limit: `per_minute` units per minute with room for a burst of `capacity` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Sustained units per minute.
    pub per_minute: u64,
    /// Largest burst in units (at least 1).
    pub capacity: u64,
}

impl Limit {
    /// Emission interval in microseconds.
    fn t_us(self) -> u64 {
        (60_000_000 / self.per_minute.max(1)).max(1)
    }
}

/// GCRA step on one theoretical arrival time (microseconds). `cost` may be negative (a refund
/// when the upstream used fewer tokens than pre-charged). With `force`, the charge is applied even
/// when over the limit (settling usage that already happened). Returns the new TAT and decision.
pub fn gcra(tat: u64, now: u64, limit: Limit, cost: i64, force: bool) -> (u64, Decision) {
    let t = limit.t_us();
    let base = tat.max(now);
    let delta = (cost.unsigned_abs()).saturating_mul(t);
    let new = if cost >= 0 {
        base.saturating_add(delta)
    } else {
        base.saturating_sub(delta).max(now)
    };
    let allowance = limit.capacity.max(1).saturating_mul(t);
    if !force && new - now > allowance {
        return (
            tat,
            Decision::Deny(Duration::from_micros(new - now - allowance)),
        );
    }
    (new, Decision::Allow(Duration::from_micros(new - now)))
}

/// The Lua GCRA run atomically inside Redis (clock: Redis `TIME`, microseconds).
pub const REDIS_GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local T = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local force = ARGV[4] == '1'
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new = tat + cost * T
if new < now then new = now end
if (not force) and (new - now > cap * T) then
  return {0, new - now - cap * T}
end
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.floor((new - now) / 1000) + 1000)
return {1, new - now}
"#;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Requests,
    Tokens,
}

impl Dim {
    /// Suffix of the Redis key of a key id's limit.
    fn suffix(self) -> &'static str {
        match self {
            Self::Requests => ":req",
            Self::Tokens => ":tok",
        }
    }
}

/// Rate limiter: in-process state, optionally shared through Redis.
pub struct Limiter {
    start: Instant,
    epoch_us: u64,
    /// Theoretical arrival time per key id: requests, tokens.
    local: Mutex<HashMap<String, [u64; 2]>>,
    redis: Option<RedisPool>,
    /// Redis failures (the local state is used meanwhile).
    pub redis_errors: AtomicU64,
    /// The last Redis operation succeeded (or none was tried yet).
    pub redis_up: AtomicBool,
    /// Redis is not tried again before this time (microseconds, [`Self::now_us`]).
    retry_at: AtomicU64,
    /// Refuse (instead of using the in-process state) while Redis does not answer.
    fail_closed: bool,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("redis", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// An in-process limiter; with `redis`, limits are shared through that server.
    pub fn new(redis: Option<RedisPool>) -> Self {
        let epoch_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        Self {
            start: Instant::now(),
            epoch_us,
            local: Mutex::new(HashMap::new()),
            redis,
            redis_errors: AtomicU64::new(0),
            redis_up: AtomicBool::new(true),
            retry_at: AtomicU64::new(0),
            fail_closed: false,
        }
    }

    /// While the shared store does not answer, refuse requests ([`Decision::Unavailable`])
    /// instead of deciding with this replica's own state.
    pub fn fail_closed(mut self, yes: bool) -> Self {
        self.fail_closed = yes;
        self
    }

    /// What a request gets while the shared store does not answer.
    fn store_down(&self, key: &str, dim: Dim, limit: Limit, cost: i64, force: bool) -> Decision {
        if self.fail_closed && !force {
            return Decision::Unavailable;
        }
        self.charge_local(key, dim, limit, cost, force, self.now_us())
    }

    fn now_us(&self) -> u64 {
        self.epoch_us + self.start.elapsed().as_micros() as u64
    }

    /// Charges like [`Self::charge`] without awaiting when limits are in-process; `None` when
    /// they live in Redis (the caller then awaits [`Self::charge`]).
    pub fn charge_if_local(
        &self,
        key: &str,
        dim: Dim,
        limit: Limit,
        cost: i64,
        force: bool,
    ) -> Option<Decision> {
        if self.redis.is_some() {
            return None;
        }
        Some(self.charge_local(key, dim, limit, cost, force, self.now_us()))
    }

    /// Charges `cost` units to `key`'s `dim` under `limit`. Without `force`, refuses when over the
    /// limit.
    /// When Redis is configured but unreachable, the in-process state decides (each replica then
    /// enforces the limit on its own) and `redis_errors` counts the failure.
    pub async fn charge(
        &self,
        key: &str,
        dim: Dim,
        limit: Limit,
        cost: i64,
        force: bool,
    ) -> Decision {
        if let Some(r) = &self.redis {
            if self.now_us() < self.retry_at.load(Ordering::Relaxed) {
                self.redis_errors.fetch_add(1, Ordering::Relaxed);
                return self.store_down(key, dim, limit, cost, force);
            }
            let args = [
                limit.t_us().to_string(),
                limit.capacity.max(1).to_string(),
                cost.to_string(),
                u8::from(force).to_string(),
            ];
            match r
                .eval_gcra(&format!("lantern:rl:{key}{}", dim.suffix()), &args)
                .await
            {
                Ok((allowed, wait)) => {
                    if !self.redis_up.swap(true, Ordering::Relaxed) {
                        tracing::warn!("redis rate-limit store answers again");
                    }
                    return if allowed == 1 {
                        Decision::Allow(Duration::from_micros(wait.max(0) as u64))
                    } else {
                        Decision::Deny(Duration::from_micros(wait.max(0) as u64))
                    };
                }
                Err(e) => {
                    self.redis_errors.fetch_add(1, Ordering::Relaxed);
                    self.retry_at
                        .store(self.now_us() + STORE_RETRY_US, Ordering::Relaxed);
                    if self.redis_up.swap(false, Ordering::Relaxed) {
                        let policy = if self.fail_closed {
                            "refusing requests (on_store_error = fail_closed)"
                        } else {
                            "using in-process limits (on_store_error = fail_open)"
                        };
                        tracing::error!(error = %e, "redis rate-limit store unavailable; {policy}");
                    }
                    return self.store_down(key, dim, limit, cost, force);
                }
            }
        }
        self.charge_local(key, dim, limit, cost, force, self.now_us())
    }

    /// The in-process GCRA at an explicit time (microseconds).
    pub fn charge_local(
        &self,
        key: &str,
        dim: Dim,
        limit: Limit,
        cost: i64,
        force: bool,
        now: u64,
    ) -> Decision {
        let mut m = match self.local.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let i = dim as usize;
        // the key is usually there already: one lookup, no new `String` per request
        let d = match m.get_mut(key) {
            Some(t) => {
                let (new, d) = gcra(t[i], now, limit, cost, force);
                t[i] = new;
                d
            }
            None => {
                let (new, d) = gcra(0, now, limit, cost, force);
                if new != 0 {
                    let mut t = [0; 2];
                    t[i] = new;
                    m.insert(key.to_string(), t);
                }
                d
            }
        };
        if m.len() > 100_000 {
            // forget keys whose allowances are full again
            m.retain(|_, t| t.iter().any(|&t| t > now));
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_admits_burst_then_steady_rate() {
        let l = Limiter::new(None);
        let lim = Limit {
            per_minute: 60,
            capacity: 3,
        };
        let t0 = 1_000_000_000;
        for _ in 0..3 {
            assert!(matches!(
                l.charge_local("k", Dim::Tokens, lim, 1, false, t0),
                Decision::Allow(_)
            ));
        }
        assert_eq!(
            l.charge_local("k", Dim::Tokens, lim, 1, false, t0),
            Decision::Deny(Duration::from_secs(1))
        );
        // one emission interval later exactly one more fits
        assert!(matches!(
            l.charge_local("k", Dim::Tokens, lim, 1, false, t0 + 1_000_000),
            Decision::Allow(_)
        ));
        assert!(matches!(
            l.charge_local("k", Dim::Tokens, lim, 1, false, t0 + 1_000_000),
            Decision::Deny(_)
        ));
        // other keys, and the other limit of the same key, are independent
        assert!(matches!(
            l.charge_local("other", Dim::Tokens, lim, 1, false, t0),
            Decision::Allow(_)
        ));
        for _ in 0..3 {
            assert!(matches!(
                l.charge_local("k", Dim::Requests, lim, 1, false, t0),
                Decision::Allow(_)
            ));
        }
        assert!(matches!(
            l.charge_local("k", Dim::Requests, lim, 1, false, t0),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn token_settlement_charges_and_refunds() {
        let l = Limiter::new(None);
        let lim = Limit {
            per_minute: 6000,
            capacity: 6000,
        };
        let t0 = 5_000_000_000;
        assert_eq!(
            l.charge_local("k", Dim::Tokens, lim, 5000, false, t0),
            Decision::Allow(Duration::from_secs(50))
        );
        assert!(matches!(
            l.charge_local("k", Dim::Tokens, lim, 2000, false, t0),
            Decision::Deny(_)
        ));
        // upstream reported 1000 tokens fewer than pre-charged: refund
        assert!(matches!(
            l.charge_local("k", Dim::Tokens, lim, -1000, true, t0),
            Decision::Allow(_)
        ));
        assert!(matches!(
            l.charge_local("k", Dim::Tokens, lim, 2000, false, t0),
            Decision::Allow(_)
        ));
        // usage above the limit is still recorded when forced, and then blocks
        assert!(matches!(
            l.charge_local("k", Dim::Tokens, lim, 3000, true, t0),
            Decision::Allow(_)
        ));
        assert!(
            matches!(l.charge_local("k", Dim::Tokens, lim, 1, false, t0), Decision::Deny(d) if d >= Duration::from_secs(30))
        );
        // a single request larger than the whole capacity is never admitted
        assert!(matches!(
            l.charge_local("z", Dim::Tokens, lim, 7000, false, t0),
            Decision::Deny(_)
        ));
    }
}
