//! Group commit: every write a request made is flushed to disk before its answer goes out, and
//! one flush covers every request that wrote before it started.
//!
//! The store numbers each committed write transaction. Inside a request (`Flusher::scope`) the
//! store only notes the number; when the handler is done, the request waits until a flush that
//! began after that number was committed has finished. A background thread runs the flushes, so
//! while one runs, the server keeps handling other requests, and their writes share the next
//! flush. Outside a request (start-up, tests calling the engine directly) a write is flushed at
//! once, as before.

use engine::error::StoreError;
use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

tokio::task_local! {
    /// The number of the last write this request committed (0: none).
    static PENDING: Cell<u64>;
}

/// What the flush thread makes durable.
pub trait Flush: Send + Sync + 'static {
    /// Puts every write made before the call on disk.
    fn flush(&self) -> Result<(), StoreError>;
    /// Whether a flush is due even though no request waits for one (checked every 500 ms).
    fn has_backlog(&self) -> bool {
        false
    }
}

impl Flush for sled::Db {
    fn flush(&self) -> Result<(), StoreError> {
        sled::Tree::flush(self)
            .map(|_| ())
            .map_err(|e| StoreError(e.to_string()))
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

    /// Called by the store after a transaction that wrote has committed.
    pub fn committed(&self) -> Result<(), StoreError> {
        let n = self.0.written.fetch_add(1, Ordering::SeqCst) + 1;
        if self.0.stopped.load(Ordering::SeqCst) || PENDING.try_with(|p| p.set(n)).is_err() {
            self.0.db.flush()?;
        }
        Ok(())
    }

    /// Runs a request's handler, then waits until everything it wrote is on disk.
    pub async fn scope<F: Future>(&self, handler: F) -> F::Output {
        let (out, n) = PENDING
            .scope(Cell::new(0), async {
                let out = handler.await;
                (out, PENDING.with(Cell::get))
            })
            .await;
        if n > 0 {
            self.wait_for(n).await;
        }
        out
    }

    async fn wait_for(&self, n: u64) {
        let mut rx = self.0.flushed.subscribe();
        if *rx.borrow() >= n {
            return;
        }
        {
            let mut wanted = self.0.wanted.lock().unwrap_or_else(|p| p.into_inner());
            if *wanted < n {
                *wanted = n;
                self.0.wake.notify_one();
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
        match inner.db.flush() {
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_waits_for_the_flush_covering_its_write_and_others_share_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let f = Flusher::start(Arc::new(db.clone()));
        // Outside a request: flushed at once.
        db.insert("a", "1").unwrap();
        f.committed().unwrap();
        assert_eq!(*f.0.flushed.borrow(), 0, "no group flush was needed");
        // Inside requests: each waits until the flushed number reaches its own.
        let mut tasks = Vec::new();
        for i in 0..20u32 {
            let (f, db) = (f.clone(), db.clone());
            tasks.push(tokio::spawn(async move {
                f.scope(async {
                    db.insert(i.to_be_bytes(), "v").unwrap();
                    f.committed().unwrap();
                    PENDING.with(Cell::get)
                })
                .await
            }));
        }
        for t in tasks {
            let mine = t.await.unwrap();
            assert!(mine > 1);
            assert!(
                *f.0.flushed.borrow() >= mine,
                "answered only after its write was flushed"
            );
        }
        // A request that wrote nothing does not wait.
        let before = *f.0.wanted.lock().unwrap();
        f.scope(async {}).await;
        assert_eq!(*f.0.wanted.lock().unwrap(), before);
    }
}
