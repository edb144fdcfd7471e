//! Spin locks: KSPIN_LOCK with KeAcquireSpinLock / KeReleaseSpinLock and the
//! AtDpcLevel variants (book l.4617–4628), and the typed [`SpinLock<T>`]
//! whose guard raises IRQL to DISPATCH_LEVEL and restores it.
//!
//! A holder runs at DISPATCH_LEVEL, so no DPC and no thread switch can get
//! in on its processor; another processor that wants the lock spins. In a
//! simulation the spin is a state the scheduler sees (the processor is not
//! runnable until the lock is free), never a host busy loop, so lock-order
//! deadlocks are reported instead of hanging.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};

use super::irql::{self, DISPATCH_LEVEL, Irql};
use crate::ob::{IdCell, ObjectId, ObjectKind};
use crate::sim::pcr::{self, Mode};
use crate::sim::state::{FrameState, with_sim};
use crate::sim::{self, fiber, threaded};
use crate::sync::{Mutex, MutexGuard};
use crate::trace::Event;
use crate::verifier::{self, Rule};

/// A raw kernel spin lock (KSPIN_LOCK), guarding whatever the driver says
/// it guards. `KeInitializeSpinLock` is [`KSpinLock::new`].
#[derive(Default)]
pub struct KSpinLock {
    id: IdCell,
    name: Option<&'static str>,
    /// Threaded mode: the holder's token (0 = free). A simulation keeps the
    /// holder in its own table instead.
    owner: AtomicU32,
}

impl fmt::Debug for KSpinLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KSpinLock").field("name", &self.name).finish_non_exhaustive()
    }
}

impl KSpinLock {
    /// KeInitializeSpinLock.
    pub const fn new() -> KSpinLock {
        KSpinLock { id: IdCell::new(), name: None, owner: AtomicU32::new(0) }
    }

    /// A lock that traces and reports print by name.
    pub const fn named(name: &'static str) -> KSpinLock {
        KSpinLock { id: IdCell::new(), name: Some(name), owner: AtomicU32::new(0) }
    }

    pub(crate) fn id(&self) -> ObjectId {
        self.id.get(ObjectKind::SpinLock, self.name)
    }
}

/// KeAcquireSpinLock: raises to DISPATCH_LEVEL, takes the lock, returns the
/// previous IRQL for [`release_spin_lock`]. Above DISPATCH_LEVEL it is bug
/// check 0xC4/0x42.
pub fn acquire_spin_lock(lock: &KSpinLock) -> Irql {
    let old = pcr::irql();
    if old > DISPATCH_LEVEL {
        above_dispatch(lock, old);
        return old;
    }
    pcr::set_irql(DISPATCH_LEVEL);
    lock_raw(lock);
    old
}

/// KeReleaseSpinLock: releases the lock and lowers to `old_irql`. Calling it
/// at another IRQL than DISPATCH_LEVEL is bug check 0xC4/0x32.
pub fn release_spin_lock(lock: &KSpinLock, old_irql: Irql) {
    let irql = pcr::irql();
    if irql != DISPATCH_LEVEL {
        release_not_at_dispatch(lock, irql);
        return;
    }
    if old_irql > DISPATCH_LEVEL {
        verifier::bug_check(
            Rule::LowerIrqlInvalid,
            [u64::from(irql.0), u64::from(old_irql.0), 0],
            format!("KeReleaseSpinLock lowering to {old_irql}"),
        );
        return;
    }
    if unlock_raw(lock) {
        irql::change_irql(DISPATCH_LEVEL, old_irql);
    }
}

/// KeAcquireSpinLockAtDpcLevel: the caller is already at DISPATCH_LEVEL
/// (bug check 0xC4/0x40 if below).
pub fn acquire_spin_lock_at_dpc_level(lock: &KSpinLock) {
    let irql = pcr::irql();
    if irql < DISPATCH_LEVEL {
        at_dpc_level_below_dispatch(lock, irql);
        return;
    }
    lock_raw(lock);
}

/// KeReleaseSpinLockFromDpcLevel (bug check 0xC4/0x41 below DISPATCH_LEVEL).
pub fn release_spin_lock_from_dpc_level(lock: &KSpinLock) {
    let irql = pcr::irql();
    if irql < DISPATCH_LEVEL {
        from_dpc_level_below_dispatch(lock, irql);
        return;
    }
    if unlock_raw(lock) && pcr::mode() == Mode::Sim {
        sim::point(Event::Yield { cpu: pcr::cpu() });
    }
}

#[cold]
fn above_dispatch(lock: &KSpinLock, irql: Irql) {
    verifier::bug_check(
        Rule::AcquireSpinLockAboveDispatch,
        [u64::from(irql.0), u64::from(lock.id().0), 0],
        format!("KeAcquireSpinLock on {} at {irql}", sim_name(lock)),
    );
}

#[cold]
fn release_not_at_dispatch(lock: &KSpinLock, irql: Irql) {
    verifier::bug_check(
        Rule::ReleaseSpinLockNotAtDispatch,
        [u64::from(irql.0), u64::from(lock.id().0), 0],
        format!("KeReleaseSpinLock on {} at {irql}", sim_name(lock)),
    );
}

