//! Random sequences of PnP actions (add, remove, disable, enable,
//! rebalance, unplug), power actions (sleep and wake, idle time) and I/O
//! (CreateFile, CloseHandle, SetFilePointer, ReadFile, WriteFile, the
//! IOCTLs, a look at the driver-global buffer) applied to Wdm2 devices,
//! each outcome checked against a hand-made model of spec 02 §2.4.8 (the
//! Wdm2 state table: node state, extension flags and counters, power
//! state, per device), §2.4.9 (the I/O disposition per state), §4.4 (idle
//! detection on the virtual clock) and Wdm1's buffer rules (spec 01 §2.6),
//! with the model keeping the open handles and the shared buffer, which
//! lives as long as the driver stays loaded.
//!
//! One scenario thread issues every call, so the model is exact; the races
//! are wdm2_sequences.rs's. At the end everything is closed and removed:
//! no node, no interface, the driver unloaded, and the run clean (the
//! verifier fails it on a dropped IRP, a missing PoStartNextPowerIrp, a
//! bug check or a deadlock).

use proptest::prelude::*;
use wdmsim::ddk::*;
use wdmsim::drivers::wdm1::{
    IOCTL_WDM1_GET_BUFFER, IOCTL_WDM1_GET_BUFFER_SIZE, IOCTL_WDM1_REMOVE_BUFFER,
    IOCTL_WDM1_UNRECOGNISED, IOCTL_WDM1_ZERO_BUFFER,
};
use wdmsim::drivers::wdm2::{self, Wdm2DeviceExtension, Wdm2Globals, Wdm2State};
use wdmsim::pnp::{self, DeviceNode, DeviceNodeState, PnpError, Problem, VetoType};
use wdmsim::win32::*;
use wdmsim::{Machine, po};

/// Win32 error of STATUS_DEVICE_NOT_CONNECTED.
const NOT_CONNECTED: u32 = 1167;
/// ERROR_FILE_NOT_FOUND: no interface link (disabled or removed device).
const FILE_NOT_FOUND: u32 = 2;
/// Idle detection's time-out for Wdm2 (performance policy, §4.4), in ms.
const IDLE_TIMEOUT_MS: u64 = 60_000;
/// How often the power manager looks at an idle counter, in ms.
const IDLE_CHECK_MS: u64 = 1_000;

// ---------------------------------------------------------------------------
// Operations and what they give

#[derive(Clone, Debug)]
enum Op {
    /// Add New Hardware: a new Wdm2 device.
    Add,
    /// Device Manager on the device added `n`-th (modulo those added).
    Remove(usize),
    Disable(usize),
    Enable(usize),
    /// A resource rebalance (QUERY_STOP, STOP, START).
    Rebalance(usize),
    /// Unplug (SURPRISE_REMOVAL, REMOVE after the last close).
    Unplug(usize),
    /// The system sleeps (S3) and wakes.
    SleepAndWake,
    /// This many seconds (and 1 ms) of virtual time pass.
    Idle(u64),
    /// CreateFile on the `n`-th device's interface path.
    Open(usize),
    /// CloseHandle on the `n`-th handle opened (modulo those opened; it may
    /// be closed already).
    Close(usize),
    /// SetFilePointer(position, FILE_BEGIN). This and the I/O calls below
    /// use the `n`-th open handle (modulo those open), or, with none open,
    /// the `n`-th handle opened, closed since.
    Seek(usize, i32),
    /// ReadFile of this many bytes at the handle's position.
    Read(usize, u32),
    /// WriteFile of these bytes at the handle's position.
    Write(usize, Vec<u8>),
    /// DeviceIoControl(code, no input, output of this size).
    Ioctl(usize, u32, u32),
    /// The driver-global buffer, if Wdm2 is loaded.
    Buffer,
}

const CODES: [u32; 5] = [
    IOCTL_WDM1_ZERO_BUFFER,
    IOCTL_WDM1_REMOVE_BUFFER,
    IOCTL_WDM1_GET_BUFFER_SIZE,
    IOCTL_WDM1_GET_BUFFER,
    IOCTL_WDM1_UNRECOGNISED,
];

