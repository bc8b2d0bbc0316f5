//! The operator's system secret, which seals the private keys in the store (`engine::sealing`):
//! where it comes from (`--system-secret-file`, `OP_SYSTEM_SECRET`, or, for an embedded store
//! started without one, a file generated into the data dir), and what is refused.

use crate::data_store::DataStore;
use crate::data_store::Lifecycle;
use crate::os_env::OsRandom;
use engine::jose::signing::{SigningKeysRecord, StoredMaterial};
use engine::reseal::{ResealReport, ResealScope};
use engine::sealing::SystemSecrets;
use engine::store::{decode, for_each_page, Table};
use engine::{Engine, EngineConfig, Env, RandomSource};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file an embedded store's generated secret is kept in, inside its data dir.
pub const FILE_NAME: &str = "system-secret";

/// The operator's secrets, newest (sealing) first, as given: empty when none was.
#[derive(Clone, Default)]
pub struct GivenSecrets(pub Vec<Vec<u8>>);

impl std::fmt::Debug for GivenSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GivenSecrets({} given)", self.0.len())
    }
}

impl GivenSecrets {
    /// The secrets of `OP_SYSTEM_SECRET` (comma-separated) or of the files (one per non-empty
    /// line), not both: which one comes first would be a guess.
    pub fn gather(env_value: Option<&str>, files: &[PathBuf]) -> Result<Self, String> {
        match (env_value.filter(|v| !v.trim().is_empty()), files.is_empty()) {
            (Some(_), false) => {
                Err("give the system secret in OP_SYSTEM_SECRET or in --system-secret-file, not both".into())
            }
            (Some(v), true) => Ok(GivenSecrets(split(v, ','))),
            (None, _) => {
                let mut all = Vec::new();
                for f in files {
                    let text = std::fs::read_to_string(f)
                        .map_err(|e| format!("cannot read the system secret file {}: {e}", f.display()))?;
                    let found = split(&text, '\n');
                    if found.is_empty() {
                        return Err(format!("the system secret file {} is empty", f.display()));
                    }
                    all.extend(found);
                }
                Ok(GivenSecrets(all))
            }
        }
    }
}

fn split(text: &str, sep: char) -> Vec<Vec<u8>> {
    text.split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

/// Where the secrets came from, for the start-up log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The operator gave them.
    Given,
    /// Read from the data dir's own file.
    DataDir(PathBuf),
    /// Generated into the data dir's file at this start.
    Generated(PathBuf),
}

