//! The behavioural contract of [`StateStore`], as a test suite that every
//! backend runs (see the `contract_tests!` invocations in the backends).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::batch::WriteBatch;
use crate::store::{KeyValue, StateStore};

/// Generates one `#[test]` per contract case. `$with_store` names a function
/// in the invoking module of type `fn(&dyn Fn(&dyn StateStore))` that calls
/// its argument with a fresh, empty store.
macro_rules! contract_tests {
    ($with_store:ident) => {
        mod contract_suite {
            use crate::contract;

            #[test]
            fn get_put_delete() {
                super::$with_store(&contract::get_put_delete);
            }
            #[test]
            fn last_write_in_batch_wins() {
                super::$with_store(&contract::last_write_in_batch_wins);
            }
            #[test]
            fn scan_prefix_in_key_order() {
                super::$with_store(&contract::scan_prefix_in_key_order);
            }
            #[test]
            fn scan_range_is_half_open() {
                super::$with_store(&contract::scan_range_is_half_open);
            }
            #[test]
            fn positions_commit_with_state() {
                super::$with_store(&contract::positions_commit_with_state);
            }
            #[test]
            fn readers_never_see_half_a_batch() {
                super::$with_store(&contract::readers_never_see_half_a_batch);
            }
        }
    };
}
pub(crate) use contract_tests;

fn collect(it: crate::Result<crate::StateIter<'_>>) -> Vec<KeyValue> {
    it.expect("scan")
        .collect::<crate::Result<Vec<_>>>()
        .expect("scan item")
}

fn kv(k: &[u8], v: &[u8]) -> KeyValue {
    (k.to_vec(), v.to_vec())
}

