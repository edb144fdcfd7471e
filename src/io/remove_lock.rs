//! IO_REMOVE_LOCK: Windows 2000's form of the book's LockDevice /
//! UnlockDevice (book l.5708–5712): IoAcquireRemoveLock on every IRP a
//! driver starts, IoReleaseRemoveLock when it is done with it, and
//! IoReleaseRemoveLockAndWait in IRP_MN_REMOVE_DEVICE, which refuses new
//! acquisitions and waits until the outstanding ones are released.
//!
//! The count starts at one (the lock's own bias), as Wdm2's UsageCount
//! does. As Driver Verifier's I/O verification does, the lock remembers
//! each acquisition's tag: releasing a tag that was not acquired is
//! 0xC4/0xD5, IoReleaseRemoveLockAndWait with one is 0xC4/0xD6, and
//! initializing a lock again after IoReleaseRemoveLockAndWait is 0xC4/0xD7.

use std::fmt;

use crate::ke::{Event, EventType, set_event, wait_for_single_object};
use crate::status::{NtStatus, STATUS_DELETE_PENDING, STATUS_SUCCESS};
use crate::sync::Mutex;
use crate::verifier::{self, Rule};

/// An IO_REMOVE_LOCK in a device extension.
pub struct RemoveLock {
    state: Mutex<State>,
    /// Set when the count reaches zero after IoReleaseRemoveLockAndWait.
    removed_event: Event,
}

#[derive(Debug)]
struct State {
    /// The bias plus outstanding acquisitions.
    io_count: u32,
    /// IoReleaseRemoveLockAndWait was called: acquisitions fail.
    removed: bool,
    /// Outstanding acquisitions by tag.
    tags: Vec<usize>,
}

impl fmt::Debug for RemoveLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoveLock").field("state", &*self.state.lock()).finish()
    }
}

impl Default for RemoveLock {
    fn default() -> Self {
        RemoveLock::new()
    }
}

impl RemoveLock {
    /// An initialized lock (IoInitializeRemoveLock's result).
    pub fn new() -> RemoveLock {
        RemoveLock {
            state: Mutex::new(State { io_count: 1, removed: false, tags: Vec::new() }),
            removed_event: Event::new(EventType::NotificationEvent, false),
        }
    }
}

/// IoInitializeRemoveLock: makes the lock as new (the time-out and
/// high-water mark of checked builds are not modelled). Initializing a lock
/// IoReleaseRemoveLockAndWait already closed is 0xC4/0xD7.
pub fn initialize_remove_lock(lock: &RemoveLock, _tag: usize, _max_minutes: u32, _high_water: u32) {
    let closed = {
        let mut state = lock.state.lock();
        let closed = state.removed;
        *state = State { io_count: 1, removed: false, tags: Vec::new() };
        closed
    };
    if closed {
        verifier::io_violation(Rule::RemoveLockReinitialized, [0, 0, 0], || {
            "IoInitializeRemoveLock on a lock IoReleaseRemoveLockAndWait closed".to_string()
        });
    }
}

/// IoAcquireRemoveLock: STATUS_SUCCESS and one more outstanding use under
/// `tag`, or STATUS_DELETE_PENDING once the device is being removed.
pub fn acquire_remove_lock(lock: &RemoveLock, tag: usize) -> NtStatus {
    let mut state = lock.state.lock();
    if state.removed {
        return STATUS_DELETE_PENDING;
    }
    state.io_count += 1;
    state.tags.push(tag);
    STATUS_SUCCESS
}

/// Takes one acquisition under `tag` off the lock; `false` if there was
/// none. Sets the removal event when the count reaches zero.
fn release(lock: &RemoveLock, tag: usize) -> bool {
    let zero = {
        let mut state = lock.state.lock();
        let Some(at) = state.tags.iter().position(|t| *t == tag) else { return false };
        state.tags.remove(at);
        state.io_count -= 1;
        state.io_count == 0
    };
    if zero {
        set_event(&lock.removed_event, 0, false);
    }
    true
}

