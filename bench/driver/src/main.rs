//! Browser-flow load driver for the side-by-side benchmark (`bench/run.sh`): the flows of
//! `bench/flows.mjs`, with its flags and its JSON line, on one thread. Node's driver saturated the
//! load generator's core before our server's (the SSO flow: the generator's core 100 % busy, the
//! server's 50–70 %), so it measured the driver; this one costs a small fraction of a flow.
//!
//! Modes:
//!   login    every flow starts with no cookies: authorize → login form → consent form
//!            (prompt=consent) → code → token → userinfo                           (scenario 7)
//!   sso      each worker logs in and consents once; then every flow is authorize (live session,
//!            remembered consent) → code → token → userinfo                        (scenario 6)
//!   refresh  each worker gets a refresh token once; then every "flow" is one refresh_token
//!            grant with the newest refresh token returned                         (scenario 5)
//!            With --token-file F, worker i starts from line i of F when F has one, and F is
//!            rewritten with each worker's newest refresh token at the end.

mod browser;
mod http;
mod measure;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use clap::{Parser, ValueEnum};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use url::Url;

use browser::Target;
use http::{Call, Conn, Jar};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Login,
    Sso,
    Refresh,
}

#[derive(Parser, Clone)]
#[command(about = "Browser-flow load driver: one JSON line of flows per second, latency and server CPU")]
struct Args {
    #[arg(long)]
    issuer: String,
    #[arg(long)]
    client_id: String,
    #[arg(long)]
    client_secret: String,
    #[arg(long, default_value = "http://127.0.0.1:9/cb")]
    redirect_uri: String,
    #[arg(long)]
    username: String,
    #[arg(long)]
    password: String,
    #[arg(long, default_value = "openid offline_access profile email")]
    scope: String,
    #[arg(long, value_enum, default_value = "login")]
    mode: Mode,
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// The server's pid (several, comma-separated, for instances behind a load balancer): their
    /// CPU time, and the first one's RSS, from /proc.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// The database's processes (comma-separated): their CPU time per flow.
    #[arg(long, value_delimiter = ',')]
    db_pids: Vec<u32>,
    #[arg(long, default_value = "")]
    label: String,
    /// Stop after this many flows in all (instead of --duration).
    #[arg(long)]
    flows: Option<u64>,
    /// Refresh mode: start from (and save) one refresh token per worker.
    #[arg(long)]
    token_file: Option<String>,
    /// Our server's GET /metrics (several, comma-separated, summed): the password checks it
    /// counted and their CPU time, flushes, database round trips.
    #[arg(long, value_delimiter = ',')]
    metrics: Vec<String>,
}

/// One worker's connection, jar and repeated unit of work.
struct Worker {
    conn: Conn,
    jar: Jar,
    refresh_token: Option<String>,
}

/// Counts shared by the workers: flows started (for --flows), and every flow's latency in ms.
#[derive(Default)]
struct Tally {
    started: Cell<u64>,
    latencies: RefCell<Vec<f64>>,
}

async fn unit(mode: Mode, t: &Target, w: &mut Worker) -> Result<(), String> {
    match mode {
        Mode::Login => browser::flow(t, &mut w.conn, &mut Jar::default(), Some("consent"))
            .await
            .map(drop),
        Mode::Sso => browser::flow(t, &mut w.conn, &mut w.jar, None).await.map(drop),
        Mode::Refresh => {
            let rt = w.refresh_token.clone().ok_or("no refresh token issued")?;
            let params = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
            let tok = browser::token_request(t, &mut w.conn, &mut w.jar, &params).await?;
            tok["access_token"].as_str().ok_or("no access token on refresh")?;
            if let Some(next) = tok["refresh_token"].as_str() {
                w.refresh_token = Some(next.to_owned());
            }
            Ok(())
        }
    }
}

