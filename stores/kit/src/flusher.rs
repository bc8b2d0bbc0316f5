//! Group commit: every write an engine call made is flushed to disk before the answer built from
//! it goes out, and one flush covers every call that wrote before it started.
//!
//! The store numbers each committed write transaction. Inside `Flusher::track` (the server's one
//! engine boundary runs every engine call in it) the store only notes the number, and `track`
//! hands it back as a [`Ticket`]; the caller awaits `Flusher::durable(ticket)`, which returns
//! once a flush that began after that number was committed has finished. A background thread
//! runs the flushes, so while one runs, the server keeps handling other requests, and their
//! writes share the next flush. Outside `track` (start-up, tests calling the engine directly) a
//! write is flushed at once.

use engine::error::StoreError;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::watch;

thread_local! {
    /// Inside `Flusher::track` on this thread: the number of the last write it committed (0:
    /// none yet). Outside: `None`, and a write is flushed at once.
    static TRACKING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// What a tracked piece of work wrote: await [`Flusher::durable`] with it before answering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use = "a write is durable only once `Flusher::durable` returns for its ticket"]
pub struct Ticket(u64);

impl Ticket {
    /// Whether the work committed a write that waits for a flush.
    pub fn wrote(self) -> bool {
        self.0 > 0
    }
}

/// Puts back the tracking state `track` found, also when the work panics.
struct Restore(Option<u64>);

impl Drop for Restore {
    fn drop(&mut self) {
        let inner = TRACKING.get().unwrap_or(0);
        // Nested tracking: the outer work is durable only once the inner's writes are too.
        TRACKING.set(self.0.map(|outer| outer.max(inner)));
    }
}

/// What the flush thread makes durable.
pub trait Flush: Send + Sync + 'static {
    /// Puts every write made before the call on disk.
    // RELIABILITY-crash-durability
    fn flush(&self) -> Result<(), StoreError>;
    /// Whether a flush is due even though no request waits for one (checked every 500 ms).
    fn has_backlog(&self) -> bool {
        false
    }
}

struct Inner {
    db: Arc<dyn Flush>,
    /// Number of the last committed write transaction.
    written: AtomicU64,
    /// Highest write number someone is waiting for.
    wanted: Mutex<u64>,
    wake: Condvar,
    /// Highest write number known to be on disk.
    flushed: watch::Sender<u64>,
    /// Set by `stop`: the thread ends and writes are flushed at once from then on.
    stopped: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Flushes the thread ran, and their wall-clock time.
    flushes: AtomicU64,
    flush_ns: AtomicU64,
    /// Requests that waited for a flush (those whose writes a finished flush already covered did not).
    waits: AtomicU64,
}

/// What the flush thread has done since it started: requests per flush is `waits / flushes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushStats {
    pub flushes: u64,
    pub flush_ns: u64,
    pub waits: u64,
}

/// Runs flushes for a store.
#[derive(Clone)]
pub struct Flusher(Arc<Inner>);

impl Flusher {
    /// Starts the flushing thread; `stop` ends it.
    pub fn start(db: Arc<dyn Flush>) -> Self {
        let inner = Arc::new(Inner {
            db,
            written: AtomicU64::new(0),
            wanted: Mutex::new(0),
            wake: Condvar::new(),
            flushed: watch::channel(0).0,
            stopped: AtomicBool::new(false),
            thread: Mutex::new(None),
            flushes: AtomicU64::new(0),
            flush_ns: AtomicU64::new(0),
            waits: AtomicU64::new(0),
        });
        let worker = inner.clone();
        let handle = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || run(&worker))
            .expect("spawn the flush thread");
        *inner.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Flusher(inner)
    }

    /// Flushes what is pending and ends the thread (it holds the database open).
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        {
            let _guard = self.0.wanted.lock().unwrap_or_else(|p| p.into_inner());
            self.0.wake.notify_all();
        }
        let handle = self.0.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// The counters behind `FlushStats`.
    pub fn stats(&self) -> FlushStats {
        FlushStats {
            flushes: self.0.flushes.load(Ordering::Relaxed),
            flush_ns: self.0.flush_ns.load(Ordering::Relaxed),
            waits: self.0.waits.load(Ordering::Relaxed),
        }
    }

    /// Called by the store after a transaction that wrote has committed: inside `track`, the
    /// write waits for the ticket's flush; outside, it is flushed at once.
    pub fn committed(&self) -> Result<(), StoreError> {
        let n = self.0.written.fetch_add(1, Ordering::SeqCst) + 1;
        let tracked = TRACKING.get().is_some();
        if tracked {
            TRACKING.set(Some(n));
        }
        if self.0.stopped.load(Ordering::SeqCst) || !tracked {
            self.0.db.flush()?;
        }
        Ok(())
    }

    /// Runs `work` on this thread, noting the writes it commits instead of flushing each: the
    /// ticket says which flush makes them durable.
    pub fn track<T>(&self, work: impl FnOnce() -> T) -> (T, Ticket) {
        let restore = Restore(TRACKING.replace(Some(0)));
        let out = work();
        let n = TRACKING.get().unwrap_or(0);
        drop(restore);
        (out, Ticket(n))
    }

    /// Returns once the writes of `ticket` are on disk (at once if it wrote nothing).
    pub async fn durable(&self, ticket: Ticket) {
        if ticket.wrote() {
            self.wait_for(ticket.0).await;
        }
    }

    async fn wait_for(&self, n: u64) {
        let mut rx = self.0.flushed.subscribe();
        if *rx.borrow() >= n {
            return;
        }
        // Let the requests that are ready now run their engine calls before the flush starts, so
        // it covers their writes too. Without this a flush began as soon as one request waited
        // and covered ~1.3 requests. The yield puts this task behind the ready ones and after
        // one poll for I/O: alone, it costs a poll.
        tokio::task::yield_now().await;
        if *rx.borrow() >= n {
            return;
        }
        self.0.waits.fetch_add(1, Ordering::Relaxed);
        {
            let mut wanted = self.0.wanted.lock().unwrap_or_else(|p| p.into_inner());
            if *wanted < n {
                // Wake the thread only if it is idle: if a flush is already wanted, the thread is
                // flushing or about to, and it reads `wanted` under this lock before it sleeps.
                let idle = *wanted <= *self.0.flushed.borrow();
                *wanted = n;
                if idle {
                    self.0.wake.notify_all();
                }
            }
        }
        // An error means the store is gone (shutdown), whose final flush covers this write.
        let _ = rx.wait_for(|f| *f >= n).await;
    }
}