fn op_strategy() -> impl Strategy<Value = Op> {
    let n = 0usize..4;
    prop_oneof![
        2 => Just(Op::Add),
        1 => n.clone().prop_map(Op::Remove),
        2 => n.clone().prop_map(Op::Disable),
        2 => n.clone().prop_map(Op::Enable),
        1 => n.clone().prop_map(Op::Rebalance),
        1 => n.clone().prop_map(Op::Unplug),
        1 => Just(Op::SleepAndWake),
        2 => prop::sample::select(vec![1u64, 30, 59, 61]).prop_map(Op::Idle),
        4 => n.clone().prop_map(Op::Open),
        3 => n.clone().prop_map(Op::Close),
        1 => (n.clone(), 0i32..10).prop_map(|(h, p)| Op::Seek(h, p)),
        4 => (n.clone(), 0u32..10).prop_map(|(h, len)| Op::Read(h, len)),
        4 => (n.clone(), prop::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(h, data)| Op::Write(h, data)),
        4 => (n, prop::sample::select(CODES.to_vec()), 0u32..10)
            .prop_map(|(h, code, size)| Op::Ioctl(h, code, size)),
        1 => Just(Op::Buffer),
    ]
}

/// What one operation gave the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// An index into no device or no handle: nothing done.
    Skip,
    Pnp(Result<(), PnpError>),
    /// set_system_power_state's and wake_system's results.
    Power(Result<(), NtStatus>, Result<(), NtStatus>),
    Idle,
    /// CreateFile: opened, or GetLastError().
    Open(Result<(), u32>),
    /// CloseHandle: TRUE, or GetLastError().
    Close(Result<(), u32>),
    /// SetFilePointer: the new position, or GetLastError().
    Seek(Result<u32, u32>),
    /// ReadFile, WriteFile, DeviceIoControl: (bytes, bytes read back) or
    /// GetLastError().
    Io(Result<(u32, Vec<u8>), u32>),
    Buffer(Option<Vec<u8>>),
}

/// One device after an operation: its node's state and problem, and while
/// it has a Wdm2 FDO, the extension's state and the power state recorded
/// with PoSetPowerState.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Device {
    node: Option<DeviceNodeState>,
    problem: Option<Problem>,
    wdm2: Option<(Wdm2State, DevicePowerState)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Step {
    outcome: Outcome,
    devices: Vec<Device>,
}

/// What the teardown found: every node gone, no interface, Wdm2 unloaded.
#[derive(Clone, Debug, PartialEq, Eq)]
struct End {
    nodes: Vec<Option<DeviceNodeState>>,
    interfaces: usize,
    driver_loaded: bool,
}

// ---------------------------------------------------------------------------
// The model

/// A device's life as the state table sees it (§2.4.8), after each call of
/// the single scenario thread: the transient states never last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    Started,
    SurpriseRemoved,
    Disabled,
    Gone,
}

#[derive(Clone, Debug)]
struct ModelDevice {
    life: Life,
    handles: i32,
    power: DevicePowerState,
    /// Idle detection: when the counter was registered (AddDevice), the
    /// last PoSetDeviceBusy, whether a SET_POWER was requested since.
    registered_ms: u64,
    busy_ms: u64,
    requested: bool,
}

impl ModelDevice {
    fn fresh(now_ms: u64) -> ModelDevice {
        ModelDevice {
            life: Life::Started,
            handles: 0,
            power: DevicePowerState::D0,
            registered_ms: now_ms,
            busy_ms: now_ms,
            requested: false,
        }
    }
}

#[derive(Clone, Debug)]
struct ModelHandle {
    device: usize,
    open: bool,
    position: i64,
}

#[derive(Debug, Default)]
struct Model {
    devices: Vec<ModelDevice>,
    handles: Vec<ModelHandle>,
    /// The shared buffer while Wdm2 is loaded.
    buffer: Option<Vec<u8>>,
    now_ms: u64,
}

fn instance(n: usize) -> String {
    format!("Root\\UNKNOWN\\{n:04}")
}

impl Model {
    /// Wdm2 stays loaded while one of its FDOs exists; loading it again
    /// starts an empty buffer, unloading frees it (Wdm2Unload).
    fn driver_load_state(&mut self) {
        let loaded =
            self.devices.iter().any(|d| matches!(d.life, Life::Started | Life::SurpriseRemoved));
        match (loaded, self.buffer.is_some()) {
            (true, false) => self.buffer = Some(Vec::new()),
            (false, true) => self.buffer = None,
            _ => {}
        }
    }

    fn device(&self, n: usize) -> Option<usize> {
        (!self.devices.is_empty()).then(|| n % self.devices.len())
    }

