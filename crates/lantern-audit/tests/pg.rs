//! The PostgreSQL store against a real server this test initialises in a temp dir (Debian's
//! postgresql binaries; as root the server runs as the `postgres` user): two replicas append to
//! one log, verification detects edits and deletions, and the server going away mid-run fails
//! the appends without a panic and recovers when it returns.

use lantern_audit::{latest_checkpoint_pg, prove_pg, verify_pg, LogOptions, PgLog, Signer};
use std::time::{Duration, Instant};

#[path = "support/pg_server.rs"]
mod pg_server;
use pg_server::Server;

fn opts() -> LogOptions {
    LogOptions {
        checkpoint_every: 25,
        checkpoint_interval: Duration::from_millis(100),
        ..LogOptions::default()
    }
}

fn sql(url: &str, q: &str) {
    let mut c = postgres_client(url);
    c.batch_execute(q).unwrap_or_else(|e| panic!("{q}: {e}"));
}

fn postgres_client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| panic!("{e}"))
}

/// One server for both scenarios (initdb dominates the cost), each in its own database.
#[test]
fn postgresql_store() {
    let srv = Server::start();
    sql(&srv.url(), "CREATE DATABASE recovery");
    replicas_share_a_verifiable_log_and_tampering_is_detected(&srv.url());
    server_loss_fails_appends_cleanly_and_recovers(
        &srv,
        &srv.url().replace("dbname=postgres", "dbname=recovery"),
    );
}

fn replicas_share_a_verifiable_log_and_tampering_is_detected(url: &str) {
    let url = url.to_string();
    let signer = Signer::generate("pg.test/audit").unwrap_or_else(|e| panic!("{e}"));
    let key = signer.to_private_string();
    let a = PgLog::open(
        &url,
        Signer::parse(&key).unwrap_or_else(|e| panic!("{e}")),
        opts(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let b = PgLog::open(
        &url,
        Signer::parse(&key).unwrap_or_else(|e| panic!("{e}")),
        opts(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut idx = Vec::new();
    std::thread::scope(|s| {
        let ha = s.spawn(|| {
            (0..40)
                .map(|i| {
                    a.append_blocking(format!("a{i}").into_bytes())
                        .unwrap_or(u64::MAX)
                })
                .collect::<Vec<_>>()
        });
        let hb = s.spawn(|| {
            (0..40)
                .map(|i| {
                    b.append_blocking(format!("b{i}").into_bytes())
                        .unwrap_or(u64::MAX)
                })
                .collect::<Vec<_>>()
        });
        idx.extend(ha.join().unwrap_or_default());
        idx.extend(hb.join().unwrap_or_default());
    });
    idx.sort_unstable();
    assert_eq!(
        idx,
        (0..80).collect::<Vec<u64>>(),
        "indices must be dense and unique across replicas"
    );
    a.checkpoint().unwrap_or_else(|e| panic!("{e}"));
    b.checkpoint().unwrap_or_else(|e| panic!("{e}"));
    drop(a);
    drop(b);
    let v = signer.verifier();
    let rep = verify_pg(&url, &v, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(rep.ok(), "{rep:?}");
    assert_eq!((rep.records, rep.sealed), (80, 80));
    // inclusion proofs of records written by either replica check against the signed root
    for i in [0u64, 7, 41, 79] {
        let proof = prove_pg(&url, &v, i).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((proof.index, proof.tree_size), (i, 80));
        proof
            .verify(&v)
            .unwrap_or_else(|e| panic!("record {i}: {e}"));
        let mut forged = proof.clone();
        forged.record.push('!');
        assert!(
            forged.verify(&v).is_err(),
            "a changed record must not prove"
        );
    }
    assert!(prove_pg(&url, &v, 80).is_err(), "record 80 does not exist");
    let latest = latest_checkpoint_pg(&url, &v)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no checkpoint"));
    assert_eq!(v.open(&latest).map(|c| c.size).ok(), Some(80));
    // an edit through SQL is caught by the signed roots
    sql(
        &url,
        "UPDATE lantern_audit_records SET data = 'forged' WHERE idx = 7",
    );
    let rep = verify_pg(&url, &v, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rep.problems
            .iter()
            .any(|p| p.contains("do not hash to the signed root")),
        "{rep:?}"
    );
    // and no proof can be made against a checkpoint the stored records no longer match
    assert!(prove_pg(&url, &v, 7).is_err());
    // so is a deletion of the newest record
    sql(&url, "DELETE FROM lantern_audit_records WHERE idx = 79");
    let rep = verify_pg(&url, &v, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rep.problems
            .iter()
            .any(|p| p.contains("covers 80 records but the log holds only 79")),
        "{rep:?}"
    );
    // and a record removed from the middle: a gap for verify, an error for a proof
    sql(&url, "DELETE FROM lantern_audit_records WHERE idx = 40");
    let rep = verify_pg(&url, &v, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rep.problems
            .iter()
            .any(|p| p.contains("record index 40 missing")),
        "{rep:?}"
    );
    let err = prove_pg(&url, &v, 3).err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("record index 40 missing")),
        "{err:?}"
    );
}

fn server_loss_fails_appends_cleanly_and_recovers(srv: &Server, url: &str) {
    let url = url.to_string();
    let signer = Signer::generate("pg.test/audit").unwrap_or_else(|e| panic!("{e}"));
    let log = PgLog::open(
        &url,
        Signer::parse(&signer.to_private_string()).unwrap_or_else(|e| panic!("{e}")),
        opts(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for i in 0..5 {
        assert_eq!(
            log.append_blocking(format!("r{i}").into_bytes()).ok(),
            Some(i)
        );
    }
    srv.down();
    let t = Instant::now();
    let err = log.append_blocking(b"while down".to_vec());
    assert!(
        err.is_err(),
        "append acknowledged while the database was down"
    );
    assert!(t.elapsed() < Duration::from_secs(20));
    srv.up();
    // the writer reconnects; the failed record was never acknowledged and is not stored
    let mut got = None;
    for _ in 0..50 {
        if let Ok(i) = log.append_blocking(b"after restart".to_vec()) {
            got = Some(i);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(got, Some(5));
    log.checkpoint().unwrap_or_else(|e| panic!("{e}"));
    drop(log);
    let rep = verify_pg(&url, &signer.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(rep.ok() && rep.records == 6 && rep.sealed == 6, "{rep:?}");
}