#[cold]
fn at_dpc_level_below_dispatch(lock: &KSpinLock, irql: Irql) {
    verifier::bug_check(
        Rule::AcquireAtDpcLevelBelowDispatch,
        [u64::from(irql.0), u64::from(lock.id().0), 0],
        format!("KeAcquireSpinLockAtDpcLevel on {} at {irql}", sim_name(lock)),
    );
}

#[cold]
fn from_dpc_level_below_dispatch(lock: &KSpinLock, irql: Irql) {
    verifier::bug_check(
        Rule::ReleaseFromDpcLevelBelowDispatch,
        [u64::from(irql.0), u64::from(lock.id().0), 0],
        format!("KeReleaseSpinLockFromDpcLevel on {} at {irql}", sim_name(lock)),
    );
}

fn sim_name(lock: &KSpinLock) -> String {
    match lock.name {
        Some(name) => format!("lock \"{name}\""),
        None => format!("lock#{}", lock.id().0),
    }
}

enum Attempt {
    Acquired,
    Recursive,
    Spin,
}

/// Takes `lock` at the current IRQL (the caller has raised it), spinning
/// while another processor holds it. A scheduling point.
pub(crate) fn lock_raw(lock: &KSpinLock) {
    match pcr::require_machine("KeAcquireSpinLock") {
        Mode::Sim => {
            let id = lock.id();
            let cpu = pcr::cpu();
            loop {
                let attempt = with_sim(|s| {
                    if s.halted {
                        return Attempt::Acquired;
                    }
                    match s.locks.get(&id).copied() {
                        None => {
                            s.locks.insert(id, cpu);
                            if let Some(frame) = s.top_frame_mut() {
                                frame.state = FrameState::Runnable;
                            }
                            Attempt::Acquired
                        }
                        Some(holder) if holder == cpu => Attempt::Recursive,
                        Some(holder) => {
                            if let Some(frame) = s.top_frame_mut()
                                && frame.state != FrameState::Spinning(id)
                            {
                                frame.state = FrameState::Spinning(id);
                                s.record(Event::SpinWait { cpu, lock: id, holder });
                            }
                            Attempt::Spin
                        }
                    }
                });
                match attempt {
                    Attempt::Acquired => break,
                    Attempt::Recursive => {
                        recursive(lock);
                        return;
                    }
                    Attempt::Spin => fiber::suspend(),
                }
            }
            sim::point(Event::SpinAcquire { cpu, lock: id });
        }
        _ => {
            let me = threaded::token();
            if lock.owner.load(Ordering::Relaxed) == me {
                recursive(lock);
                return;
            }
            let mut spins = 0u32;
            while lock
                .owner
                .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                spins = spins.wrapping_add(1);
                threaded::spin_wait(spins);
            }
        }
    }
}

/// Whether the current processor holds `lock`.
pub(crate) fn held_here(lock: &KSpinLock) -> bool {
    match pcr::mode() {
        Mode::Sim => with_sim(|s| s.locks.get(&lock.id()) == Some(&pcr::cpu())),
        Mode::Threaded => lock.owner.load(Ordering::Acquire) == threaded::token(),
        Mode::Off => false,
    }
}

#[cold]
fn recursive(lock: &KSpinLock) {
    verifier::bug_check(
        Rule::SpinLockRecursive,
        [u64::from(lock.id().0), 0, 0],
        format!("{} acquired again by the processor holding it", sim_name(lock)),
    );
}

/// Releases `lock` without changing IRQL; false (after a bug check) if the
/// caller did not hold it. Records the release but is not itself a
/// scheduling point: the caller's IRQL change or yield is.
pub(crate) fn unlock_raw(lock: &KSpinLock) -> bool {
    let cpu = pcr::cpu();
    let holder = match pcr::require_machine("KeReleaseSpinLock") {
        Mode::Sim => with_sim(|s| {
            let id = lock.id();
            let holder = s.locks.get(&id).copied();
            if holder == Some(cpu) || s.halted {
                s.locks.remove(&id);
                s.record(Event::SpinRelease { cpu, lock: id });
                return None;
            }
            Some(holder)
        }),
        _ => {
            let me = threaded::token();
            match lock.owner.compare_exchange(me, 0, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => None,
                Err(0) => Some(None),
                Err(other) => Some(Some(other)),
            }
        }
    };
    match holder {
        None => true,
        Some(None) => {
            verifier::bug_check(
                Rule::SpinLockNotHeld,
                [u64::from(lock.id().0), 0, 0],
                format!("{} released while not held", sim_name(lock)),
            );
            false
        }
        Some(Some(owner)) => {
            verifier::bug_check(
                Rule::SpinLockWrongOwner,
                [u64::from(lock.id().0), u64::from(owner), u64::from(cpu)],
                format!("{} released by cpu{cpu}; it is held by {owner}", sim_name(lock)),
            );
            false
        }
    }
}