    fn handle(&self, n: usize) -> Option<usize> {
        (!self.handles.is_empty()).then(|| n % self.handles.len())
    }

    /// The handle an I/O call uses: see [`Op::Seek`].
    fn io_handle(&self, n: usize) -> Option<usize> {
        let open: Vec<usize> = (0..self.handles.len()).filter(|&h| self.handles[h].open).collect();
        if open.is_empty() { self.handle(n) } else { Some(open[n % open.len()]) }
    }

    fn apply(&mut self, op: &Op) -> Step {
        let outcome = self.outcome(op);
        self.driver_load_state();
        Step { outcome, devices: self.snapshot() }
    }

    fn snapshot(&self) -> Vec<Device> {
        self.devices
            .iter()
            .map(|d| {
                let (node, problem) = match d.life {
                    Life::Started => (Some(DeviceNodeState::Started), None),
                    Life::SurpriseRemoved => (Some(DeviceNodeState::RemovePendingCloses), None),
                    Life::Disabled => (Some(DeviceNodeState::Removed), Some(Problem::Disabled)),
                    Life::Gone => (None, None),
                };
                let started = d.life == Life::Started;
                let wdm2 = matches!(d.life, Life::Started | Life::SurpriseRemoved).then(|| {
                    let state = Wdm2State {
                        got_resources: started,
                        paused: false,
                        io_disabled: !started,
                        open_handle_count: d.handles,
                        usage_count: 1,
                        stopping: false,
                        power_state: d.power,
                    };
                    (state, d.power)
                });
                Device { node, problem, wdm2 }
            })
            .collect()
    }

