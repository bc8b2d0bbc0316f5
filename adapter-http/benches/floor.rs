//! The floor: what the bare operations our endpoints are built from cost on this machine, one
//! JSON line each. `bench/run.sh` runs it pinned to the server's core and prints each endpoint's
//! CPU per request next to these.
//!
//! `cargo bench -p adapter-http --bench floor`

use engine::authorize::pkce;
use engine::fixtures;
use engine::jose::SigningKey;
use engine::password::{self, PasswordParams};
use engine::store::{Store, Table};
use std::hint::black_box;
use std::time::{Duration, Instant};
use store_redb::RedbStore;
use store_sled::SledStore;

/// Runs `op` for about `budget` (at least 3 times) and prints ops/s and µs/op.
fn measure(name: &str, budget: Duration, mut op: impl FnMut(u64)) {
    op(0); // warm
    let start = Instant::now();
    let mut n = 0u64;
    while n < 3 || start.elapsed() < budget {
        op(n + 1);
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        r#"{{"op":"{name}","iterations":{n},"ops_per_s":{:.1},"us_per_op":{:.2}}}"#,
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("FLOOR_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    // A signing input the size of one of our access tokens' header.claims (about 450 bytes).
    let msg = vec![b'x'; 450];
    let rs256 = SigningKey::from_material(&fixtures::rsa_key()).expect("RSA fixture");
    let es256 = SigningKey::from_material(&fixtures::p256_key()).expect("P-256 fixture");
    let es384 = SigningKey::from_material(&fixtures::p384_key()).expect("P-384 fixture");
    for (name, key) in [("sign_rs256", &rs256), ("sign_es256", &es256), ("sign_es384", &es384)] {
        measure(name, budget, |_| {
            black_box(key.sign(black_box(&msg)));
        });
    }
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    measure("sha256_pkce_verifier", budget, |_| {
        black_box(pkce::s256(black_box(verifier)));
    });

    let dir = std::env::temp_dir().join(format!("floor-sled-{}", std::process::id()));
    let raw = sled::Config::new().path(dir.join("raw")).open().expect("sled");
    let value = vec![7u8; 200];
    measure("sled_insert_no_flush", budget, |i| {
        raw.insert(i.to_be_bytes(), value.as_slice()).expect("insert");
    });
    measure("sled_insert_flush", budget, |i| {
        raw.insert((u64::MAX - i).to_be_bytes(), value.as_slice())
            .expect("insert");
        raw.flush().expect("flush");
    });
    let store = SledStore::open(&dir.join("store")).expect("store");
    measure("sled_store_transaction_put_flush", budget, |i| {
        store
            .transact(|tx| Ok(tx.put(Table::Code, &format!("t/{i}"), value.clone())?))
            .expect("transaction");
    });
    drop((raw, store));
    let _ = std::fs::remove_dir_all(&dir);

    // redb: a commit without fsync (what a request's own commit costs), one with (what the
    // group-commit thread's flush costs), and a store transaction outside a request (both).
    let dir = std::env::temp_dir().join(format!("floor-redb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let raw = redb::Database::create(dir.join("raw.redb")).expect("redb");
    let table: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("floor");
    let commit = |i: u64, durability: redb::Durability| {
        let mut w = raw.begin_write().expect("begin");
        w.set_durability(durability).expect("durability");
        w.open_table(table)
            .expect("table")
            .insert(i, value.as_slice())
            .expect("insert");
        w.commit().expect("commit");
    };
    measure("redb_commit_no_fsync", budget, |i| commit(i, redb::Durability::None));
    measure("redb_commit_fsync", budget, |i| {
        commit(u64::MAX - i, redb::Durability::Immediate)
    });
    let store = RedbStore::open(&dir.join("store"), store_sled::DEFAULT_CACHE_BYTES).expect("store");
    measure("redb_store_transaction_put_flush", budget, |i| {
        store
            .transact(|tx| Ok(tx.put(Table::Code, &format!("t/{i}"), value.clone())?))
            .expect("transaction");
    });
    drop((raw, store));
    let _ = std::fs::remove_dir_all(&dir);

    let params = PasswordParams::default();
    let stored = password::hash(params, "correct horse battery staple", &[1; 16]);
    measure("argon2id_hash", budget, |i| {
        black_box(password::hash(params, "correct horse battery staple", &[i as u8; 16]));
    });
    measure("argon2id_verify", budget, |_| {
        black_box(password::verify("correct horse battery staple", &stored));
    });
}
