//! The Monitor's read loop as a future, for an executor (spec 04 §3.6): a
//! tokio task on a threaded machine, or `win32::block_on` on a simulated
//! thread. The loop is Listing 14.12's, but a stop request wakes it at
//! once instead of being seen within 100 ms: the read and the request are
//! awaited together. Stopping still cancels the read from the task that
//! issued it (CancelIo, book l.9965) and awaits the cancellation before
//! the buffer goes (spec 04 §3.3), then closes the device.
//!
//! The future polls kernel objects: run it on a thread of the machine (a
//! current-thread runtime started there, or `block_on`), not on an
//! executor's own worker threads.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::listener::{MAX_EVENT_LEN, START_MESSAGE, STOPPED_MESSAGE, post_event};
use super::{Document, MonitorOptions, Shared, open};
use crate::sync::Mutex;
use crate::win32::{
    ERROR_IO_PENDING, Handle, cancel_io, close_handle, get_last_error, get_overlapped_result,
    read_file_overlapped,
};

/// A Monitor whose read loop is a future ([`Listening`]) the caller runs.
#[derive(Debug)]
pub struct AsyncMonitor {
    shared: Arc<Shared>,
    stop: Arc<StopSignal>,
}

/// The read loop of an [`AsyncMonitor`]; it ends after "Stopped listening".
pub type Listening = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A stop request the loop can await.
#[derive(Debug, Default)]
struct StopSignal(Mutex<(bool, Option<Waker>)>);

impl StopSignal {
    fn raise(&self) {
        let waker = {
            let mut state = self.0.lock();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn poll_raised(&self, cx: &mut Context<'_>) -> bool {
        let mut state = self.0.lock();
        if !state.0 {
            state.1 = Some(cx.waker().clone());
        }
        state.0
    }
}

impl AsyncMonitor {
    /// StartListener: opens the first DebugPrint device for overlapped I/O
    /// and returns the Monitor and its read loop, to spawn or block on.
    /// Without a device the loop ends at once, the row saying so posted.
    pub fn start(options: MonitorOptions) -> (AsyncMonitor, Listening) {
        let (shared, handle) = open(options);
        let stop = Arc::new(StopSignal::default());
        let monitor = AsyncMonitor { shared: shared.clone(), stop: stop.clone() };
        let listening: Listening = match handle {
            Some(handle) => Box::pin(listen(handle, shared, stop)),
            None => Box::pin(async {}),
        };
        (monitor, listening)
    }

    /// The rows so far.
    pub fn document(&self) -> Document {
        self.shared.document.lock().clone()
    }

    /// Edit → Delete events.
    pub fn clear(&self) {
        self.shared.document.lock().clear();
    }

    /// Asks the loop to stop; it cancels its read, closes the device and
    /// posts "Stopped listening" before it ends.
    pub fn stop(&self) {
        self.stop.raise();
    }
}

/// How the wait for one read ended.
enum Waited {
    Read,
    Stop,
}

/// ListenThreadFunction as a future.
async fn listen(handle: Handle, shared: Arc<Shared>, stop: Arc<StopSignal>) {
    shared.post_monitor(START_MESSAGE.to_string(), false);
    loop {
        let mut read = read_file_overlapped(handle, MAX_EVENT_LEN, 0);
        if !read.started() {
            let error = get_last_error();
            if error != ERROR_IO_PENDING {
                shared.post_monitor(format!("Read didn't return pending {error}"), true);
                break;
            }
            let waited = poll_fn(|cx| {
                if Pin::new(&mut read).poll(cx).is_ready() {
                    return Poll::Ready(Waited::Read);
                }
                match stop.poll_raised(cx) {
                    true => Poll::Ready(Waited::Stop),
                    false => Poll::Pending,
                }
            })
            .await;
            if let Waited::Stop = waited {
                cancel_io(handle);
                // The driver may still write the buffer until the read is
                // done: await it (spec 04 §3.3).
                (&mut read).await;
                break;
            }
        }
        let mut bytes = 0;
        if !get_overlapped_result(&read, &mut bytes, false) {
            shared.post_monitor("GetOverlappedResult failed".to_string(), true);
            break;
        }
        let mut data = read.buffer();
        data.truncate(bytes as usize);
        post_event(&shared, &data);
        if stop.0.lock().0 {
            break;
        }
    }
    close_handle(handle);
    shared.post_monitor(STOPPED_MESSAGE.to_string(), true);
}
