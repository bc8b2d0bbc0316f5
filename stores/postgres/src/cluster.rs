//! A throwaway PostgreSQL cluster for tests: `initdb` into a temp dir, started on a unix socket
//! and a free port, stopped and removed on drop. Needs Debian's `postgresql` (the binaries in
//! `/usr/lib/postgresql/*/bin`); as root, the cluster runs as the `postgres` user (initdb refuses
//! root).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster; dropping it stops it and removes its files.
pub struct TempCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// The directory holding `initdb` and `pg_ctl`.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl TempCluster {
    /// Starts a new cluster (about a second), or says why it cannot.
    pub fn start() -> Result<Self, String> {
        let bin = bin_dir().ok_or("PostgreSQL is not installed (apt-get install postgresql)")?;
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = std::env::temp_dir().join(format!(
            "oidc-pg-{}-{}",
            std::process::id(),
            free_port().map_err(|e| e.to_string())?
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let cluster = TempCluster {
            dir,
            bin,
            port: free_port().map_err(|e| e.to_string())?,
            as_postgres,
        };
        if as_postgres {
            cluster.run(Command::new("chown").args(["postgres:postgres"]).arg(&cluster.dir))?;
        }
        let data = cluster.dir.join("data");
        cluster.run(cluster.pg("initdb").arg("-D").arg(&data).args([
            "-U",
            "oidc",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]))?;
        cluster.start_again()?;
        Ok(cluster)
    }

    /// Starts the server (again, after `stop`).
    pub fn start_again(&self) -> Result<(), String> {
        self.run(
            self.pg("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("log"))
                .args(["-w", "start", "-o", &self.server_options()]),
        )
    }

    /// Stops the server at once, as a crash or an outage would (`-m immediate`).
    pub fn stop(&self) -> Result<(), String> {
        self.run(
            self.pg("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"]),
        )
    }

    fn server_options(&self) -> String {
        format!(
            "-k {} -p {} -c listen_addresses='' -c fsync=on",
            self.dir.display(),
            self.port
        )
    }

    /// `bin/{name}`, run as the cluster's user.
    fn pg(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, command: &mut Command) -> Result<(), String> {
        let out = command.output().map_err(|e| format!("{command:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{command:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The socket directory.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The port (on the unix socket only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `postgres` as user `oidc`, over the unix socket.
    pub fn url(&self) -> String {
        format!(
            "postgres://oidc@localhost:{}/postgres?host={}",
            self.port,
            self.dir.display()
        )
    }

    /// Restarts the server at once, as a crash would (`pg_ctl restart -m immediate`).
    pub fn restart_immediately(&self) -> Result<(), String> {
        self.stop()?;
        self.start_again()
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