pub(crate) fn get_put_delete(s: &dyn StateStore) {
    assert_eq!(s.get(b"k").unwrap(), None);
    let mut b = WriteBatch::new();
    b.put("k", "v1").put("empty", "");
    s.commit(b).unwrap();
    assert_eq!(s.get(b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    // An empty value is a value, not an absence.
    assert_eq!(s.get(b"empty").unwrap().as_deref(), Some(&b""[..]));

    let mut b = WriteBatch::new();
    b.put("k", "v2");
    s.commit(b).unwrap();
    assert_eq!(s.get(b"k").unwrap().as_deref(), Some(&b"v2"[..]));

    let mut b = WriteBatch::new();
    b.delete("k").delete("never-existed");
    s.commit(b).unwrap();
    assert_eq!(s.get(b"k").unwrap(), None);
    assert_eq!(s.get(b"never-existed").unwrap(), None);
    assert_eq!(collect(s.scan_prefix(b"")), vec![kv(b"empty", b"")]);

    // An empty batch is a no-op.
    s.commit(WriteBatch::new()).unwrap();
    assert_eq!(collect(s.scan_prefix(b"")).len(), 1);
    assert!(s.positions().unwrap().is_empty());
    s.flush().unwrap();
}

pub(crate) fn last_write_in_batch_wins(s: &dyn StateStore) {
    let mut b = WriteBatch::new();
    b.put("a", "old");
    s.commit(b).unwrap();
    let mut b = WriteBatch::new();
    b.delete("a").put("a", "new").put("b", "x").delete("b");
    s.commit(b).unwrap();
    assert_eq!(s.get(b"a").unwrap().as_deref(), Some(&b"new"[..]));
    assert_eq!(s.get(b"b").unwrap(), None);
}

pub(crate) fn scan_prefix_in_key_order(s: &dyn StateStore) {
    // Inserted out of order, with boundary bytes around the prefix.
    let keys: Vec<&[u8]> = vec![
        b"b",
        b"ab",
        b"a\xff",
        b"a",
        b"a\x00",
        b"\xff",
        b"\xff\xff\x01",
        b"",
        b"`",
        b"a\xff\xff",
    ];
    let mut b = WriteBatch::new();
    for (i, k) in keys.iter().enumerate() {
        b.put(*k, i.to_string());
    }
    s.commit(b).unwrap();

    let got: Vec<Vec<u8>> = collect(s.scan_prefix(b"a"))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let want: Vec<Vec<u8>> = vec![
        b"a".to_vec(),
        b"a\x00".to_vec(),
        b"ab".to_vec(),
        b"a\xff".to_vec(),
        b"a\xff\xff".to_vec(),
    ];
    assert_eq!(got, want);

    // Values travel with their keys.
    let pairs = collect(s.scan_prefix(b"a\xff"));
    assert_eq!(pairs, vec![kv(b"a\xff", b"2"), kv(b"a\xff\xff", b"9")]);

    // A prefix of all-0xff bytes has no successor; the scan is still bounded
    // by the prefix.
    let got: Vec<Vec<u8>> = collect(s.scan_prefix(b"\xff"))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(got, vec![b"\xff".to_vec(), b"\xff\xff\x01".to_vec()]);

    // The empty prefix is the whole store, sorted.
    let all: Vec<Vec<u8>> = collect(s.scan_prefix(b""))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut sorted: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
    sorted.sort();
    assert_eq!(all, sorted);

    assert!(collect(s.scan_prefix(b"zz")).is_empty());
}

pub(crate) fn scan_range_is_half_open(s: &dyn StateStore) {
    let mut b = WriteBatch::new();
    for i in (0u32..20).rev() {
        b.put(i.to_be_bytes().to_vec(), vec![i as u8]);
    }
    s.commit(b).unwrap();

    let lo = 5u32.to_be_bytes();
    let hi = 9u32.to_be_bytes();
    let got: Vec<u32> = collect(s.scan_range(&lo[..]..&hi[..]))
        .into_iter()
        .map(|(k, v)| {
            let k = u32::from_be_bytes(k.try_into().unwrap());
            assert_eq!(v, vec![k as u8]);
            k
        })
        .collect();
    assert_eq!(got, vec![5, 6, 7, 8]);

    // Bounds need not be stored keys.
    let got = collect(s.scan_range(&[0, 0, 0, 18, 0][..]..&[1u8][..]));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, 19u32.to_be_bytes().to_vec());

    // Empty and inverted ranges yield nothing (and do not panic).
    assert!(collect(s.scan_range(&lo[..]..&lo[..])).is_empty());
    assert!(collect(s.scan_range(&hi[..]..&lo[..])).is_empty());

    // The full range covers everything.
    assert_eq!(collect(s.scan_range(&b""[..]..&[0xffu8; 5][..])).len(), 20);
}

pub(crate) fn positions_commit_with_state(s: &dyn StateStore) {
    let mut b = WriteBatch::new();
    b.put("count", "1")
        .set_position("orders", 0, 10)
        .set_position("orders", 1, 3)
        .set_position("users", 0, 7);
    s.commit(b).unwrap();
    let p = s.positions().unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p[&("orders".to_string(), 0)], 10);
    assert_eq!(p[&("orders".to_string(), 1)], 3);
    assert_eq!(p[&("users".to_string(), 0)], 7);
    assert_eq!(s.get(b"count").unwrap().as_deref(), Some(&b"1"[..]));

    // Only the named partitions move; others keep their value.
    let mut b = WriteBatch::new();
    b.put("count", "2").set_position("orders", 0, 11);
    s.commit(b).unwrap();
    let p = s.positions().unwrap();
    assert_eq!(p[&("orders".to_string(), 0)], 11);
    assert_eq!(p[&("orders".to_string(), 1)], 3);
    assert_eq!(p[&("users".to_string(), 0)], 7);

    // A positions-only batch leaves state alone; odd topic names and
    // negative partitions/offsets round-trip.
    let mut b = WriteBatch::new();
    b.set_position("", -1, -1)
        .set_position("t\0with\u{e9}", i32::MAX, i64::MAX);
    s.commit(b).unwrap();
    let p = s.positions().unwrap();
    assert_eq!(p.len(), 5);
    assert_eq!(p[&(String::new(), -1)], -1);
    assert_eq!(p[&("t\0with\u{e9}".to_string(), i32::MAX)], i64::MAX);
    assert_eq!(s.get(b"count").unwrap().as_deref(), Some(&b"2"[..]));
    // Positions are not part of the key space.
    assert_eq!(collect(s.scan_prefix(b"")), vec![kv(b"count", b"2")]);
}

pub(crate) fn readers_never_see_half_a_batch(s: &dyn StateStore) {
    // Each batch sets key "n" and position ("t", 0) to the same counter.
    // Read in one order, the position can never be ahead of the key, and
    // in the other order the key never ahead of the position, unless a
    // reader saw half a batch.
    const ROUNDS: i64 = 300;
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 1..=ROUNDS {
                let mut b = WriteBatch::new();
                b.put("n", i.to_be_bytes()).set_position("t", 0, i);
                s.commit(b).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        });
        let read_n = || {
            s.get(b"n")
                .unwrap()
                .map(|v| i64::from_be_bytes(v.try_into().unwrap()))
                .unwrap_or(0)
        };
        let read_p = || {
            s.positions()
                .unwrap()
                .get(&("t".to_string(), 0))
                .copied()
                .unwrap_or(0)
        };
        let mut checks = 0;
        while !done.load(Ordering::SeqCst) || checks == 0 {
            let p = read_p();
            let n = read_n();
            assert!(n >= p, "key {n} behind position {p}");
            let n = read_n();
            let p = read_p();
            assert!(p >= n, "position {p} behind key {n}");
            checks += 1;
        }
    });
    assert_eq!(s.positions().unwrap()[&("t".to_string(), 0)], ROUNDS);
}
