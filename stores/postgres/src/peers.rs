//! Messages between the instances that share one database, and which of them runs the purge.
//!
//! Each instance keeps one connection of its own (outside the pool) that `LISTEN`s on
//! [`CHANNEL`]; what an instance has to tell the others goes out as `pg_notify` on it, and
//! PostgreSQL delivers it to every listening session once the statement commits (milliseconds).
//! The same connection holds the purge leadership: a session advisory lock ([`PURGE_LOCK`]) that
//! one instance at a time holds, tried again every [`TICK`] by the others, and released by
//! PostgreSQL when the holder's session ends (a crash included).
//!
//! When the connection breaks, the instance gives the leadership up, reconnects with a pause, and
//! tells its [`Peers`] that messages may have been missed (they were: `NOTIFY` keeps nothing for a
//! session that is gone).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_postgres::AsyncMessage;

/// The notification channel.
pub const CHANNEL: &str = "oidc_peers";

/// The advisory lock the purging instance holds ("oidc" and 2).
pub const PURGE_LOCK: i64 = 0x6f69_6463_0000_0002;

/// The longest message `pg_notify` takes is 8000 bytes; this leaves room for the sender's id.
pub const MAX_MESSAGE: usize = 7900;

/// How often queued messages are sent without a wake-up, the leadership is tried and the
/// connection checked.
pub const TICK: Duration = Duration::from_millis(100);

/// How often a follower tries to take the purge leadership.
const LEADERSHIP_EVERY: u32 = 10;

/// The pause before connecting again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// What an instance exchanges with the others.
pub trait Peers: Send + Sync + 'static {
    /// Messages to send now (taken: each is sent once), each at most [`MAX_MESSAGE`] bytes.
    fn outgoing(&self) -> Vec<String>;
    /// A message another instance sent.
    fn incoming(&self, message: &str);
    /// Messages may have been missed: the connection was (re)made.
    fn missed(&self);
}

/// The running exchange; stops when dropped (and the leadership with it).
pub struct Bus {
    wake: Arc<Notify>,
    leads: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Bus {
    /// Starts the exchange for `peers` on `runtime`; it stops by itself once `peers` is gone.
    pub(crate) fn start<T>(
        runtime: &tokio::runtime::Handle,
        config: tokio_postgres::Config,
        tls: T,
        peers: Weak<dyn Peers>,
    ) -> Bus
    where
        T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket> + Clone + Send + Sync + 'static,
        T::Stream: Send + Sync + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as tokio_postgres::tls::TlsConnect<tokio_postgres::Socket>>::Future: Send,
    {
        let wake = Arc::new(Notify::new());
        let leads = Arc::new(AtomicBool::new(false));
        let id = instance_id();
        let (w, l) = (wake.clone(), leads.clone());
        let task = runtime.spawn(async move {
            while peers.strong_count() > 0 {
                if let Err(e) = session(&config, tls.clone(), &id, &peers, &w, &l).await {
                    tracing::warn!(error = %e, "lost the connection to the other instances; reconnecting");
                }
                l.store(false, Ordering::SeqCst);
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        });
        Bus { wake, leads, task }
    }

    /// Something is queued: send it now rather than at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether this instance holds the purge leadership now.
    pub fn leads_purge(&self) -> bool {
        self.leads.load(Ordering::SeqCst)
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A random id for this instance's messages, so it can skip its own.
fn instance_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One connection's life: listen, send, receive and hold or try the leadership until it breaks.
async fn session<T>(
    config: &tokio_postgres::Config,
    tls: T,
    id: &str,
    peers: &Weak<dyn Peers>,
    wake: &Notify,
    leads: &AtomicBool,
) -> Result<(), tokio_postgres::Error>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket> + Send + 'static,
    T::Stream: Send + Sync + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as tokio_postgres::tls::TlsConnect<tokio_postgres::Socket>>::Future: Send,
{
    let (client, mut connection) = config.connect(tls).await?;
    let (received, mut inbox) = mpsc::unbounded_channel();
    // The connection delivers notifications only while something polls it.
    let driver = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if received.send(n.payload().to_string()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the connection to the other instances broke");
                    return;
                }
            }
        }
    });
    let _driver = AbortOnDrop(driver);
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    let own = format!("{id}|");
    if let Some(p) = peers.upgrade() {
        p.missed();
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tick.tick() => {
                ticks = ticks.wrapping_add(1);
                if !leads.load(Ordering::SeqCst) && ticks % LEADERSHIP_EVERY == 1 {
                    let row = client.query_one("SELECT pg_try_advisory_lock($1)", &[&PURGE_LOCK]).await?;
                    leads.store(row.get::<_, bool>(0), Ordering::SeqCst);
                }
            }
            message = inbox.recv() => match message {
                Some(m) => {
                    // Its own messages come back too: skip them.
                    if !m.starts_with(&own) {
                        if let (Some(body), Some(p)) = (body_of(&m), peers.upgrade()) {
                            p.incoming(body);
                        }
                    }
                    continue;
                }
                None => return Ok(()),
            },
        }
        let Some(p) = peers.upgrade() else { return Ok(()) };
        for message in p.outgoing() {
            client
                .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &format!("{own}{message}")])
                .await?;
        }
    }
}

/// The message of a notification from another instance (after the sender's id).
fn body_of(payload: &str) -> Option<&str> {
    payload.split_once('|').map(|(_, body)| body)
}

/// Stops the connection's driver with the session.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
