//! What the driver reads from the server around the measured part: its CPU time and RSS from
//! /proc, and (our server only) its own count of password checks and their CPU time.

use serde_json::{json, Value};
use url::Url;

use crate::http::{Call, Conn, Jar};

pub fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The value at fraction `p` of sorted `lat` (0 when empty), as flows.mjs picks it.
pub fn percentile(lat: &[f64], p: f64) -> f64 {
    let i = ((lat.len() as f64 * p).floor() as usize).min(lat.len().saturating_sub(1));
    lat.get(i).map_or(0.0, |v| r2(*v))
}

/// One reading of the server.
pub struct Sample {
    pid: Option<u32>,
    cpu_s: Option<f64>,
    db_cpu_s: Option<f64>,
    /// The counters from our server's metrics endpoints, summed.
    counters: Option<Counters>,
}

fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let clk = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / clk)
}

/// The CPU seconds of all of `pids` (`None` when there are none; a process gone counts 0).
fn total_cpu_seconds(pids: &[u32]) -> Option<f64> {
    (!pids.is_empty()).then(|| pids.iter().filter_map(|p| cpu_seconds(*p)).sum())
}

fn status_mb(pid: u32, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(r2(kb / 1024.0))
}

/// Password checks and their CPU seconds; group-commit flushes, their seconds, and the requests
/// that waited for one; statement flights to PostgreSQL.
#[derive(Default)]
struct Counters {
    checks: f64,
    check_cpu_s: f64,
    flushes: f64,
    flush_s: f64,
    flush_waits: f64,
    round_trips: f64,
    conflicts: f64,
}

async fn counters(metrics: &str) -> Option<Counters> {
    let url = Url::parse(metrics).ok()?;
    let r = Conn::new(&url)
        .ok()?
        .send(&mut Jar::default(), Call::get(&url))
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&r.body);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok())
    };
    Some(Counters {
        checks: value("oidc_password_checks_total")?,
        check_cpu_s: value("oidc_password_check_cpu_seconds_total")?,
        flushes: value("oidc_store_flushes_total")?,
        flush_s: value("oidc_store_flush_seconds_total")?,
        flush_waits: value("oidc_store_flush_waits_total")?,
        round_trips: value("oidc_database_round_trips_total").unwrap_or(0.0),
        conflicts: value("oidc_database_conflicts_total").unwrap_or(0.0),
    })
}

impl Sample {
    pub async fn take(pids: &[u32], db_pids: &[u32], metrics: &[String]) -> Sample {
        let mut sum: Option<Counters> = None;
        for m in metrics {
            if let Some(c) = counters(m).await {
                let s = sum.get_or_insert_with(Counters::default);
                s.checks += c.checks;
                s.check_cpu_s += c.check_cpu_s;
                s.flushes += c.flushes;
                s.flush_s += c.flush_s;
                s.flush_waits += c.flush_waits;
                s.round_trips += c.round_trips;
                s.conflicts += c.conflicts;
            }
        }
        Sample {
            pid: pids.first().copied(),
            cpu_s: total_cpu_seconds(pids),
            db_cpu_s: total_cpu_seconds(db_pids),
            counters: sum,
        }
    }

    /// Adds the server's CPU per flow, RSS, password-check share, flushes, and the database's
    /// CPU and round trips per flow to `out`.
    pub fn report(before: &Sample, after: &Sample, flows: u64, out: &mut Value) {
        let per_flow = flows.max(1) as f64;
        if let (Some(pid), Some(c0), Some(c1)) = (after.pid, before.cpu_s, after.cpu_s) {
            out["server_cpu_s"] = json!(r2(c1 - c0));
            out["server_cpu_us_per_req"] = json!((1e6 * (c1 - c0) / per_flow).round() as i64);
            out["rss_mb_after"] = json!(status_mb(pid, "VmRSS"));
            out["rss_mb_peak_process"] = json!(status_mb(pid, "VmHWM"));
        }
        if let (Some(c0), Some(c1)) = (before.db_cpu_s, after.db_cpu_s) {
            out["db_cpu_us_per_req"] = json!((1e6 * (c1 - c0) / per_flow).round() as i64);
        }
        if let (Some(b), Some(a)) = (&before.counters, &after.counters) {
            let (checks, check_s) = (a.checks - b.checks, a.check_cpu_s - b.check_cpu_s);
            out["password_checks"] = json!(checks as i64);
            out["password_check_cpu_us"] = json!((1e6 * check_s / checks.max(1.0)).round() as i64);
            out["password_check_cpu_us_per_flow"] = json!((1e6 * check_s / per_flow).round() as i64);
            let flushes: f64 = a.flushes - b.flushes;
            out["store_flushes"] = json!(flushes as i64);
            out["store_flush_waits"] = json!((a.flush_waits - b.flush_waits) as i64);
            out["store_flush_us_each"] = json!((1e6 * (a.flush_s - b.flush_s) / flushes.max(1.0)).round() as i64);
            out["db_round_trips_per_req"] = json!(r2((a.round_trips - b.round_trips) / per_flow));
            out["db_conflicts"] = json!((a.conflicts - b.conflicts) as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_as_flows_mjs_does() {
        let lat: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&lat, 0.5), 51.0);
        assert_eq!(percentile(&lat, 0.99), 100.0);
        assert_eq!(percentile(&[], 0.99), 0.0);
    }

    #[test]
    fn this_process_cpu_and_rss_are_read_from_proc() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some_and(|s| s >= 0.0));
        assert!(status_mb(me, "VmRSS").is_some_and(|mb| mb > 0.0));
        assert_eq!(status_mb(me, "NoSuchKey"), None);
    }
}