/// Runs `unit` until `until` (or the --flows limit): (flows done, errors).
async fn run_loop(
    mode: Mode,
    t: &Target,
    w: &mut Worker,
    until: Option<Instant>,
    limit: Option<u64>,
    tally: &Tally,
    record: bool,
) -> (u64, u64) {
    let (mut n, mut err) = (0, 0);
    while until.is_none_or(|u| Instant::now() < u) && limit.is_none_or(|l| tally.started.get() < l) {
        tally.started.set(tally.started.get() + 1);
        let t0 = Instant::now();
        match unit(mode, t, w).await {
            Ok(()) => {
                n += 1;
                if record {
                    tally.latencies.borrow_mut().push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
            Err(e) => {
                err += 1;
                if err <= 3 {
                    eprintln!("flow error: {e}");
                }
            }
        }
    }
    (n, err)
}

async fn discover(a: &Args) -> Result<Target, String> {
    let base = a.issuer.trim_end_matches('/');
    let url = Url::parse(&format!("{base}/.well-known/openid-configuration")).map_err(|e| e.to_string())?;
    let r = Conn::new(&url)?.send(&mut Jar::default(), Call::get(&url)).await?;
    let d: Value = serde_json::from_slice(&r.body).map_err(|e| format!("discovery: {e}"))?;
    let ep = |k: &str| -> Result<Url, String> {
        Url::parse(d[k].as_str().ok_or_else(|| format!("discovery has no {k}"))?).map_err(|e| e.to_string())
    };
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let credentials = format!("{}:{}", enc(&a.client_id), enc(&a.client_secret));
    Ok(Target {
        issuer: d["issuer"].as_str().unwrap_or_default().to_owned(),
        authorization: ep("authorization_endpoint")?,
        token: ep("token_endpoint")?,
        userinfo: ep("userinfo_endpoint")?,
        client_id: a.client_id.clone(),
        basic: format!("Basic {}", Base64::encode_string(credentials.as_bytes())),
        redirect_uri: a.redirect_uri.clone(),
        scope: a.scope.clone(),
        username: a.username.clone(),
        password: a.password.clone(),
    })
}

/// A worker ready for its unit: logged in and consented once, except in login mode.
async fn start_worker(a: &Args, t: &Target, saved: Option<String>) -> Result<Worker, String> {
    let mut w = Worker {
        conn: Conn::new(&t.token)?,
        jar: Jar::default(),
        refresh_token: saved,
    };
    if a.mode == Mode::Login || w.refresh_token.is_some() {
        return Ok(w);
    }
    let first = browser::flow(t, &mut w.conn, &mut w.jar, Some("consent")).await?;
    w.refresh_token = first["refresh_token"].as_str().map(str::to_owned);
    Ok(w)
}

async fn run(a: Args) -> Result<Value, String> {
    let t = Rc::new(discover(&a).await?);
    let saved: Vec<String> = match &a.token_file {
        Some(f) if a.mode == Mode::Refresh => std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let mut starts = Vec::new();
    for i in 0..a.concurrency {
        let (a2, t2) = (a.clone(), t.clone());
        let s = saved.get(i).cloned();
        starts.push(tokio::task::spawn_local(async move { start_worker(&a2, &t2, s).await }));
    }
    let mut workers = Vec::new();
    for s in starts {
        workers.push(s.await.map_err(|e| e.to_string())??);
    }

    let tally = Rc::new(Tally::default());
    let phase = |workers: Vec<Worker>, until: Option<Instant>, record: bool| {
        let handles: Vec<_> = workers
            .into_iter()
            .map(|mut w| {
                let (t, tally, mode, limit) = (t.clone(), tally.clone(), a.mode, a.flows);
                tokio::task::spawn_local(async move {
                    let r = run_loop(mode, &t, &mut w, until, limit, &tally, record).await;
                    (w, r)
                })
            })
            .collect();
        async move {
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.map_err(|e| e.to_string())?);
            }
            Ok::<_, String>(out)
        }
    };
    let warm = phase(workers, Some(Instant::now() + Duration::from_secs_f64(a.warmup)), false).await?;
    let workers: Vec<Worker> = warm.into_iter().map(|(w, _)| w).collect();
    tally.started.set(0);

    let before = measure::Sample::take(&a.server_pid, &a.db_pids, &a.metrics).await;
    let requests0: u64 = workers.iter().map(|w| w.conn.requests).sum();
    let t0 = Instant::now();
    let until = if a.flows.is_some() {
        None
    } else {
        Some(t0 + Duration::from_secs_f64(a.duration))
    };
    let done = phase(workers, until, true).await?;
    let elapsed = t0.elapsed().as_secs_f64();
    let after = measure::Sample::take(&a.server_pid, &a.db_pids, &a.metrics).await;

    let flows: u64 = done.iter().map(|(_, (n, _))| n).sum();
    let errors: u64 = done.iter().map(|(_, (_, e))| e).sum();
    let requests: u64 = done.iter().map(|(w, _)| w.conn.requests).sum::<u64>() - requests0;
    if let (Some(f), Mode::Refresh) = (&a.token_file, a.mode) {
        let lines: Vec<&str> = done
            .iter()
            .map(|(w, _)| w.refresh_token.as_deref().unwrap_or(""))
            .collect();
        std::fs::write(f, lines.join("\n") + "\n").map_err(|e| format!("{f}: {e}"))?;
    }
    let mut lat = tally.latencies.take();
    lat.sort_by(f64::total_cmp);
    let mut out = json!({
        "label": a.label,
        "mode": a.mode.to_possible_value().map(|v| v.get_name().to_owned()),
        "concurrency": a.concurrency,
        "flows": flows,
        "errors": errors,
        "duration_s": measure::r2(elapsed),
        "rps": measure::r2(flows as f64 / elapsed),
        "http_requests_per_flow": measure::r2(requests as f64 / flows.max(1) as f64),
        "lat_ms": { "p50": measure::percentile(&lat, 0.5), "p99": measure::percentile(&lat, 0.99) },
        "driver": "flow-driver",
    });
    measure::Sample::report(&before, &after, flows, &mut out);
    Ok(out)
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    match local.block_on(&rt, run(args)) {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("flow-driver: {e}");
            std::process::exit(1);
        }
    }
}
