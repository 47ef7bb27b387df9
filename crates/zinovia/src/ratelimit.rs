//! Rate limits with GCRA (the generic cell rate algorithm): each key has a "theoretical
//! arrival time"; a request is allowed when that time, pushed one interval forward, stays
//! within one period from now. In Redis (`REDIS_URL`) the check is one Lua script using
//! Redis's own clock, so every server process shares the limit and it is atomic; without
//! Redis the same algorithm runs in process memory.
//!
//! Keys are hashed before use, so emails and IPs never reach Redis in the clear. If Redis
//! fails mid-flight the request is let through and the failure logged: an outage of the
//! limiter must not lock everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::Rate;

const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local emission = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission
local wait = new_tat - now - period
if wait > 0 then return wait end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return 0
";

/// Checks and records requests against rates.
pub struct RateLimiter {
    backend: Backend,
}

enum Backend {
    Redis {
        conn: redis::aio::ConnectionManager,
        script: redis::Script,
    },
    Memory {
        start: Instant,
        tats: Mutex<HashMap<String, u64>>,
    },
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend {
            Backend::Redis { .. } => "redis",
            Backend::Memory { .. } => "memory",
        };
        f.debug_struct("RateLimiter")
            .field("backend", &kind)
            .finish()
    }
}

impl RateLimiter {
    /// Redis when `redis_url` is given (connecting now, so a wrong URL fails start-up),
    /// otherwise in process memory.
    pub async fn connect(redis_url: Option<&SecretString>) -> anyhow::Result<RateLimiter> {
        let Some(url) = redis_url else {
            return Ok(RateLimiter::in_memory());
        };
        let client = redis::Client::open(url.expose_secret())
            .context("REDIS_URL is not a valid Redis URL")?;
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            redis::aio::ConnectionManager::new(client),
        )
        .await
        .context("connecting to Redis (REDIS_URL) timed out")?
        .context("cannot connect to Redis (REDIS_URL)")?;
        Ok(RateLimiter {
            backend: Backend::Redis {
                conn,
                script: redis::Script::new(GCRA_LUA),
            },
        })
    }

    /// Limits kept in this process only.
    pub fn in_memory() -> RateLimiter {
        RateLimiter {
            backend: Backend::Memory {
                start: Instant::now(),
                tats: Mutex::new(HashMap::new()),
            },
        }
    }

    /// Records one request for `key` in `bucket`; `Err(retry_after)` when over `rate`.
    pub async fn check(&self, bucket: &str, rate: Rate, key: &str) -> Result<(), Duration> {
        // In microseconds, so rates of more than 1,000 requests a second stay exact.
        let period = u64::try_from(rate.period.as_micros()).unwrap_or(u64::MAX);
        let emission = (period / u64::from(rate.limit)).max(1);
        let digest = Sha256::digest(key.as_bytes());
        let key = format!("zinovia:rl:{bucket}:{}", hex::encode(&digest[..16]));
        match &self.backend {
            Backend::Redis { conn, script } => {
                let mut conn = conn.clone();
                let result: Result<u64, _> = script
                    .key(&key)
                    .arg(emission)
                    .arg(period)
                    .invoke_async(&mut conn)
                    .await;
                match result {
                    Ok(0) => Ok(()),
                    Ok(wait) => Err(Duration::from_micros(wait)),
                    Err(e) => {
                        tracing::error!(error = %e, bucket, "rate limiter unavailable; letting the request through");
                        Ok(())
                    }
                }
            }
            Backend::Memory { start, tats } => {
                let now = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                let mut tats = tats
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if tats.len() > 100_000 {
                    tats.retain(|_, tat| *tat > now);
                }
                let tat = tats.get(&key).copied().unwrap_or(now).max(now);
                let new_tat = tat + emission;
                if new_tat - now > period {
                    return Err(Duration::from_micros(new_tat - now - period));
                }
                tats.insert(key, new_tat);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gcra_allows_the_burst_then_refuses_with_a_retry_time() {
        let limiter = RateLimiter::in_memory();
        let rate: Rate = "10/15m".parse().unwrap();
        for i in 0..10 {
            assert!(
                limiter.check("login", rate, "a").await.is_ok(),
                "request {i}"
            );
        }
        let wait = limiter.check("login", rate, "a").await.unwrap_err();
        assert!(
            wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        // Other keys and buckets are independent.
        assert!(limiter.check("login", rate, "b").await.is_ok());
        assert!(limiter.check("signup", rate, "a").await.is_ok());
    }

    #[tokio::test]
    async fn rates_above_a_thousand_a_second_are_exact() {
        let limiter = RateLimiter::in_memory();
        let rate: Rate = "20000/1s".parse().unwrap();
        // The whole burst goes through (more, as time passes during the loop), then the
        // limit holds.
        let mut allowed = 0;
        while allowed < 1_000_000 && limiter.check("api", rate, "k").await.is_ok() {
            allowed += 1;
        }
        assert!((20_000..1_000_000).contains(&allowed), "{allowed}");
    }

    #[tokio::test]
    async fn capacity_returns_over_time() {
        let limiter = RateLimiter::in_memory();
        let rate: Rate = "2/200ms".parse().unwrap();
        assert!(limiter.check("b", rate, "k").await.is_ok());
        assert!(limiter.check("b", rate, "k").await.is_ok());
        assert!(limiter.check("b", rate, "k").await.is_err());
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(
            limiter.check("b", rate, "k").await.is_ok(),
            "one slot back after one interval"
        );
    }
}