    fn outcome(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Add => {
                self.devices.push(ModelDevice::fresh(self.now_ms));
                Outcome::Pnp(Ok(()))
            }
            Op::Remove(n) => self.pnp(*n, |model, i| model.remove(i)),
            Op::Disable(n) => self.pnp(*n, |model, i| {
                let d = &mut model.devices[i];
                match d.life {
                    Life::Started if d.handles > 0 => Err(vetoed(VetoType::Device, i)),
                    Life::Started => {
                        d.life = Life::Disabled;
                        Ok(())
                    }
                    Life::SurpriseRemoved => {
                        Err(PnpError::InvalidState(DeviceNodeState::RemovePendingCloses))
                    }
                    Life::Disabled => Err(PnpError::InvalidState(DeviceNodeState::Removed)),
                    Life::Gone => Err(PnpError::NoSuchDevNode),
                }
            }),
            Op::Enable(n) => self.pnp(*n, |model, i| {
                let now = model.now_ms;
                let d = &mut model.devices[i];
                match d.life {
                    Life::Disabled => {
                        *d = ModelDevice::fresh(now);
                        Ok(())
                    }
                    Life::Started => Err(PnpError::InvalidState(DeviceNodeState::Started)),
                    Life::SurpriseRemoved => {
                        Err(PnpError::InvalidState(DeviceNodeState::RemovePendingCloses))
                    }
                    Life::Gone => Err(PnpError::NoSuchDevNode),
                }
            }),
            Op::Rebalance(n) => self.pnp(*n, |model, i| {
                let d = &mut model.devices[i];
                match d.life {
                    // The new START powers the device up directly (§2.4.6);
                    // the idle counter is left as it was.
                    Life::Started => {
                        d.power = DevicePowerState::D0;
                        Ok(())
                    }
                    Life::SurpriseRemoved => {
                        Err(PnpError::InvalidState(DeviceNodeState::RemovePendingCloses))
                    }
                    Life::Disabled => Err(PnpError::InvalidState(DeviceNodeState::Removed)),
                    Life::Gone => Err(PnpError::NoSuchDevNode),
                }
            }),
            Op::Unplug(n) => self.pnp(*n, |model, i| {
                let d = &mut model.devices[i];
                match d.life {
                    // REMOVE at once without a handle, else at the last close.
                    Life::Started if d.handles > 0 => d.life = Life::SurpriseRemoved,
                    Life::Started | Life::Disabled => d.life = Life::Gone,
                    Life::SurpriseRemoved => {}
                    Life::Gone => return Err(PnpError::NoSuchDevNode),
                }
                Ok(())
            }),
            Op::SleepAndWake => {
                // Every started device goes to D3 and back to D0; the idle
                // counters are not touched.
                for d in &mut self.devices {
                    if d.life == Life::Started {
                        d.power = DevicePowerState::D0;
                    }
                }
                Outcome::Power(Ok(()), Ok(()))
            }
            Op::Idle(secs) => {
                let until = self.now_ms + secs * 1000 + 1;
                for d in &mut self.devices {
                    idle(d, self.now_ms, until);
                }
                self.now_ms = until;
                Outcome::Idle
            }
            Op::Open(n) => {
                let Some(i) = self.device(*n) else { return Outcome::Skip };
                let d = &mut self.devices[i];
                match d.life {
                    Life::Started => {
                        d.handles += 1;
                        self.handles.push(ModelHandle { device: i, open: true, position: 0 });
                        Outcome::Open(Ok(()))
                    }
                    Life::SurpriseRemoved => Outcome::Open(Err(NOT_CONNECTED)),
                    Life::Disabled | Life::Gone => Outcome::Open(Err(FILE_NOT_FOUND)),
                }
            }
            Op::Close(n) => {
                let Some(h) = self.handle(*n) else { return Outcome::Skip };
                if !self.handles[h].open {
                    return Outcome::Close(Err(ERROR_INVALID_HANDLE));
                }
                self.handles[h].open = false;
                let d = &mut self.devices[self.handles[h].device];
                d.handles -= 1;
                if d.life == Life::SurpriseRemoved && d.handles == 0 {
                    d.life = Life::Gone;
                }
                Outcome::Close(Ok(()))
            }
            Op::Seek(n, position) => {
                let Some(h) = self.io_handle(*n) else { return Outcome::Skip };
                if !self.handles[h].open {
                    return Outcome::Seek(Err(ERROR_INVALID_HANDLE));
                }
                self.handles[h].position = i64::from(*position);
                Outcome::Seek(Ok(*position as u32))
            }
            Op::Read(n, _) | Op::Write(n, _) | Op::Ioctl(n, ..) => {
                let Some(h) = self.io_handle(*n) else { return Outcome::Skip };
                Outcome::Io(self.io(h, op))
            }
            Op::Buffer => Outcome::Buffer(self.buffer.clone()),
        }
    }

    fn pnp(
        &mut self,
        n: usize,
        action: impl FnOnce(&mut Model, usize) -> Result<(), PnpError>,
    ) -> Outcome {
        match self.device(n) {
            Some(i) => Outcome::Pnp(action(self, i)),
            None => Outcome::Skip,
        }
    }

    /// Uninstall (§2.3.2): vetoed while a handle is open — by Wdm2's
    /// QUERY_REMOVE handler on a started device; on a surprise-removed one,
    /// which gets no QUERY_REMOVE, by the PnP manager's open-handle check
    /// (REMOVE only after the last close, §2.3.4).
    fn remove(&mut self, i: usize) -> Result<(), PnpError> {
        let d = &mut self.devices[i];
        match d.life {
            Life::Started if d.handles > 0 => Err(vetoed(VetoType::Device, i)),
            Life::SurpriseRemoved => Err(vetoed(VetoType::OutstandingOpen, i)),
            Life::Started | Life::Disabled => {
                d.life = Life::Gone;
                Ok(())
            }
            Life::Gone => Err(PnpError::NoSuchDevNode),
        }
    }

    /// ReadFile, WriteFile or DeviceIoControl on handle `h` (§2.4.9; the
    /// buffer rules are Wdm1's).
    fn io(&mut self, h: usize, op: &Op) -> Result<(u32, Vec<u8>), u32> {
        let handle = &self.handles[h];
        if !handle.open {
            return Err(ERROR_INVALID_HANDLE);
        }
        let position = handle.position as usize;
        let now = self.now_ms;
        let d = &mut self.devices[handle.device];
        if d.life != Life::Started {
            return Err(NOT_CONNECTED);
        }
        // PowerUpDevice, then PoSetDeviceBusy.
        d.power = DevicePowerState::D0;
        d.busy_ms = now;
        d.requested = false;
        let buffer = self.buffer.as_mut().expect("Wdm2 is loaded");
        match op {
            Op::Read(_, n) => {
                if position >= buffer.len() {
                    return Ok((0, Vec::new())); // end of file: TRUE, 0 bytes
                }
                let count = (*n as usize).min(buffer.len() - position);
                Ok((count as u32, buffer[position..position + count].to_vec()))
            }
            Op::Write(_, data) => {
                let end = position + data.len();
                if end > buffer.len() {
                    buffer.resize(end, 0);
                }
                buffer[position..end].copy_from_slice(data);
                Ok((data.len() as u32, Vec::new()))
            }
            Op::Ioctl(_, code, size) => match *code {
                IOCTL_WDM1_ZERO_BUFFER => {
                    buffer.fill(0);
                    Ok((0, Vec::new()))
                }
                IOCTL_WDM1_REMOVE_BUFFER => {
                    buffer.clear();
                    Ok((0, Vec::new()))
                }
                IOCTL_WDM1_GET_BUFFER_SIZE if *size < 4 => Err(ERROR_INVALID_PARAMETER),
                IOCTL_WDM1_GET_BUFFER_SIZE => Ok((4, (buffer.len() as u32).to_le_bytes().to_vec())),
                IOCTL_WDM1_GET_BUFFER if *size as usize > buffer.len() => {
                    Err(ERROR_INVALID_PARAMETER)
                }
                IOCTL_WDM1_GET_BUFFER => Ok((*size, buffer[..*size as usize].to_vec())),
                _ => Err(ERROR_INVALID_FUNCTION),
            },
            _ => unreachable!("not an I/O call"),
        }
    }
}