/// The flush loop: wait for a request (or a backlog), flush everything committed so far, announce it.
fn run(inner: &Inner) {
    loop {
        let stopping = inner.stopped.load(Ordering::SeqCst);
        let wanted = {
            let guard = inner.wanted.lock().unwrap_or_else(|p| p.into_inner());
            let flushed = *inner.flushed.borrow();
            let (guard, _) = inner
                .wake
                .wait_timeout_while(guard, Duration::from_millis(500), |w| {
                    *w <= flushed && !inner.stopped.load(Ordering::SeqCst)
                })
                .unwrap_or_else(|p| p.into_inner());
            *guard
        };
        if wanted <= *inner.flushed.borrow() && !inner.db.has_backlog() {
            if stopping {
                return;
            }
            continue;
        }
        // Every write numbered up to `upto` committed before this flush starts.
        let upto = inner.written.load(Ordering::SeqCst);
        let started = Instant::now();
        let flushed = inner.db.flush();
        inner.flushes.fetch_add(1, Ordering::Relaxed);
        inner.flush_ns.fetch_add(
            u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        match flushed {
            Ok(_) => {
                inner.flushed.send_modify(|f| *f = (*f).max(upto));
            }
            Err(e) => {
                tracing::error!(error = %e.0, "flush failed; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk whose flush takes a millisecond (the writes themselves are only numbered).
    struct SlowDisk;

    impl Flush for SlowDisk {
        fn flush(&self) -> Result<(), StoreError> {
            std::thread::sleep(Duration::from_millis(1));
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_waits_for_the_flush_covering_its_write_and_others_share_it() {
        let f = Flusher::start(Arc::new(SlowDisk));
        // Outside a request: flushed at once.
        f.committed().unwrap();
        assert_eq!(*f.0.flushed.borrow(), 0, "no group flush was needed");
        // Tracked: each waits until the flushed number reaches its own.
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let f = f.clone();
            tasks.push(tokio::spawn(async move {
                let ((), ticket) = f.track(|| f.committed().unwrap());
                f.durable(ticket).await;
                ticket
            }));
        }
        for t in tasks {
            let Ticket(mine) = t.await.unwrap();
            assert!(mine > 1);
            assert!(
                *f.0.flushed.borrow() >= mine,
                "answered only after its write was flushed"
            );
        }
        // The counters: every flush was wanted by a waiting request, none waited twice.
        let s = f.stats();
        assert!(s.flushes >= 1 && s.flushes <= s.waits && s.waits <= 20, "{s:?}");
        assert!(s.flush_ns > 0, "{s:?}");
        // Work that wrote nothing does not wait.
        let before = *f.0.wanted.lock().unwrap();
        let ((), ticket) = f.track(|| ());
        assert!(!ticket.wrote());
        f.durable(ticket).await;
        assert_eq!(*f.0.wanted.lock().unwrap(), before);
        assert_eq!(f.stats().waits, s.waits);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn requests_ready_together_share_one_flush() {
        let f = Flusher::start(Arc::new(SlowDisk));
        // Eight requests ready at once on one thread: each handler writes and ends; the first
        // to wait lets the others run theirs before the flush starts.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let f = f.clone();
                tokio::spawn(async move {
                    let ((), ticket) = f.track(|| f.committed().unwrap());
                    f.durable(ticket).await;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let s = f.stats();
        assert_eq!((s.flushes, s.waits), (1, 8), "{s:?}");
        assert_eq!(*f.0.flushed.borrow(), 8);
        f.stop();
    }

    #[test]
    fn nested_work_hands_its_writes_to_the_outer_ticket_and_a_panic_ends_tracking() {
        let f = Flusher::start(Arc::new(SlowDisk));
        let (inner, outer) = f.track(|| {
            let ((), inner) = f.track(|| f.committed().unwrap());
            inner
        });
        assert!(inner.wrote());
        assert_eq!(outer, inner, "the outer work waits for the inner's write");
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _never = f.track(|| panic!("work failed"));
        }));
        assert!(caught.is_err());
        assert_eq!(TRACKING.get(), None, "after a panic, writes are flushed at once again");
        f.stop();
    }
}