/// IoReleaseRemoveLock: the use acquired under `tag` is over.
pub fn release_remove_lock(lock: &RemoveLock, tag: usize) {
    if !release(lock, tag) {
        verifier::io_violation(Rule::RemoveLockTagNotAcquired, [0, tag as u64, 0], || {
            format!("IoReleaseRemoveLock with tag {tag:#x}, which holds no acquisition")
        });
    }
}

/// IoReleaseRemoveLockAndWait: called in IRP_MN_REMOVE_DEVICE with the
/// acquisition made for that IRP under `tag`. New acquisitions fail from
/// now on; releases the REMOVE IRP's acquisition and the bias, then waits
/// (PASSIVE_LEVEL) until every other use is released.
pub fn release_remove_lock_and_wait(lock: &RemoveLock, tag: usize) {
    lock.state.lock().removed = true;
    if !release(lock, tag) {
        verifier::io_violation(Rule::RemoveLockAndWaitTagNotAcquired, [0, tag as u64, 0], || {
            format!("IoReleaseRemoveLockAndWait with tag {tag:#x}, which holds no acquisition")
        });
    }
    let zero = {
        let mut state = lock.state.lock();
        state.io_count -= 1;
        state.io_count == 0
    };
    if zero {
        set_event(&lock.removed_event, 0, false);
    }
    wait_for_single_object(&lock.removed_event, None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Machine;
    use crate::ps::create_system_thread;
    use std::sync::Arc;

    #[test]
    fn removal_waits_for_every_outstanding_use_and_refuses_new_ones() {
        for seed in 0..50 {
            let run = Machine::sim().processors(2).seed(seed).run(|| {
                let lock = Arc::new(RemoveLock::new());
                let log = Arc::new(Mutex::new(Vec::new()));
                assert_eq!(acquire_remove_lock(&lock, 1), STATUS_SUCCESS);
                let (l, g) = (lock.clone(), log.clone());
                let io = create_system_thread(move || {
                    crate::ke::delay_execution_thread(crate::ke::Interval::relative_ms(5));
                    g.lock().push("I/O done");
                    release_remove_lock(&l, 1);
                })
                .expect("thread");
                assert_eq!(acquire_remove_lock(&lock, 2), STATUS_SUCCESS, "the REMOVE IRP");
                release_remove_lock_and_wait(&lock, 2);
                log.lock().push("removed");
                let after = acquire_remove_lock(&lock, 3);
                crate::ke::wait_for_single_object(&io, None);
                let log = log.lock().clone();
                (log, after)
            });
            assert_eq!(
                run.value(),
                (vec!["I/O done", "removed"], STATUS_DELETE_PENDING),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn tag_misuse_is_driver_verifiers_0xd5_0xd6_and_0xd7() {
        let stop = |scenario: fn()| {
            let run = Machine::sim().run(scenario);
            run.failure().and_then(|f| f.bug_check()).map(|c| (c.code, c.params[0]))
        };
        assert_eq!(stop(|| release_remove_lock(&RemoveLock::new(), 7)), Some((0xC4, 0xD5)));
        assert_eq!(
            stop(|| {
                let lock = RemoveLock::new();
                acquire_remove_lock(&lock, 1);
                release_remove_lock_and_wait(&lock, 2);
            }),
            Some((0xC4, 0xD6))
        );
        assert_eq!(
            stop(|| {
                let lock = RemoveLock::new();
                acquire_remove_lock(&lock, 1);
                release_remove_lock_and_wait(&lock, 1);
                initialize_remove_lock(&lock, 0, 0, 0);
            }),
            Some((0xC4, 0xD7))
        );
        let fine = Machine::sim().run(|| {
            let lock = RemoveLock::new();
            acquire_remove_lock(&lock, 1);
            release_remove_lock(&lock, 1);
        });
        assert!(fine.failure().is_none());
    }
}