fn vetoed(veto: VetoType, device: usize) -> PnpError {
    PnpError::Vetoed { veto, name: instance(device) }
}

/// Idle detection between `from` and `until` (ms): the power manager looks
/// at the counter every second from its registration; a started device at
/// D0, idle for the time-out and not yet asked, gets SET_POWER(D3) (§4.4).
/// (A surprise-removed device refuses that IRP: nothing changes.)
fn idle(d: &mut ModelDevice, from: u64, until: u64) {
    if d.life != Life::Started || d.power != DevicePowerState::D0 || d.requested {
        return;
    }
    let due = d.busy_ms + IDLE_TIMEOUT_MS;
    let since = d.registered_ms;
    // The first check at or after `due` (and after `from`).
    let earliest = due.max(from + 1).max(since + IDLE_CHECK_MS);
    let check = since + (earliest - since).div_ceil(IDLE_CHECK_MS) * IDLE_CHECK_MS;
    if check <= until {
        d.power = DevicePowerState::D3;
        d.requested = true;
    }
}

// ---------------------------------------------------------------------------
// The real thing

/// What the scenario keeps of the devices and handles it made.
#[derive(Default)]
struct Rig {
    nodes: Vec<DeviceNode>,
    paths: Vec<String>,
    /// Every handle CreateFile gave, and whether CloseHandle closed it.
    handles: Vec<(Handle, bool)>,
    driver: Option<Driver>,
}

fn path_of(node: DeviceNode) -> String {
    let instance = pnp::instance_id(node).expect("a node").replace('\\', "#");
    wdmsim::io::device_path(&format!("\\??\\{instance}#{}", wdm2::WDM2_GUID))
}

/// The Wdm2 FDO of a node whose stack is up (started or surprise-removed).
fn fdo(node: DeviceNode) -> Option<DeviceObject> {
    let up = matches!(
        pnp::state(node),
        Some(DeviceNodeState::Started | DeviceNodeState::RemovePendingCloses)
    );
    let top = wdmsim::io::get_attached_device(&pnp::pdo(node)?);
    (up && top.driver_object().name() == wdm2::NAME).then_some(top)
}

/// The PnP worker has nothing queued any more (a REMOVE after a last close
/// is queued to it).
fn settle() {
    let nowhere = DeviceNode::from_parts(u32::MAX, u32::MAX);
    assert_eq!(pnp::enable_device(nowhere), Err(PnpError::NoSuchDevNode));
}

impl Rig {
    fn device(&self, n: usize) -> Option<usize> {
        (!self.nodes.is_empty()).then(|| n % self.nodes.len())
    }

    fn handle(&self, n: usize) -> Option<usize> {
        (!self.handles.is_empty()).then(|| n % self.handles.len())
    }

    /// The handle an I/O call uses: see [`Op::Seek`]. (The rig knows which
    /// it closed; whether a call on one works is the model's business.)
    fn io_handle(&self, n: usize) -> Option<Handle> {
        let open: Vec<Handle> =
            self.handles.iter().filter(|(_, closed)| !closed).map(|(h, _)| *h).collect();
        if open.is_empty() {
            self.handle(n).map(|i| self.handles[i].0)
        } else {
            Some(open[n % open.len()])
        }
    }

