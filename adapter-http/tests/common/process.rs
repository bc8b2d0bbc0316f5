//! The real server binary as a child process: started on a data dir and port, its stdout and
//! stderr kept in files, killed with SIGKILL or stopped with SIGTERM, restarted on the same dir.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the first start printed.
#[derive(Clone, Debug, Default)]
pub struct Printed {
    pub client_secret: String,
    pub password: String,
    pub admin_client_id: String,
    pub admin_client_secret: String,
}

pub struct ChildServer {
    pub child: Child,
    pub data_dir: PathBuf,
    pub port: u16,
    pub base: String,
    pub log_dir: PathBuf,
    pub starts: u32,
    extra: Vec<String>,
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ChildServer {
    /// Starts the binary on a fresh `data_dir`; logs go to `log_dir/{stdout,stderr}-{n}.log`.
    pub fn start(data_dir: &Path, log_dir: &Path, extra: &[&str]) -> ChildServer {
        Self::start_on(free_port(), data_dir, log_dir, extra)
    }

    /// The same on `port`.
    pub fn start_on(port: u16, data_dir: &Path, log_dir: &Path, extra: &[&str]) -> ChildServer {
        std::fs::create_dir_all(log_dir).unwrap();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = launch(data_dir, log_dir, port, &extra, 1);
        ChildServer {
            child,
            data_dir: data_dir.to_path_buf(),
            port,
            base: format!("http://127.0.0.1:{port}"),
            log_dir: log_dir.to_path_buf(),
            starts: 1,
            extra,
        }
    }

    /// The credentials the first start printed on stdout.
    pub fn printed(&self) -> Printed {
        // The banner is printed just after the port opens.
        let deadline = Instant::now() + Duration::from_secs(10);
        let out = loop {
            let out = std::fs::read_to_string(self.log_dir.join("stdout-1.log")).unwrap();
            if out.contains("admin client_secret:") || Instant::now() > deadline {
                break out;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let field = |label: &str| {
            out.lines()
                .find_map(|l| l.trim().strip_prefix(label))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("no {label} in:\n{out}"))
        };
        let user = field("demo user:");
        Printed {
            client_secret: field("demo client_secret:"),
            password: user.split_once(" / ").unwrap().1.to_string(),
            admin_client_id: field("admin client_id:"),
            admin_client_secret: field("admin client_secret:"),
        }
    }

    /// SIGKILL, then wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (graceful: flushes and exits), then wait.
    pub fn terminate(&mut self) {
        // SAFETY: sends a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }

    /// Starts again on the same data dir and port.
    pub fn restart(&mut self) {
        self.starts += 1;
        self.child = launch(&self.data_dir, &self.log_dir, self.port, &self.extra, self.starts);
    }

    /// Resident memory in KiB, and the open file descriptors of the process: sockets
    /// (connections and the listener) and everything else (files, pipes, eventfds).
    pub fn rss_kib_and_fds(&self) -> (u64, Fds) {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let mut fds = Fds::default();
        for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            match std::fs::read_link(e.path()) {
                Ok(target) if target.to_string_lossy().starts_with("socket:") => fds.sockets += 1,
                _ => fds.other += 1,
            }
        }
        (rss, fds)
    }

    /// Bytes under the data dir.
    pub fn data_bytes(&self) -> u64 {
        fn size(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        size(&p)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        }
        size(&self.data_dir)
    }
}

/// Open descriptors by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fds {
    pub sockets: usize,
    pub other: usize,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes `text` as report section `name` when RELIABILITY_REPORT_DIR is set (the full runs of
/// `reliability/run.sh` collect them into conformance-reports/reliability.md).
pub fn report_section(name: &str, text: &str) {
    if let Ok(dir) = std::env::var("RELIABILITY_REPORT_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(format!("{name}.md")), text).unwrap();
    }
    println!("{text}");
}

/// Starts the binary and waits until its port accepts connections; a child that exits at once
/// (the port not yet released by a killed predecessor) is started again.
/// The system secret of instances over PostgreSQL (which refuse to start without one): every
/// instance of a test gets the same one, as an operator gives every instance theirs.
pub const TEST_SYSTEM_SECRET: &str = "the system secret of the tests over PostgreSQL";

fn launch(data_dir: &Path, log_dir: &Path, port: u16, extra: &[String], n: u32) -> Child {
    let over_postgres = extra.iter().any(|a| a == "--database-url");
    let out = File::create(log_dir.join(format!("stdout-{n}.log"))).unwrap();
    let err = File::create(log_dir.join(format!("stderr-{n}.log"))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut child = Command::new(env!("CARGO_BIN_EXE_adapter-http"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .envs(over_postgres.then_some(("OP_SYSTEM_SECRET", TEST_SYSTEM_SECRET)))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .spawn()
            .unwrap();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(Instant::now() < deadline, "server keeps exiting: {status}");
                std::thread::sleep(Duration::from_millis(100));
                break;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && listens_on(&child, port) {
                return child;
            }
            assert!(Instant::now() < deadline, "server did not start in 60 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether `child` itself holds the listening socket on `port` (and not some other process that
/// took the port between `free_port` and the child's start: tests start servers in parallel).
fn listens_on(child: &Child, port: u16) -> bool {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            // State 0A is LISTEN; field 9 is the socket's inode.
            (u16::from_str_radix(local_port, 16).ok()? == port && *f.get(3)? == "0A")
                .then(|| f.get(9).map(|i| i.to_string()))?
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", child.id())) else {
        return false;
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .any(|target| {
            inodes
                .iter()
                .any(|i| target.to_string_lossy() == format!("socket:[{i}]"))
        })
}

/// An integer from the environment, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
