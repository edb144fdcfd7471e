//! The one shim through which kernel code gets host primitives.
//!
//! Kernel objects (spin locks, events, DPCs) keep small pieces of state that
//! both modes touch: a simulation runs every simulated processor on one OS
//! thread, threaded mode on many. This module wraps `parking_lot` so that the
//! rest of the crate never names a host lock directly; clippy's
//! `disallowed-types` list (clippy.toml) enforces it. A host lock is invisible
//! to the scheduler: hold it only for a few instructions, never across a
//! kernel call. Tests may use [`Mutex`] for bookkeeping that must not add
//! scheduling points.
#![allow(clippy::disallowed_types)]

use std::fmt;

pub use parking_lot::MutexGuard;

/// A host mutex (`parking_lot`), invisible to the simulated scheduler.
#[derive(Default)]
pub struct Mutex<T: ?Sized>(parking_lot::Mutex<T>);

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Mutex(parking_lot::Mutex::new(value))
    }

    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock()
    }

    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.0.try_lock()
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A host condition variable, used only by threaded mode's dispatcher.
pub(crate) type Condvar = parking_lot::Condvar;