    /// Notes the Wdm2 driver now driving `node` (a new one after a reload).
    fn note_driver(&mut self, node: DeviceNode) {
        if let Some(driver) = pnp::function_driver(node) {
            self.driver = Some(driver);
        }
    }

    fn pnp(&mut self, n: usize, action: fn(DeviceNode) -> Result<(), PnpError>) -> Outcome {
        let Some(i) = self.device(n) else { return Outcome::Skip };
        let node = self.nodes[i];
        let result = action(node);
        self.note_driver(node);
        settle();
        Outcome::Pnp(result)
    }

    fn apply(&mut self, op: &Op) -> Step {
        let outcome = match op {
            Op::Add => {
                let result = pnp::add_root_device(wdm2::HARDWARE_ID).map(|node| {
                    self.nodes.push(node);
                    self.paths.push(path_of(node));
                    self.note_driver(node);
                });
                Outcome::Pnp(result)
            }
            Op::Remove(n) => self.pnp(*n, pnp::remove_device),
            Op::Disable(n) => self.pnp(*n, pnp::disable_device),
            Op::Enable(n) => self.pnp(*n, pnp::enable_device),
            Op::Rebalance(n) => self.pnp(*n, pnp::stop_device),
            Op::Unplug(n) => self.pnp(*n, pnp::surprise_remove_device),
            Op::SleepAndWake => {
                let slept =
                    po::set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep);
                let woke = po::wake_system();
                // The device IRP's dispatch routine may still be returning
                // (and releasing Wdm2's lock) after the IRP completed.
                self.let_power_dispatch_return();
                Outcome::Power(slept, woke)
            }
            Op::Idle(secs) => {
                ke_delay_execution_thread(Interval::relative_ms(secs * 1000 + 1));
                Outcome::Idle
            }
            Op::Open(n) => {
                let Some(i) = self.device(*n) else { return self.step(Outcome::Skip) };
                let handle = create_file(
                    &self.paths[i],
                    GENERIC_READ | GENERIC_WRITE,
                    0,
                    OPEN_EXISTING,
                    FILE_ATTRIBUTE_NORMAL,
                );
                if handle == INVALID_HANDLE_VALUE {
                    Outcome::Open(Err(get_last_error()))
                } else {
                    self.handles.push((handle, false));
                    Outcome::Open(Ok(()))
                }
            }
            Op::Close(n) => {
                let Some(i) = self.handle(*n) else { return self.step(Outcome::Skip) };
                let closed = close_handle(self.handles[i].0);
                self.handles[i].1 = true;
                let outcome = Outcome::Close(if closed { Ok(()) } else { Err(get_last_error()) });
                settle();
                outcome
            }
            Op::Seek(n, position) => {
                let Some(handle) = self.io_handle(*n) else { return self.step(Outcome::Skip) };
                let moved = set_file_pointer(handle, *position, None, FILE_BEGIN);
                let failed = moved == INVALID_SET_FILE_POINTER;
                Outcome::Seek(if failed { Err(get_last_error()) } else { Ok(moved) })
            }
            Op::Read(n, len) => {
                let Some(handle) = self.io_handle(*n) else { return self.step(Outcome::Skip) };
                let (mut data, mut count) = (vec![0u8; *len as usize], 0);
                Outcome::Io(if read_file(handle, &mut data, *len, &mut count) {
                    data.truncate(count as usize);
                    Ok((count, data))
                } else {
                    Err(get_last_error())
                })
            }
            Op::Write(n, data) => {
                let Some(handle) = self.io_handle(*n) else { return self.step(Outcome::Skip) };
                let mut count = 0;
                Outcome::Io(if write_file(handle, data, data.len() as u32, &mut count) {
                    Ok((count, Vec::new()))
                } else {
                    Err(get_last_error())
                })
            }
            Op::Ioctl(n, code, size) => {
                let Some(handle) = self.io_handle(*n) else { return self.step(Outcome::Skip) };
                let (mut output, mut returned) = (vec![0u8; *size as usize], 0);
                let ok =
                    device_io_control(handle, *code, &[], 0, &mut output, *size, &mut returned);
                Outcome::Io(if ok {
                    output.truncate(returned as usize);
                    Ok((returned, output))
                } else {
                    Err(get_last_error())
                })
            }
            Op::Buffer => Outcome::Buffer(
                self.driver
                    .as_ref()
                    .filter(|d| !d.is_unloaded())
                    .map(|d| d.extension::<Wdm2Globals>().buffer()),
            ),
        };
        self.step(outcome)
    }

    fn step(&self, outcome: Outcome) -> Step {
        Step { outcome, devices: self.snapshot() }
    }

    fn snapshot(&self) -> Vec<Device> {
        self.nodes
            .iter()
            .map(|&node| Device {
                node: pnp::state(node),
                problem: pnp::problem(node),
                wdm2: fdo(node).map(|fdo| {
                    let state = fdo.extension::<Wdm2DeviceExtension>().state();
                    (state, po::device_power_state(&fdo))
                }),
            })
            .collect()
    }

    /// Yields until no Wdm2 dispatch routine holds a device's lock.
    fn let_power_dispatch_return(&self) {
        for _ in 0..10_000 {
            let busy = self
                .nodes
                .iter()
                .filter_map(|&n| fdo(n))
                .any(|fdo| fdo.extension::<Wdm2DeviceExtension>().state().usage_count != 1);
            if !busy {
                return;
            }
            zw_yield_execution();
        }
    }

    /// Closes every handle and removes every device left.
    fn tear_down(&mut self) -> End {
        for &(handle, closed) in &self.handles {
            if !closed {
                assert!(close_handle(handle), "teardown: CloseHandle {handle:?}");
            }
        }
        settle();
        for &node in &self.nodes {
            if pnp::state(node).is_some() {
                assert_eq!(pnp::remove_device(node), Ok(()), "teardown: remove {node:?}");
            }
        }
        End {
            nodes: self.nodes.iter().map(|&n| pnp::state(n)).collect(),
            interfaces: io_get_device_interfaces(&wdm2::WDM2_GUID).len(),
            driver_loaded: self.driver.as_ref().is_some_and(|d| !d.is_unloaded()),
        }
    }
}

