//! Helpers shared by the crate's unit tests.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use datafusion::arrow::array::{ArrayRef, Int32Builder, MapBuilder, StringBuilder};

/// Runs a future on this thread (the plans under test never spawn tasks).
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// Rows of `MAP<STRING, INT>` (`None`: a null map).
pub(crate) type MapRows<'a> = Vec<Option<Vec<(&'a str, Option<i32>)>>>;

/// A `MAP<STRING, INT>` array of `rows`.
pub(crate) fn string_int_maps(rows: MapRows<'_>) -> ArrayRef {
    let mut m = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
    for row in rows {
        match row {
            Some(entries) => {
                for (k, v) in entries {
                    m.keys().append_value(k);
                    m.values().append_option(v);
                }
                m.append(true).unwrap();
            }
            None => m.append(false).unwrap(),
        }
    }
    Arc::new(m.finish())
}