/// A value guarded by a kernel spin lock: the Rust form of the book's
/// `KSPIN_LOCK` next to the data it protects. [`SpinLock::acquire`] raises
/// to DISPATCH_LEVEL; dropping the guard releases and restores the IRQL.
///
/// In a simulation the kernel lock decides who holds it (a processor that
/// finds it taken spins, visibly to the scheduler) and the inner host mutex
/// is always free when reached. In threaded mode the host mutex is the lock,
/// and the kernel lock's owner word only records the holder, for the
/// recursion check: one atomic pair per acquire/release, as a bare mutex.
pub struct SpinLock<T> {
    raw: KSpinLock,
    data: Mutex<T>,
}

impl<T: fmt::Debug> fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinLock").field("name", &self.raw.name).finish_non_exhaustive()
    }
}

impl<T: Default> Default for SpinLock<T> {
    fn default() -> Self {
        SpinLock::new(T::default())
    }
}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> SpinLock<T> {
        SpinLock { raw: KSpinLock::new(), data: Mutex::new(value) }
    }

    pub const fn named(name: &'static str, value: T) -> SpinLock<T> {
        SpinLock { raw: KSpinLock::named(name), data: Mutex::new(value) }
    }

    /// KeAcquireSpinLock on this lock.
    #[inline]
    pub fn acquire(&self) -> SpinLockGuard<'_, T> {
        if pcr::mode() == Mode::Threaded {
            return self.acquire_threaded(true);
        }
        let old = acquire_spin_lock(&self.raw);
        SpinLockGuard { lock: self, data: Some(self.data_guard()), old_irql: Some(old) }
    }

    /// KeAcquireSpinLockAtDpcLevel on this lock.
    #[inline]
    pub fn acquire_at_dpc_level(&self) -> SpinLockGuard<'_, T> {
        if pcr::mode() == Mode::Threaded {
            return self.acquire_threaded(false);
        }
        acquire_spin_lock_at_dpc_level(&self.raw);
        SpinLockGuard { lock: self, data: Some(self.data_guard()), old_irql: None }
    }

    /// The value, for code that owns the lock outright (Unload, after every
    /// device is gone, book l.4642).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// The kernel lock's trace number: what a bug check about the object
    /// this lock is part of prints for its address.
    pub(crate) fn id(&self) -> ObjectId {
        self.raw.id()
    }

    #[inline]
    fn acquire_threaded(&self, raise: bool) -> SpinLockGuard<'_, T> {
        let old = pcr::irql();
        if raise && old > DISPATCH_LEVEL {
            above_dispatch(&self.raw, old);
        } else if !raise && old < DISPATCH_LEVEL {
            at_dpc_level_below_dispatch(&self.raw, old);
        }
        let me = threaded::token();
        if self.raw.owner.load(Ordering::Relaxed) == me {
            recursive(&self.raw);
        }
        if raise {
            pcr::set_irql(DISPATCH_LEVEL);
        }
        let data = self.data.lock();
        self.raw.owner.store(me, Ordering::Relaxed);
        SpinLockGuard { lock: self, data: Some(data), old_irql: raise.then_some(old) }
    }

    fn data_guard(&self) -> MutexGuard<'_, T> {
        // The kernel lock is ours, so the host lock is free; but after a bug
        // check, a destructor may meet a lock that a fiber torn down later
        // still holds.
        match self.data.try_lock() {
            Some(guard) => guard,
            None if !std::thread::panicking() => {
                std::panic::resume_unwind(Box::new(verifier::Halt))
            }
            None => panic!("wdmsim: a destructor needs a spin lock a stopped fiber holds"),
        }
    }
}

/// Holds a [`SpinLock`]; derefs to the value.
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    data: Option<MutexGuard<'a, T>>,
    /// The IRQL to return to, for a guard from [`SpinLock::acquire`].
    old_irql: Option<Irql>,
}

impl<T: fmt::Debug> fmt::Debug for SpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinLockGuard").field("lock", &self.lock.raw.name).finish_non_exhaustive()
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data.as_deref().expect("guard holds its data until dropped")
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data.as_deref_mut().expect("guard holds its data until dropped")
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        if pcr::mode() == Mode::Threaded {
            let irql = pcr::irql();
            match self.old_irql {
                Some(_) if irql != DISPATCH_LEVEL => release_not_at_dispatch(&self.lock.raw, irql),
                None if irql < DISPATCH_LEVEL => {
                    from_dpc_level_below_dispatch(&self.lock.raw, irql)
                }
                _ => {}
            }
            self.lock.raw.owner.store(0, Ordering::Relaxed);
            self.data = None;
            if let Some(old) = self.old_irql {
                pcr::set_irql(old);
                if old < DISPATCH_LEVEL {
                    threaded::drain_dpcs();
                }
            }
            return;
        }
        // Free the value before the kernel lock, so a processor that gets
        // the kernel lock next finds the value free too.
        self.data = None;
        match self.old_irql {
            Some(old) => release_spin_lock(&self.lock.raw, old),
            None => release_spin_lock_from_dpc_level(&self.lock.raw),
        }
    }
}