/// Runs `ops` on a machine with Wdm2 installed: the step after each, and
/// what the teardown left.
fn run_ops(ops: Vec<Op>, processors: u32, seed: u64) -> wdmsim::Run<(Vec<Step>, End)> {
    Machine::sim().processors(processors).seed(seed).run(move || {
        pnp::install(wdm2::package());
        let mut rig = Rig::default();
        let mut steps = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            // Marks in the trace, which a failed run's report ends with.
            dbg_print("model", format_args!("op {i}: {op:?}"));
            steps.push(rig.apply(op));
        }
        dbg_print("model", format_args!("teardown"));
        (steps, rig.tear_down())
    })
}

fn listing(ops: &[Op]) -> String {
    ops.iter().enumerate().map(|(i, op)| format!("  {i:2}: {op:?}\n")).collect()
}

fn ops_strategy() -> impl Strategy<Value = Vec<Op>> {
    // Start with a device and a handle on it, so that most sequences do
    // something from the first operation.
    prop::collection::vec(op_strategy(), 0..40).prop_map(|mut ops| {
        ops.splice(0..0, [Op::Add, Op::Open(0)]);
        ops
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 160,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every call's outcome, and every device's node state and Wdm2
    /// extension state after every call, agree with the model; the
    /// teardown leaves nothing behind and the run is clean.
    #[test]
    fn random_pnp_power_and_io_sequences_match_a_model_of_wdm2(
        ops in ops_strategy(),
        processors in prop::sample::select(vec![2u32, 4]),
        seed in any::<u64>(),
    ) {
        let run = run_ops(ops.clone(), processors, seed);
        prop_assert!(run.is_ok(), "ops:\n{}{}", listing(&ops), run.report());
        let replay = run.replay.clone();
        let (steps, end) = run.value();
        let mut model = Model::default();
        for (i, (op, got)) in ops.iter().zip(&steps).enumerate() {
            let want = model.apply(op);
            prop_assert_eq!(
                got,
                &want,
                "op {} ({:?}) differs from spec 02 §2.4.8/§2.4.9; replay: {}; ops:\n{}",
                i,
                op,
                replay,
                listing(&ops)
            );
        }
        prop_assert_eq!(steps.len(), ops.len());
        let nodes = vec![None; model.devices.len()];
        let gone = End { nodes, interfaces: 0, driver_loaded: false };
        prop_assert_eq!(end, gone, "teardown; replay: {}; ops:\n{}", replay, listing(&ops));
    }
}
