//! Counters an operator scrapes: Prometheus text format on a listener of its own
//! (`--metrics-listen`, off by default), apart from the public port as Hydra's and Keycloak's
//! management ports are.
//!
//! The password checks are timed in the CPU time of the thread that runs them, so the
//! benchmark can tell the argon2id share of a login flow from the same process, in the same
//! run, rather than from a separate micro-benchmark.

use crate::data_store::{FlushStats, Flusher};
use engine::purge::PurgeReport;
use poem::http::StatusCode;
use poem::{handler, web::Data, Response};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the server counts since it started.
#[derive(Default)]
pub struct Metrics {
    password_checks: AtomicU64,
    password_check_cpu_ns: AtomicU64,
    purges: AtomicU64,
    purge_read: AtomicU64,
    purge_deleted: AtomicU64,
    purge_ns: AtomicU64,
    introspections_before_routing: AtomicU64,
    /// The PostgreSQL store's counters (none on the embedded stores).
    database: Option<Arc<crate::data_store::postgres::Counters>>,
}

/// CPU time the calling thread has used, in nanoseconds (0 where the OS cannot tell).
fn thread_cpu_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes one timespec into the valid pointer it is given.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64;
        }
    }
    0
}

/// Resident memory of this process in bytes (`VmRSS`; 0 where there is no `/proc`).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

impl Metrics {
    /// Runs the login form's check (argon2id, with the user lookup and the session write around
    /// it) and counts its CPU time. Call it on the thread that does the work.
    pub fn time_password_check<T>(&self, check: impl FnOnce() -> T) -> T {
        let started = thread_cpu_ns();
        let out = check();
        let used = thread_cpu_ns().saturating_sub(started);
        self.password_checks.fetch_add(1, Ordering::Relaxed);
        self.password_check_cpu_ns.fetch_add(used, Ordering::Relaxed);
        out
    }

    /// Counts one background purge: what it read, what it deleted, how long it took.
    pub fn record_purge(&self, report: &PurgeReport, took: Duration) {
        self.purges.fetch_add(1, Ordering::Relaxed);
        self.purge_read.fetch_add(report.read as u64, Ordering::Relaxed);
        self.purge_deleted.fetch_add(report.total() as u64, Ordering::Relaxed);
        self.purge_ns
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Counts one introspection answered before routing (`fast_introspect`).
    pub fn count_introspection_before_routing(&self) {
        self.introspections_before_routing.fetch_add(1, Ordering::Relaxed);
    }

    /// Introspections answered before routing so far.
    pub fn introspections_before_routing(&self) -> u64 {
        self.introspections_before_routing.load(Ordering::Relaxed)
    }

    /// Counters from zero, with the PostgreSQL store's when given.
    pub fn with_database(database: Option<Arc<crate::data_store::postgres::Counters>>) -> Self {
        Metrics {
            database,
            ..Default::default()
        }
    }

    /// The counters in the Prometheus text exposition format, with the store's group commit's.
    pub fn render(&self, flush: FlushStats) -> String {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        let secs = |c: &AtomicU64| (c.load(Ordering::Relaxed) as f64 / 1e9).to_string();
        let values = [
            n(&self.password_checks),
            secs(&self.password_check_cpu_ns),
            n(&self.purges),
            n(&self.purge_read),
            n(&self.purge_deleted),
            secs(&self.purge_ns),
            resident_bytes().to_string(),
            flush.flushes.to_string(),
            (flush.flush_ns as f64 / 1e9).to_string(),
            flush.waits.to_string(),
            n(&self.introspections_before_routing),
            self.database.as_ref().map_or("0".into(), |d| n(&d.round_trips)),
            self.database.as_ref().map_or("0".into(), |d| n(&d.conflicts)),
        ];
        let mut out = String::with_capacity(1024);
        for ((name, kind, help), value) in METRICS.iter().zip(values) {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        }
        out
    }
}

/// Name, type and help of each metric, in the order `Metrics::render` gives their values.
const METRICS: [(&str, &str, &str); 13] = [
    (
        "oidc_password_checks_total",
        "counter",
        "Login form submissions checked (one argon2id verification each).",
    ),
    (
        "oidc_password_check_cpu_seconds_total",
        "counter",
        "Thread CPU time of those checks: argon2id plus the user lookup and session write.",
    ),
    (
        "oidc_purges_total",
        "counter",
        "Background purges of expired records run.",
    ),
    (
        "oidc_purge_records_read_total",
        "counter",
        "Records the purges' scans read.",
    ),
    (
        "oidc_purge_records_deleted_total",
        "counter",
        "Records the purges deleted.",
    ),
    (
        "oidc_purge_seconds_total",
        "counter",
        "Wall-clock time the purges took.",
    ),
    (
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    ),
    (
        "oidc_store_flushes_total",
        "counter",
        "Group-commit flushes of the store (each covers every write committed before it began).",
    ),
    (
        "oidc_store_flush_seconds_total",
        "counter",
        "Wall-clock time of those flushes.",
    ),
    (
        "oidc_store_flush_waits_total",
        "counter",
        "Requests that waited for a flush before answering (waits / flushes: requests per flush).",
    ),
    (
        "oidc_introspections_before_routing_total",
        "counter",
        "Introspection requests answered before routing (the rest went the routed way).",
    ),
    (
        "oidc_database_round_trips_total",
        "counter",
        "Statement flights sent to PostgreSQL, each waiting for one answer (0 on the embedded stores).",
    ),
    (
        "oidc_database_conflicts_total",
        "counter",
        "Transactions PostgreSQL refused for a serialization conflict or deadlock, run again.",
    ),
];

#[handler]
fn scrape(metrics: Data<&Arc<Metrics>>, flusher: Data<&Flusher>) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(flusher.stats()))
}

