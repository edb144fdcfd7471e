//! Helpers shared by the integration tests.

use std::sync::Arc;

use wdmsim::Run;
use wdmsim::ddk::{Thread, ke_wait_for_single_object, ps_create_system_thread};
use wdmsim::sync::Mutex;
use wdmsim::verifier::BugCheck;

/// An ordered log a scenario appends to without adding scheduling points.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, line: impl Into<String>) {
        self.0.lock().push(line.into());
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

/// The bug check that ended `run`; fails the test if it ended otherwise.
#[track_caller]
pub fn bug_check_of<T: std::fmt::Debug>(run: &Run<T>) -> BugCheck {
    match &run.result {
        Err(wdmsim::Failure::BugCheck(check)) => check.clone(),
        other => panic!("expected a bug check, got {other:?}\n{}", run.trace.tail(20)),
    }
}

/// What a scenario shares with the drivers it installs. Drivers are plain
/// `fn` items (DriverEntry, AddDevice, dispatch routines), so they cannot
/// capture anything; they reach the scenario's [`Log`] and switches
/// through [`Bench::current`]. A simulation runs every thread of a machine
/// as a fiber of the OS thread that called `Machine::run`, so a slot per OS
/// thread is a slot per run: each scenario starts with [`Bench::install`].
#[derive(Clone, Default)]
pub struct Bench {
    pub log: Log,
    switches: Arc<Mutex<std::collections::BTreeMap<String, u32>>>,
    values: Arc<Mutex<std::collections::BTreeMap<String, Box<dyn std::any::Any + Send>>>>,
}

thread_local! {
    static BENCH: std::cell::RefCell<Option<Bench>> = const { std::cell::RefCell::new(None) };
}

impl Bench {
    /// A fresh bench for the scenario running on this OS thread.
    pub fn install() -> Bench {
        let bench = Bench::default();
        BENCH.with(|slot| *slot.borrow_mut() = Some(bench.clone()));
        bench
    }

    /// The bench of the scenario running on this OS thread.
    pub fn current() -> Bench {
        BENCH.with(|slot| slot.borrow().clone()).expect("the scenario calls Bench::install first")
    }

    /// Sets switch `key` (by convention `Driver.what`) to `value`.
    pub fn set(&self, key: &str, value: u32) {
        self.switches.lock().insert(key.to_string(), value);
    }

    pub fn clear(&self, key: &str) {
        self.switches.lock().remove(key);
    }

    /// The value of switch `key`, if set.
    pub fn get(&self, key: &str) -> Option<u32> {
        self.switches.lock().get(key).copied()
    }

    pub fn is_set(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Stores `value` under `key` (what a switch cannot hold).
    pub fn put<T: std::any::Any + Send>(&self, key: &str, value: T) {
        self.values.lock().insert(key.to_string(), Box::new(value));
    }

    /// A copy of the value stored under `key`, if it is a `T`.
    pub fn value<T: std::any::Any + Clone>(&self, key: &str) -> Option<T> {
        self.values.lock().get(key).and_then(|v| v.downcast_ref::<T>()).cloned()
    }
}

/// A system thread whose value the scenario joins.
pub struct Joiner<T> {
    thread: Thread,
    value: Arc<Mutex<Option<T>>>,
}

/// Runs `work` on a new system thread; [`Joiner::join`] waits for its value.
pub fn spawn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Joiner<T> {
    let value = Arc::new(Mutex::new(None));
    let slot = value.clone();
    let thread = ps_create_system_thread(move || {
        let result = work();
        *slot.lock() = Some(result);
    })
    .expect("a thread");
    Joiner { thread, value }
}

impl<T> Joiner<T> {
    #[track_caller]
    pub fn join(self) -> T {
        ke_wait_for_single_object(&self.thread, None);
        self.value.lock().take().expect("the thread returned")
    }
}
