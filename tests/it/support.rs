//! Helpers shared by the integration tests.

use std::sync::Arc;

use wdmsim::Run;
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
