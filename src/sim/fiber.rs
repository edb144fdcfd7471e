//! Fibers: the stackful coroutines that simulated processors run on.
//!
//! Every simulated thread, and every DPC or ISR frame a processor takes, runs
//! on a fiber. Any kernel call, however deep in a driver, can [`suspend`] the
//! fiber back to the scheduler, which resumes whichever fiber it picks next.
//!
//! This is the crate's only `unsafe`: corosensei hands a fiber its `Yielder`
//! as a reference scoped to the fiber's body, and a kernel call deep in driver
//! code has no way to receive it as an argument. So the body stores a pointer
//! to it in a thread-local while the fiber runs, and [`suspend`] reads it back.

#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::ptr;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

/// Stack size per fiber. Driver call chains (dispatch → IoCallDriver →
/// completion) nest a few frames deep; 256 KiB leaves room in debug builds.
const STACK_BYTES: usize = 256 * 1024;

type Co = Coroutine<(), (), (), DefaultStack>;

/// Finished fibers' stacks kept for reuse (mapping a stack costs
/// microseconds; a seed exploration starts thousands of fibers).
const STACK_POOL_MAX: usize = 64;

thread_local! {
    /// The running fiber's yielder, or null when the scheduler itself runs.
    static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(ptr::null()) };
    static STACK_POOL: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
}

/// One suspended or runnable coroutine.
pub(crate) struct Fiber {
    co: Co,
}

impl std::fmt::Debug for Fiber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fiber").field("done", &self.co.done()).finish()
    }
}

/// Whether a fiber can be resumed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Suspended,
    Finished,
}

impl Fiber {
    /// A fiber that will run `body`, on a pooled stack when one is free.
    pub(crate) fn new(body: impl FnOnce() + 'static) -> Fiber {
        let stack = match STACK_POOL.with(|pool| pool.borrow_mut().pop()) {
            Some(stack) => stack,
            None => DefaultStack::new(STACK_BYTES).expect("wdmsim: cannot map a fiber stack"),
        };
        let co = Co::with_stack(stack, move |yielder, ()| {
            YIELDER.with(|y| y.set(yielder));
            body();
            YIELDER.with(|y| y.set(ptr::null()));
        });
        Fiber { co }
    }

    /// Runs the fiber until it suspends or finishes. Only the scheduler calls
    /// this, from outside any fiber.
    pub(crate) fn resume(&mut self) -> Status {
        assert!(!in_fiber(), "wdmsim: a fiber resumed another fiber");
        let result = self.co.resume(());
        // A body that unwound out (it never does: every body catches) would
        // leave the pointer set; clear it so nothing dereferences a dead frame.
        YIELDER.with(|y| y.set(ptr::null()));
        match result {
            CoroutineResult::Yield(()) => Status::Suspended,
            CoroutineResult::Return(()) => Status::Finished,
        }
    }

    /// Returns a finished fiber's stack to the pool.
    pub(crate) fn recycle(self) {
        if !self.co.done() {
            return; // dropping it unwinds the stack instead
        }
        let stack = self.co.into_stack();
        STACK_POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < STACK_POOL_MAX {
                pool.push(stack);
            }
        });
    }
}

/// Whether the caller runs on a fiber.
pub(crate) fn in_fiber() -> bool {
    YIELDER.with(|y| !y.get().is_null())
}

/// Suspends the running fiber back to the scheduler; returns when the
/// scheduler resumes it. Outside a fiber this does nothing.
pub(crate) fn suspend() {
    let yielder = YIELDER.with(|y| y.replace(ptr::null()));
    if yielder.is_null() {
        return;
    }
    // SAFETY: `yielder` was stored by this fiber's body from the `&Yielder`
    // corosensei passed it, and that reference is valid for the whole body.
    // The pointer is only non-null while this fiber runs: the body clears it
    // when it ends, `suspend` clears it before switching away (and restores
    // it on return, when this same fiber runs again), and `Fiber::resume`
    // clears it after every switch back. So we are on the fiber that owns the
    // yielder, inside its body, and the reference is live.
    unsafe { (*yielder).suspend(()) };
    YIELDER.with(|y| y.set(yielder));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn suspend_returns_to_the_resumer_and_back() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let inner = log.clone();
        let mut fiber = Fiber::new(move || {
            inner.borrow_mut().push("a");
            suspend();
            inner.borrow_mut().push("b");
        });
        assert_eq!(fiber.resume(), Status::Suspended);
        log.borrow_mut().push("scheduler");
        assert!(!in_fiber());
        assert_eq!(fiber.resume(), Status::Finished);
        assert_eq!(*log.borrow(), ["a", "scheduler", "b"]);
        fiber.recycle();
        assert!(STACK_POOL.with(|pool| !pool.borrow().is_empty()));
    }

    #[test]
    fn suspend_outside_a_fiber_is_a_no_op() {
        suspend();
        assert!(!in_fiber());
    }
}