/// The metrics listener's application: `GET /metrics`, nothing else.
pub fn app(metrics: Arc<Metrics>, flusher: Flusher) -> impl poem::Endpoint {
    use poem::EndpointExt;
    poem::Route::new()
        .at("/metrics", poem::get(scrape))
        .data(metrics)
        .data(flusher)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, name: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn a_timed_check_counts_once_with_the_cpu_it_burned() {
        let m = Metrics::default();
        let sum = m.time_password_check(|| (0..20_000_000u64).fold(0u64, |a, i| a ^ i.wrapping_mul(31)));
        std::hint::black_box(sum);
        let text = m.render(FlushStats::default());
        assert_eq!(value(&text, "oidc_password_checks_total"), 1.0);
        assert!(value(&text, "oidc_password_check_cpu_seconds_total") > 0.0, "{text}");
        assert!(value(&text, "process_resident_memory_bytes") > 0.0, "{text}");
    }

    #[test]
    fn purges_and_flushes_add_up() {
        let m = Metrics::default();
        let report = PurgeReport {
            codes: 3,
            access_tokens: 4,
            read: 100,
            ..Default::default()
        };
        m.record_purge(&report, Duration::from_millis(1500));
        m.record_purge(&report, Duration::from_millis(500));
        let flush = FlushStats {
            flushes: 3,
            flush_ns: 1_500_000_000,
            waits: 7,
        };
        let text = m.render(flush);
        assert_eq!(value(&text, "oidc_store_flushes_total"), 3.0);
        assert_eq!(value(&text, "oidc_store_flush_seconds_total"), 1.5);
        assert_eq!(value(&text, "oidc_store_flush_waits_total"), 7.0);
        assert_eq!(value(&text, "oidc_purges_total"), 2.0);
        assert_eq!(value(&text, "oidc_purge_records_read_total"), 200.0);
        assert_eq!(value(&text, "oidc_purge_records_deleted_total"), 14.0);
        assert_eq!(value(&text, "oidc_purge_seconds_total"), 2.0);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(line.split(' ').count(), 2, "one name and one value: {line}");
        }
    }
}
