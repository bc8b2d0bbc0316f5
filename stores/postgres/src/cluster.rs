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
    /// Listening on 127.0.0.1 too, for TLS connections only (`start_with_tls`).
    tls: bool,
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
        Self::start_as(false)
    }

    /// Starts a new cluster that also listens on 127.0.0.1, where it takes TLS connections only,
    /// with a certificate for `localhost` signed by a CA of its own ([`TempCluster::ca_file`]).
    /// Needs the `openssl` command.
    pub fn start_with_tls() -> Result<Self, String> {
        Self::start_as(true)
    }

    fn start_as(tls: bool) -> Result<Self, String> {
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
            tls,
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
        if tls {
            cluster.make_certificates()?;
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
            )
            .map_err(|e| e.to_string())?;
        }
        cluster.start_again()?;
        Ok(cluster)
    }

    /// A CA, and a certificate for `localhost` and 127.0.0.1 it signed, made by `openssl`.
    fn make_certificates(&self) -> Result<(), String> {
        let d = &self.dir;
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        let openssl = |args: &str| {
            let mut c = Command::new("openssl");
            c.current_dir(d).args(args.split(' '));
            c
        };
        self.run(&mut openssl(
            "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca",
        ))?;
        self.run(&mut openssl(
            "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
        ))?;
        self.run(&mut openssl(
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext",
        ))?;
        let key = d.join("server.key");
        if self.as_postgres {
            self.run(Command::new("chown").arg("postgres:postgres").arg(&key))?;
        }
        self.run(Command::new("chmod").arg("600").arg(&key))
    }

    /// The CA that signed the server's certificate (`start_with_tls`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A URL over TCP to 127.0.0.1 that asks for TLS (`start_with_tls`).
    pub fn tls_url(&self) -> String {
        format!("postgres://oidc@localhost:{}/postgres?sslmode=require", self.port)
    }

    /// The same over TCP without TLS (which a `start_with_tls` cluster refuses).
    pub fn plain_tcp_url(&self) -> String {
        format!("postgres://oidc@127.0.0.1:{}/postgres?sslmode=disable", self.port)
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
        let d = self.dir.display();
        if self.tls {
            format!(
                "-k {d} -p {} -c listen_addresses=127.0.0.1 -c fsync=on -c ssl=on -c ssl_cert_file={d}/server.pem -c ssl_key_file={d}/server.key",
                self.port
            )
        } else {
            format!("-k {d} -p {} -c listen_addresses='' -c fsync=on", self.port)
        }
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

    /// `pg_dump` of database `postgres` (plain SQL, as a backup would hold it).
    pub fn dump(&self) -> Result<Vec<u8>, String> {
        let mut c = self.pg("pg_dump");
        c.args(["-h"])
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-U", "oidc", "-d", "postgres"]);
        let out = c.output().map_err(|e| format!("{c:?}: {e}"))?;
        if !out.status.success() {
            return Err(format!("pg_dump failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(out.stdout)
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