/// The secrets to seal with: the ones given; without any, over PostgreSQL a refusal, over an
/// embedded store the data dir's file, generated (`0600`) when the store holds no sealed key yet.
pub fn resolve(given: &GivenSecrets, store: &DataStore, data_dir: &Path) -> Result<(SystemSecrets, Origin), String> {
    if !given.0.is_empty() {
        let secrets = SystemSecrets::new(&given.0).map_err(|e| format!("system secret: {e}"))?;
        return Ok((secrets, Origin::Given));
    }
    if matches!(store, DataStore::Postgres(_)) {
        return Err(format!(
            "a PostgreSQL store needs a system secret, the same on every instance: \
             --system-secret-file FILE or OP_SYSTEM_SECRET (at least {} bytes; \
             `openssl rand -base64 48` makes one). It seals the signing keys in the database.",
            SystemSecrets::MIN_LEN
        ));
    }
    let path = data_dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secrets = SystemSecrets::new(&split(&text, '\n')).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((secrets, Origin::DataDir(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if holds_sealed_keys(store)? {
                return Err(format!(
                    "the store's signing keys are sealed under a system secret, and {} is gone and \
                     none was given: pass the one they were sealed with (--system-secret-file or \
                     OP_SYSTEM_SECRET). A new secret would not open them.",
                    path.display()
                ));
            }
            let secret = generate(&path)?;
            let secrets = SystemSecrets::new(&[secret]).map_err(|e| e.to_string())?;
            Ok((secrets, Origin::Generated(path)))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// `secrets rotate`: every stored private key sealed under the first secret (given, or the first
/// line of the data dir's file); each must open with one of them. Never generates a secret.
pub fn rotate(given: &GivenSecrets, store: DataStore, data_dir: &Path) -> Result<ResealReport, String> {
    let path = data_dir.join(FILE_NAME);
    if given.0.is_empty() && !matches!(store, DataStore::Postgres(_)) && !path.exists() {
        return Err(format!(
            "no system secret given and no {}: give the new one first and the old ones after it",
            path.display()
        ));
    }
    let (secrets, _) = resolve(given, &store, data_dir)?;
    let engine = Engine::new(store, EngineConfig::new("http://localhost"), Arc::new(secrets));
    let mut rng = OsRandom;
    let mut env = Env::precise(crate::os_env::now_nanos(), &mut rng);
    let report = engine
        .reseal_key_material(&mut env, ResealScope::NotCurrent)
        .map_err(|e| e.to_string())?;
    engine.store().flush().map_err(|e| e.0)?;
    Ok(report)
}

/// Whether any stored signing key is sealed (and so needs the secret it was sealed with).
fn holds_sealed_keys(store: &DataStore) -> Result<bool, String> {
    let mut sealed = false;
    for_each_page(store, Table::SigningKeys, "", 100, |page| {
        for (_, bytes) in page {
            let rec = decode::<SigningKeysRecord>(bytes)?;
            sealed |= rec.keys.iter().any(|k| matches!(k.material, StoredMaterial::Sealed(_)));
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(sealed)
}

/// Writes a new random secret (48 bytes, base64url) to `path`, readable by its owner only.
fn generate(path: &Path) -> Result<String, String> {
    let mut bytes = [0u8; 48];
    OsRandom.fill(&mut bytes);
    let secret = engine::secret::b64url(&bytes);
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_environment_or_files_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        std::fs::write(&f, "new-secret-line\n\nold-secret-line\n").unwrap();
        let from_files = GivenSecrets::gather(None, std::slice::from_ref(&f)).unwrap();
        assert_eq!(
            from_files.0,
            vec![b"new-secret-line".to_vec(), b"old-secret-line".to_vec()]
        );
        let from_env = GivenSecrets::gather(Some(" a , b,"), &[]).unwrap();
        assert_eq!(from_env.0, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(GivenSecrets::gather(Some("a"), &[f]).is_err());
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(GivenSecrets::gather(None, &[empty]).unwrap_err().contains("empty"));
        assert!(GivenSecrets::gather(None, &[dir.path().join("missing")]).is_err());
        assert!(GivenSecrets::gather(None, &[]).unwrap().0.is_empty());
    }

    #[test]
    fn an_embedded_store_gets_its_own_secret_file_once_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = DataStore::open(crate::data_store::StoreKind::Sled, dir.path(), 8 << 20).unwrap();
        let (first, origin) = resolve(&GivenSecrets::default(), &store, dir.path()).unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(origin, Origin::Generated(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = resolve(&GivenSecrets::default(), &store, dir.path()).unwrap();
        assert_eq!(origin, Origin::DataDir(path.clone()));
        assert_eq!(first.key_ids(), again.key_ids());
        // A secret given wins over the file.
        let given = GivenSecrets(vec![b"an operator's secret of thirty-two bytes or more".to_vec()]);
        let (s, origin) = resolve(&given, &store, dir.path()).unwrap();
        assert_eq!(origin, Origin::Given);
        assert_ne!(s.key_ids(), first.key_ids());
        let short = GivenSecrets(vec![b"short".to_vec()]);
        assert!(resolve(&short, &store, dir.path()).unwrap_err().contains("at least 32"));
        // Keys sealed under the data dir's secret, then the file gone: refused, none generated.
        let engine = Engine::new(&store, EngineConfig::new("http://localhost"), Arc::new(first));
        let mut rng = OsRandom;
        let mut env = Env::new(crate::os_env::now(), &mut rng);
        engine
            .install_signing_key(
                &mut env,
                "demo",
                crate::bootstrap::generate_key(spec::SigningAlg::ES256),
            )
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        let refused = resolve(&GivenSecrets::default(), &store, dir.path()).err().unwrap();
        assert!(refused.contains("is gone and none was given"), "{refused}");
        assert!(!path.exists());
    }
}
