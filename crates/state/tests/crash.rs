//! Crash test: a child process (this binary, re-executed with an environment
//! variable) commits batches to a `SledStore` in a loop and is killed with
//! SIGKILL at a random moment. After each kill the parent reopens the store
//! and checks that it holds exactly the effects of batches `1..=n` for some
//! `n` (each batch all-or-nothing, positions matching the state), and that
//! `n` covers every batch the child reported as flushed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sluice_state::{Positions, SledDb, StateStore, WriteBatch};

const CHILD_ENV: &str = "SLUICE_STATE_CRASH_CHILD_DIR";
const STORE: &str = "crash";
const KEYS_PER_BATCH: u64 = 40;
const FLUSH_EVERY: u64 = 3;
const ROUNDS: usize = 10;

fn main() {
    match std::env::var_os(CHILD_ENV) {
        Some(dir) => child(std::path::Path::new(&dir)),
        None => parent(),
    }
}

/// The writes and positions of batch `i` (1-based). Every batch rewrites
/// `count`, adds new keys, overwrites one of a few shared keys, deletes a key
/// of the previous batch and moves several positions, so a partially applied
/// batch is visible in the state.
fn batch(i: u64) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put("count", i.to_be_bytes());
    for j in 0..KEYS_PER_BATCH {
        let len = ((i * 31 + j * 17) % 300 + 1) as usize;
        b.put(format!("k/{i:08}/{j:03}"), vec![(i + j) as u8; len]);
    }
    b.put(format!("shared/{}", i % 7), i.to_string());
    if i > 1 {
        b.delete(format!("k/{:08}/{:03}", i - 1, (i - 1) % KEYS_PER_BATCH));
    }
    b.set_position("src", 0, i as i64)
        .set_position("src", 1, 2 * i as i64)
        .set_position("other", (i % 3) as i32, i as i64);
    b
}

/// State and positions after batches `1..=n`, computed independently of the
/// store under test.
fn expected(n: u64) -> (BTreeMap<Vec<u8>, Vec<u8>>, Positions) {
    let mut state = BTreeMap::new();
    let mut positions = Positions::new();
    for i in 1..=n {
        let b = batch(i);
        for (k, v) in b.writes() {
            match v {
                Some(v) => state.insert(k.to_vec(), v.to_vec()),
                None => state.remove(k),
            };
        }
        positions.extend(b.positions().clone());
    }
    (state, positions)
}

fn committed_count(store: &dyn StateStore) -> u64 {
    store
        .get(b"count")
        .expect("get count")
        .map(|v| u64::from_be_bytes(v.try_into().expect("count is 8 bytes")))
        .unwrap_or(0)
}

fn child(dir: &std::path::Path) -> ! {
    let db = SledDb::open(dir).expect("child: open");
    let store = db.store(STORE).expect("child: store");
    let mut i = committed_count(&store);
    loop {
        i += 1;
        store.commit(batch(i)).expect("child: commit");
        if i.is_multiple_of(FLUSH_EVERY) {
            store.flush().expect("child: flush");
            // Only report after the flush has returned.
            println!("flushed {i}");
        }
    }
}

fn parent() {
    let started = Instant::now();
    let mut rng = Rng::seeded();
    eprintln!("crash test seed {}", rng.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current_exe");
    let mut previous = 0;

    for round in 1..=ROUNDS {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let flushed = Arc::new(AtomicI64::new(-1));
        let reader = {
            let flushed = flushed.clone();
            let stdout = child.stdout.take().expect("child stdout");
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(n) = line.strip_prefix("flushed ") {
                        let n: i64 = n.parse().expect("flushed count");
                        flushed.fetch_max(n, Ordering::SeqCst);
                    }
                }
            })
        };

        // Let the child get going (opening and recovering takes a variable
        // time), then kill it at a random moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        while flushed.load(Ordering::SeqCst) < 0 {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("round {round}: child exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: child made no progress"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.below(400)));
        child.kill().expect("SIGKILL child");
        let status = child.wait().expect("wait child");
        assert!(!status.success(), "child was not killed: {status}");
        reader.join().expect("reader thread");
        let flushed = flushed.load(Ordering::SeqCst) as u64;

        let db = SledDb::open(dir.path()).expect("reopen after kill");
        let store = db.store(STORE).expect("store");
        let n = committed_count(&store);
        let (want_state, want_positions) = expected(n);
        let got_state: BTreeMap<Vec<u8>, Vec<u8>> = store
            .scan_prefix(b"")
            .expect("scan")
            .collect::<Result<_, _>>()
            .expect("scan item");
        assert!(
            got_state == want_state,
            "round {round}: state is not that of batches 1..={n} ({} keys, want {})",
            got_state.len(),
            want_state.len()
        );
        assert_eq!(
            store.positions().expect("positions"),
            want_positions,
            "round {round}: positions do not match batches 1..={n}"
        );
        assert!(
            n >= flushed,
            "round {round}: batch {flushed} was flushed but only {n} survived"
        );
        assert!(
            n > previous,
            "round {round}: no progress past batch {previous}"
        );
        eprintln!("round {round}: killed after flush of {flushed}, recovered {n} batches");
        previous = n;
    }
    eprintln!("crash test passed in {:?}", started.elapsed());
}

/// xorshift64; enough to vary the kill moment between runs.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Rng(nanos | 1)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}
