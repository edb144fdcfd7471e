//! Every PnP sequence of spec 02 §2.3 run against the default Wdm2 port,
//! with I/O arriving in each state it passes through: add and start
//! (§2.3.1), orderly removal with its veto (§2.3.2), disable and enable,
//! the resource rebalance (§2.3.3), surprise removal (§2.3.4), a start that
//! fails (§2.3.5), system sleep and wake, and idle power-down (§4.4–4.5).
//!
//! Each I/O call is checked against the disposition table (§2.4.9) and
//! the extension's flags and counters against the state table (§2.4.8)
//! after each step. Two kinds of scenario:
//!
//! * Deterministic ones put [`gate`], a lower filter, under Wdm2. It can
//!   hold one PnP IRP (or one device SET_POWER(D0)) on its way down until
//!   the scenario lets it go, so the scenario sees Wdm2 in the transient
//!   states (StopPending, Stopped, RemovePending, AwaitingResources, inside
//!   PnpStopDevice's wait) and can assert the exact status of every call
//!   made there. The gate also logs the PnP minors it is passed: the
//!   sequence §2.3 gives, as everything Wdm2 passes down.
//! * Racing ones run I/O threads on the plain stack while the scenario
//!   thread drives PnP or power; their outcomes are the few the spec allows
//!   for that window (STATUS_DELETE_PENDING only where PnpStopDevice waits,
//!   §2.4.7 last bullet), and exact outside it.
//!
//! Every scenario runs under many seeds on 2 and 4 processors and ends with
//! every thread joined, the device removed and its driver unloaded; the
//! verifier (on by default) fails the run on a dropped IRP, a missing
//! PoStartNextPowerIrp, a pending-bit mistake, a bug check or a deadlock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::{Bench, Joiner, spawn};
use wdmsim::ddk::*;
use wdmsim::drivers::wdm1::{
    IOCTL_WDM1_GET_BUFFER, IOCTL_WDM1_GET_BUFFER_SIZE, IOCTL_WDM1_REMOVE_BUFFER,
    IOCTL_WDM1_UNRECOGNISED, IOCTL_WDM1_ZERO_BUFFER,
};
use wdmsim::drivers::wdm2::{self, Wdm2DeviceExtension, Wdm2Globals, Wdm2State};
use wdmsim::pnp::{self, DeviceNode, DeviceNodeState, PnpError, Problem, Service, VetoType};
use wdmsim::sync::Mutex;
use wdmsim::win32::*;
use wdmsim::{Machine, po};

/// Win32 error of STATUS_DEVICE_NOT_CONNECTED (ERROR_DEVICE_NOT_CONNECTED).
const NOT_CONNECTED: u32 = 1167;
/// Win32 error of STATUS_DELETE_PENDING (ERROR_ACCESS_DENIED).
const DELETE_PENDING: u32 = 5;
/// ERROR_FILE_NOT_FOUND: the interface link is gone.
const FILE_NOT_FOUND: u32 = 2;
/// Seeds per processor count.
const SEEDS: u64 = 16;
/// Seeds per processor count for the scenarios whose threads race.
const RACING_SEEDS: u64 = 32;

/// The first Wdm2 device of a fresh machine.
const INSTANCE: &str = "Root\\UNKNOWN\\0000";

// ---------------------------------------------------------------------------
// The gate: a lower filter that holds one IRP on its way down

mod gate {
    use std::sync::{Arc, OnceLock};

    use crate::support::Bench;
    use wdmsim::ddk::*;
    use wdmsim::sync::Mutex;

    pub const NAME: &str = "Gate";

    /// Where the gate can stop an IRP.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Point {
        /// A PnP IRP of this minor.
        Pnp(u8),
        /// A device SET_POWER(D0): Wdm2 powering up, after it has passed
        /// the IRP down (its completion routine has not run yet).
        PowerUp,
    }

    /// The scenario's handle on the gate (in the bench, key "gate").
    #[derive(Debug)]
    pub struct Gate {
        hold: Mutex<Option<Point>>,
        arrived: Event,
        release: Event,
        device: Mutex<Option<DeviceObject>>,
    }

    impl Gate {
        /// A gate for this scenario's drivers to find.
        pub fn install(bench: &Bench) -> Arc<Gate> {
            let gate = Arc::new(Gate {
                hold: Mutex::new(None),
                arrived: Event::new(EventType::SynchronizationEvent, false),
                release: Event::new(EventType::SynchronizationEvent, false),
                device: Mutex::new(None),
            });
            bench.put("gate", gate.clone());
            gate
        }

        /// The next IRP at `point` will wait there (once).
        pub fn hold(&self, point: Point) {
            *self.hold.lock() = Some(point);
        }

        /// Waits until the held IRP has reached the gate.
        pub fn wait_arrival(&self) {
            ke_wait_for_single_object(&self.arrived, None);
        }

        /// Lets the held IRP go on down.
        pub fn release(&self) {
            ke_set_event(&self.release, 0, false);
        }

        /// The Wdm2 FDO above the gate's device.
        pub fn wdm2_fdo(&self) -> DeviceObject {
            let device = self.device.lock().clone().expect("the gate has a device");
            device.attached_device().expect("Wdm2 is attached above the gate")
        }

        /// The PDO below the gate's device.
        pub fn pdo(&self) -> DeviceObject {
            let device = self.device.lock().clone().expect("the gate has a device");
            device.lower_device().expect("the gate is attached to the PDO")
        }

        /// Stops the caller here if the gate holds `point`.
        fn pass(&self, point: Point) {
            let hit = {
                let mut hold = self.hold.lock();
                let hit = *hold == Some(point);
                if hit {
                    *hold = None;
                }
                hit
            };
            if hit {
                ke_set_event(&self.arrived, 0, false);
                ke_wait_for_single_object(&self.release, None);
            }
        }
    }

    fn gate() -> Arc<Gate> {
        Bench::current().value::<Arc<Gate>>("gate").expect("the scenario installed the gate")
    }

    #[derive(Debug, Default)]
    struct GateDevice {
        next: OnceLock<DeviceObject>,
    }

    pub fn driver_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
        driver.driver_extension.add_device = Some(add_device);
        driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
        driver.major_function[IRP_MJ_POWER as usize] = Some(power);
        STATUS_SUCCESS
    }

    fn add_device(driver: &Driver, pdo: &DeviceObject) -> NtStatus {
        let device = match io_create_device(
            driver,
            GateDevice::default(),
            None,
            FILE_DEVICE_UNKNOWN,
            0,
            false,
        ) {
            Ok(device) => device,
            Err(status) => return status,
        };
        let Some(next) = io_attach_device_to_device_stack(&device, pdo) else {
            io_delete_device(&device);
            return STATUS_NO_SUCH_DEVICE;
        };
        let _ = device.extension::<GateDevice>().next.set(next);
        // Power IRPs at PASSIVE_LEVEL, where the gate may wait.
        device.set_flags(DO_POWER_PAGABLE);
        device.clear_flags(DO_DEVICE_INITIALIZING);
        *gate().device.lock() = Some(device);
        STATUS_SUCCESS
    }

    fn next(device: &DeviceObject) -> DeviceObject {
        device.extension::<GateDevice>().next.get().expect("attached").clone()
    }

    /// Logs the minor ("PnP START_DEVICE"), waits if held, passes it down
    /// untouched; after REMOVE, detaches and deletes its device.
    fn pnp(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        let minor = io_get_current_irp_stack_location(&irp).minor_function;
        let name = function_name(IRP_MJ_PNP, minor);
        let name = name.trim_start_matches("IRP_MJ_PNP:IRP_MN_").to_string();
        Bench::current().log.push(format!("PnP {name}"));
        let gate = gate();
        gate.pass(Point::Pnp(minor));
        let next = next(device);
        io_skip_current_irp_stack_location(&mut irp);
        let status = io_call_driver(&next, irp);
        if minor == IRP_MN_REMOVE_DEVICE {
            *gate.device.lock() = None;
            io_detach_device(&next);
            io_delete_device(device);
        }
        status
    }

    /// Waits if it holds a device SET_POWER(D0), then passes every power
    /// IRP down (PoStartNextPowerIrp, skip, PoCallDriver).
    fn power(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        let location = io_get_current_irp_stack_location(&irp);
        let d0 = PowerState::Device(DevicePowerState::D0);
        if location.minor_function == IRP_MN_SET_POWER
            && matches!(location.parameters, Parameters::Power { state, .. } if state == d0)
        {
            gate().pass(Point::PowerUp);
        }
        po_start_next_power_irp(&irp);
        io_skip_current_irp_stack_location(&mut irp);
        po_call_driver(&next(device), irp)
    }
}

use gate::{Gate, Point};

// ---------------------------------------------------------------------------
// Machines, devices, threads

/// Wdm2 alone over its PDO, or over the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stack {
    Plain,
    Gated,
}

/// Installs the default Wdm2 (over the gate if `stack` says so).
fn install(stack: Stack) {
    let package = match stack {
        Stack::Plain => wdm2::package(),
        Stack::Gated => wdm2::package().lower_filter(Service::new(gate::NAME, gate::driver_entry)),
    };
    pnp::install(package);
}

/// Installs Wdm2 and adds its device, which must start.
fn add(stack: Stack) -> DeviceNode {
    install(stack);
    pnp::add_root_device(wdm2::HARDWARE_ID).expect("the Wdm2 device starts")
}

/// Runs `scenario` under [`SEEDS`] seeds (or `seeds`) on 2 and on 4 processors.
fn explore(seeds: u64, scenario: impl Fn() + Clone + 'static) {
    for processors in [2, 4] {
        Machine::sim().processors(processors).explore(0..seeds, scenario.clone()).assert_ok();
    }
}

/// The Wdm2 FDO on top of `node`'s stack.
fn fdo(node: DeviceNode) -> DeviceObject {
    wdmsim::io::get_attached_device(&pnp::pdo(node).expect("a PDO"))
}

fn state_of(fdo: &DeviceObject) -> Wdm2State {
    fdo.extension::<Wdm2DeviceExtension>().state()
}

fn state(node: DeviceNode) -> Wdm2State {
    state_of(&fdo(node))
}

/// The Win32 path of `node`'s WDM2_GUID interface (it outlives the node).
fn path_of(node: DeviceNode) -> String {
    let instance = pnp::instance_id(node).expect("a node").replace('\\', "#");
    wdmsim::io::device_path(&format!("\\??\\{instance}#{}", wdm2::WDM2_GUID))
}

/// The path of the first device a machine adds, before it is known.
fn first_path() -> String {
    wdmsim::io::device_path(&format!("\\??\\{}#{}", INSTANCE.replace('\\', "#"), wdm2::WDM2_GUID))
}

/// Extension flags and counters (spec 02 §2.4.8): `usage` counts the bias,
/// I/O in flight and a PnP IRP being handled.
#[allow(clippy::too_many_arguments)]
fn flags(
    got_resources: bool,
    paused: bool,
    io_disabled: bool,
    handles: i32,
    usage: i32,
    stopping: bool,
    power: DevicePowerState,
) -> Wdm2State {
    Wdm2State {
        got_resources,
        paused,
        io_disabled,
        open_handle_count: handles,
        usage_count: usage,
        stopping,
        power_state: power,
    }
}

/// Started, nothing in flight.
fn started(handles: i32, power: DevicePowerState) -> Wdm2State {
    flags(true, false, false, handles, 1, false, power)
}

/// The PnP worker has nothing queued any more (an action on no node runs
/// after every action queued before it).
fn settle() {
    let nowhere = DeviceNode::from_parts(u32::MAX, u32::MAX);
    assert_eq!(pnp::enable_device(nowhere), Err(PnpError::NoSuchDevNode));
}

/// Lets every other thread run until it blocks or ends: virtual time only
/// moves when no thread can run. A power IRP's dispatch routine may still
/// be returning (and release Wdm2's lock) after the IRP completed and the
/// power manager's caller went on.
fn quiesce() {
    ke_delay_execution_thread(Interval::relative_ms(1));
}

/// Polls (1 ms of virtual time apart) until `done`.
#[track_caller]
fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        ke_delay_execution_thread(Interval::relative_ms(1));
    }
    panic!("never: {what}");
}

/// The gate's PnP log lines since the last call.
fn gate_log(seen: &mut usize) -> Vec<String> {
    let lines: Vec<String> = Bench::current()
        .log
        .lines()
        .into_iter()
        .filter_map(|l| l.strip_prefix("PnP ").map(String::from))
        .collect();
    let new = lines[*seen..].to_vec();
    *seen = lines.len();
    new
}

/// What the PnP manager sends a stack it starts (spec 02 §2.3.1), as the
/// gate under Wdm2 sees it.
const START_SEQUENCE: [&str; 6] = [
    "QUERY_LEGACY_BUS_INFORMATION",
    "FILTER_RESOURCE_REQUIREMENTS",
    "START_DEVICE",
    "QUERY_CAPABILITIES",
    "QUERY_PNP_DEVICE_STATE",
    "QUERY_DEVICE_RELATIONS",
];

// ---------------------------------------------------------------------------
// Win32 calls and their outcomes

/// One call: Ok(bytes transferred, bytes read back) or Err(GetLastError()).
type Call = Result<(u32, Vec<u8>), u32>;

fn create(path: &str) -> Result<Handle, u32> {
    let handle =
        create_file(path, GENERIC_READ | GENERIC_WRITE, 0, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL);
    if handle == INVALID_HANDLE_VALUE { Err(get_last_error()) } else { Ok(handle) }
}

#[track_caller]
fn open(path: &str) -> Handle {
    create(path).unwrap_or_else(|error| panic!("CreateFile({path}) failed: {error}"))
}

#[track_caller]
fn close(handle: Handle) {
    assert!(close_handle(handle), "CloseHandle: {}", get_last_error());
}

fn read4(handle: Handle) -> Call {
    let (mut bytes, mut count) = ([0u8; 4], 0);
    if read_file(handle, &mut bytes, 4, &mut count) {
        Ok((count, bytes[..count as usize].to_vec()))
    } else {
        Err(get_last_error())
    }
}

fn write4(handle: Handle) -> Call {
    let mut count = 0;
    if write_file(handle, b"WDM2", 4, &mut count) {
        Ok((count, Vec::new()))
    } else {
        Err(get_last_error())
    }
}

fn ioctl(handle: Handle, code: u32, size: u32) -> Call {
    let mut output = vec![0u8; size as usize];
    let mut returned = 0;
    if device_io_control(handle, code, &[], 0, &mut output, size, &mut returned) {
        output.truncate(returned as usize);
        Ok((returned, output))
    } else {
        Err(get_last_error())
    }
}

/// ReadFile, WriteFile and the IOCTLs (GET_BUFFER_SIZE, GET_BUFFER,
/// ZERO_BUFFER, REMOVE_BUFFER, the unrecognised one), at file position 0;
/// on a started device they leave the shared buffer empty as they found it.
fn probe(handle: Handle) -> Vec<(&'static str, Call)> {
    vec![
        ("ReadFile", read4(handle)),
        ("WriteFile", write4(handle)),
        ("GET_BUFFER_SIZE", ioctl(handle, IOCTL_WDM1_GET_BUFFER_SIZE, 4)),
        ("GET_BUFFER", ioctl(handle, IOCTL_WDM1_GET_BUFFER, 4)),
        ("ZERO_BUFFER", ioctl(handle, IOCTL_WDM1_ZERO_BUFFER, 0)),
        ("REMOVE_BUFFER", ioctl(handle, IOCTL_WDM1_REMOVE_BUFFER, 0)),
        ("UNRECOGNISED", ioctl(handle, IOCTL_WDM1_UNRECOGNISED, 0)),
    ]
}

/// [`probe`] on a started device with an empty buffer (§2.4.9 "processed").
fn processed() -> Vec<(&'static str, Call)> {
    vec![
        ("ReadFile", Ok((0, vec![]))), // end of file: TRUE, 0 bytes
        ("WriteFile", Ok((4, vec![]))),
        ("GET_BUFFER_SIZE", Ok((4, 4u32.to_le_bytes().to_vec()))),
        ("GET_BUFFER", Ok((4, b"WDM2".to_vec()))),
        ("ZERO_BUFFER", Ok((0, vec![]))),
        ("REMOVE_BUFFER", Ok((0, vec![]))),
        ("UNRECOGNISED", Err(ERROR_INVALID_FUNCTION)),
    ]
}

/// [`probe`] while Wdm2's I/O is disabled: every call
/// STATUS_DEVICE_NOT_CONNECTED (§2.4.9).
fn refused() -> Vec<(&'static str, Call)> {
    processed().into_iter().map(|(name, _)| (name, Err(NOT_CONNECTED))).collect()
}

/// What a power IRP Wdm2's stack was sent finished with.
#[derive(Debug)]
struct PowerWait {
    done: Event,
    status: Mutex<Option<NtStatus>>,
}

fn power_done(
    _device: &DeviceObject,
    _minor: u8,
    _state: PowerState,
    context: &CompletionContext,
    io_status: IoStatusBlock,
) {
    if let Some(wait) = context.as_deref().and_then(|c| c.downcast_ref::<PowerWait>()) {
        *wait.status.lock() = Some(io_status.status);
        ke_set_event(&wait.done, 0, false);
    }
}

/// A device SET_POWER(`to`) to `pdo`'s stack (PoRequestPowerIrp), waited
/// for: its final status.
fn set_device_power(pdo: &DeviceObject, to: DevicePowerState) -> NtStatus {
    let wait = Arc::new(PowerWait {
        done: Event::new(EventType::NotificationEvent, false),
        status: Mutex::new(None),
    });
    let context: CompletionContext = Some(wait.clone());
    let sent = po_request_power_irp(
        pdo,
        IRP_MN_SET_POWER,
        PowerState::Device(to),
        Some(power_done),
        context,
    );
    assert_eq!(sent, STATUS_PENDING);
    ke_wait_for_single_object(&wait.done, None);
    let status = *wait.status.lock();
    status.expect("the power IRP finished")
}

/// Removes `node` (no handle open) and checks everything went: the node,
/// the interface, the driver; CreateFile on the old path finds nothing.
#[track_caller]
fn remove_and_check_gone(node: DeviceNode) {
    let path = path_of(node);
    let driver = pnp::function_driver(node).expect("Wdm2 drives the device");
    assert_eq!(pnp::remove_device(node), Ok(()));
    assert_gone(node, &driver, &path);
}

#[track_caller]
fn assert_gone(node: DeviceNode, driver: &Driver, path: &str) {
    assert_eq!(pnp::state(node), None, "the node left the tree");
    assert!(driver.is_unloaded(), "Wdm2 unloaded with its last device");
    assert!(io_get_device_interfaces(&wdm2::WDM2_GUID).is_empty(), "no interface left");
    assert_eq!(create(path), Err(FILE_NOT_FOUND), "CreateFile on a removed device");
}

fn buffer_of(driver: &Driver) -> Vec<u8> {
    driver.extension::<Wdm2Globals>().buffer()
}

// ---------------------------------------------------------------------------
// §2.3.1 Add and start

/// AddDevice then START: the device is Started with I/O enabled and D0
/// (§2.4.6, §2.4.8); every call is processed, a power IRP too; the node
/// went Uninitialized → … → Started; the stack saw §2.3.1's sequence.
fn add_and_start() {
    let bench = Bench::install();
    Gate::install(&bench);
    for (status, error) in [
        (STATUS_DEVICE_NOT_CONNECTED, NOT_CONNECTED),
        (STATUS_DELETE_PENDING, DELETE_PENDING),
        (STATUS_OBJECT_NAME_NOT_FOUND, FILE_NOT_FOUND),
    ] {
        assert_eq!(rtl_nt_status_to_dos_error(status), error, "{status:?}");
    }
    let mut seen = 0;
    let node = add(Stack::Gated);
    assert_eq!(gate_log(&mut seen), START_SEQUENCE);
    let history: Vec<_> = pnp::history(node).iter().map(|c| c.state).collect();
    use DeviceNodeState::*;
    assert_eq!(history, [Uninitialized, Initialized, DriversAdded, ResourcesAssigned, Started]);
    assert_eq!(pnp::problem(node), None);
    let fdo = fdo(node);
    assert_eq!(state_of(&fdo), started(0, DevicePowerState::D0));
    assert_eq!(po::device_power_state(&fdo), DevicePowerState::D0);
    assert_eq!(path_of(node), first_path());
    let handle = open(&path_of(node));
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0));
    assert_eq!(probe(handle), processed());
    // Power IRPs are processed: down to D3 and up again.
    let pdo = pnp::pdo(node).expect("a PDO");
    assert_eq!(set_device_power(&pdo, DevicePowerState::D3), STATUS_SUCCESS);
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D3));
    assert_eq!(set_device_power(&pdo, DevicePowerState::D0), STATUS_SUCCESS);
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0));
    close(handle);
    assert_eq!(state_of(&fdo), started(0, DevicePowerState::D0));
    remove_and_check_gone(node);
    assert_eq!(gate_log(&mut seen), ["QUERY_REMOVE_DEVICE", "REMOVE_DEVICE"]);
}

#[test]
fn add_and_start_leave_the_device_started_and_processing_io() {
    explore(SEEDS, add_and_start);
}

/// START held below Wdm2: the device is AwaitingResources (its interface
/// already enabled by AddDevice, I/O disabled, D3): CreateFile and power
/// IRPs are STATUS_DEVICE_NOT_CONNECTED (§2.4.9 first row).
fn awaiting_resources() {
    let bench = Bench::install();
    let gate = Gate::install(&bench);
    install(Stack::Gated);
    gate.hold(Point::Pnp(IRP_MN_START_DEVICE));
    let adding = spawn(|| pnp::add_root_device(wdm2::HARDWARE_ID));
    gate.wait_arrival();
    let fdo = gate.wdm2_fdo();
    let awaiting = flags(false, false, true, 0, 2, false, DevicePowerState::D3);
    assert_eq!(state_of(&fdo), awaiting, "AwaitingResources, START in Wdm2Pnp");
    assert_eq!(create(&first_path()), Err(NOT_CONNECTED));
    assert_eq!(set_device_power(&gate.pdo(), DevicePowerState::D0), STATUS_DEVICE_NOT_CONNECTED);
    assert_eq!(state_of(&fdo), awaiting, "nothing changed");
    gate.release();
    let node = adding.join().expect("the device starts");
    assert_eq!(state(node), started(0, DevicePowerState::D0));
    remove_and_check_gone(node);
}

#[test]
fn while_start_is_pending_create_and_power_irps_are_not_connected() {
    explore(SEEDS, awaiting_resources);
}

// ---------------------------------------------------------------------------
// §2.3.2 Orderly removal

/// With a handle open Wdm2 fails QUERY_REMOVE (STATUS_UNSUCCESSFUL, not
/// passed down) and the stack gets CANCEL_REMOVE: the call is vetoed by the
/// device and nothing changes. After CloseHandle: QUERY_REMOVE (held:
/// RemovePending, CreateFile and power IRPs not connected), REMOVE (held:
/// PnpStopDevice has run, I/O disabled), then everything is gone.
fn orderly_removal() {
    let bench = Bench::install();
    let gate = Gate::install(&bench);
    let mut seen = 0;
    let node = add(Stack::Gated);
    gate_log(&mut seen);
    let path = path_of(node);
    let driver = pnp::function_driver(node).expect("Wdm2 drives the device");
    let handle = open(&path);
    let vetoed = PnpError::Vetoed { veto: VetoType::Device, name: INSTANCE.into() };
    assert_eq!(pnp::remove_device(node), Err(vetoed));
    assert_eq!(gate_log(&mut seen), ["CANCEL_REMOVE_DEVICE"], "QUERY_REMOVE stopped at Wdm2");
    assert_eq!(pnp::state(node), Some(DeviceNodeState::Started));
    assert_eq!(state(node), started(1, DevicePowerState::D0));
    assert_eq!(probe(handle), processed());
    close(handle);
    assert_eq!(state(node), started(0, DevicePowerState::D0));

    gate.hold(Point::Pnp(IRP_MN_QUERY_REMOVE_DEVICE));
    let removing = spawn(move || pnp::remove_device(node));
    gate.wait_arrival();
    let fdo = gate.wdm2_fdo();
    let remove_pending = flags(true, true, true, 0, 2, false, DevicePowerState::D0);
    assert_eq!(state_of(&fdo), remove_pending, "RemovePending");
    assert_eq!(create(&path), Err(NOT_CONNECTED));
    assert_eq!(set_device_power(&gate.pdo(), DevicePowerState::D3), STATUS_DEVICE_NOT_CONNECTED);
    assert_eq!(state_of(&fdo), remove_pending);
    gate.hold(Point::Pnp(IRP_MN_REMOVE_DEVICE));
    gate.release();
    gate.wait_arrival();
    // PnpStopDevice ran (nothing in flight: its wait ended at once); the
    // FDO is not deleted yet.
    assert_eq!(state_of(&fdo), flags(false, true, true, 0, 2, false, DevicePowerState::D0));
    assert_eq!(create(&path), Err(NOT_CONNECTED));
    drop(fdo);
    gate.release();
    assert_eq!(removing.join(), Ok(()));
    assert_eq!(gate_log(&mut seen), ["QUERY_REMOVE_DEVICE", "REMOVE_DEVICE"]);
    assert_gone(node, &driver, &path);
}

#[test]
fn orderly_removal_is_refused_with_a_handle_open_and_goes_through_after_close() {
    explore(SEEDS, orderly_removal);
}

/// One I/O thread's cycle while the device may be going: CreateFile, and
/// if it opened, WriteFile then ReadFile (which must see what it wrote: an
/// open handle keeps the device, and so the driver and its buffer),
/// CloseHandle. Wdm2's Create tests IODisabled before it counts the handle
/// (book l.5647), so a QUERY_REMOVE can slip in between, pause the device
/// and be vetoed by the PnP manager's own open-handle check: until its
/// CANCEL_REMOVE, I/O on the new handle is NOT_CONNECTED (or DELETE_PENDING
/// past the IODisabled test), as in Remove-pending (spec 02 §2.4.9).
fn open_write_read_close(path: &str) -> Result<(), u32> {
    let handle = create(path)?;
    let paused = |outcome: &Call| matches!(outcome, Err(NOT_CONNECTED) | Err(DELETE_PENDING));
    let written = write4(handle);
    assert!(
        written == Ok((4, vec![])) || paused(&written),
        "WriteFile on an open handle: {written:?}"
    );
    let read = read4(handle);
    // What was written (by this thread, or the other one) is there; if this
    // write was refused the buffer may still be empty (end of file).
    let seen = read == Ok((4, b"WDM2".to_vec())) || (written.is_err() && read == Ok((0, vec![])));
    assert!(seen || paused(&read), "ReadFile on an open handle: {read:?} after {written:?}");
    close(handle);
    Ok(())
}

/// A thread that runs `cycles` of [`open_write_read_close`], 1 ms of
/// virtual time apart (the scenario's retries are too, so they meet), until
/// the device is gone for good.
fn opener(path: &str, cycles: usize) -> Joiner<Vec<Result<(), u32>>> {
    let path = path.to_string();
    spawn(move || {
        let mut outcomes = Vec::new();
        for _ in 0..cycles {
            outcomes.push(open_write_read_close(&path));
            ke_delay_execution_thread(Interval::relative_ms(1));
        }
        outcomes
    })
}

/// Two threads open, write, read and close while the scenario removes the
/// device. Removal is vetoed while either holds a handle (by Wdm2, or by
/// the PnP manager's own open-handle check in the window where a close has
/// reached Wdm2 but not the I/O manager); I/O on an open handle always
/// works; CreateFile is NOT_CONNECTED while a removal is under way and
/// FILE_NOT_FOUND after it.
fn removal_racing_open_handles() {
    let node = add(Stack::Plain);
    let path = path_of(node);
    let driver = pnp::function_driver(node).expect("Wdm2 drives the device");
    let threads = [opener(&path, 8), opener(&path, 8)];
    let mut attempts = 0;
    loop {
        attempts += 1;
        match pnp::remove_device(node) {
            Ok(()) => break,
            Err(PnpError::Vetoed { veto: VetoType::Device | VetoType::OutstandingOpen, name }) => {
                assert_eq!(name, INSTANCE);
                assert!(attempts < 100, "removal never went through");
                ke_delay_execution_thread(Interval::relative_ms(1));
            }
            Err(other) => panic!("removal: {other:?}"),
        }
    }
    for thread in threads {
        for outcome in thread.join() {
            assert!(
                matches!(outcome, Ok(()) | Err(NOT_CONNECTED) | Err(FILE_NOT_FOUND)),
                "CreateFile during removal: {outcome:?} (spec 02 §2.4.9)"
            );
        }
    }
    assert_gone(node, &driver, &path);
}

#[test]
fn removal_racing_threads_that_open_read_and_close() {
    explore(RACING_SEEDS, removal_racing_open_handles);
}

// ---------------------------------------------------------------------------
// Disable and enable

/// Disable is a removal that keeps the node (problem Disabled): vetoed with
/// a handle open; after it, no interface, the driver unloaded with its
/// buffer, CreateFile finds nothing; enable builds a fresh stack (new FDO,
/// D0, new driver instance with an empty buffer). Disable, stop or enable
/// in the wrong state are CR_INVALID_DEVNODE.
fn disable_and_enable() {
    let bench = Bench::install();
    Gate::install(&bench);
    let mut seen = 0;
    let node = add(Stack::Gated);
    gate_log(&mut seen);
    let path = path_of(node);
    let driver = pnp::function_driver(node).expect("Wdm2 drives the device");
    let handle = open(&path);
    assert_eq!(write4(handle), Ok((4, vec![])));
    let vetoed = PnpError::Vetoed { veto: VetoType::Device, name: INSTANCE.into() };
    assert_eq!(pnp::disable_device(node), Err(vetoed));
    assert_eq!(state(node), started(1, DevicePowerState::D0));
    assert_eq!(read4(handle), Ok((4, b"WDM2".to_vec())));
    close(handle);
    assert_eq!(buffer_of(&driver), b"WDM2");
    assert_eq!(pnp::disable_device(node), Ok(()));
    assert_eq!(
        gate_log(&mut seen),
        ["CANCEL_REMOVE_DEVICE", "QUERY_REMOVE_DEVICE", "REMOVE_DEVICE"]
    );
    assert_eq!(pnp::state(node), Some(DeviceNodeState::Removed));
    assert_eq!(pnp::problem(node), Some(Problem::Disabled));
    assert!(driver.is_unloaded(), "Wdm2 unloaded with its only device");
    assert!(io_get_device_interfaces(&wdm2::WDM2_GUID).is_empty());
    assert_eq!(create(&path), Err(FILE_NOT_FOUND));
    let removed = PnpError::InvalidState(DeviceNodeState::Removed);
    assert_eq!(pnp::disable_device(node), Err(removed.clone()));
    assert_eq!(pnp::stop_device(node), Err(removed));

    assert_eq!(pnp::enable_device(node), Ok(()));
    assert_eq!(gate_log(&mut seen), START_SEQUENCE);
    assert_eq!(pnp::problem(node), None);
    assert_eq!(state(node), started(0, DevicePowerState::D0));
    let reloaded = pnp::function_driver(node).expect("Wdm2 drives the device");
    assert!(!reloaded.is_unloaded());
    let started_again = PnpError::InvalidState(DeviceNodeState::Started);
    assert_eq!(pnp::enable_device(node), Err(started_again));
    let handle = open(&path);
    assert_eq!(probe(handle), processed(), "the reloaded driver's buffer starts empty");
    close(handle);
    remove_and_check_gone(node);
}

#[test]
fn disable_is_vetoed_with_a_handle_open_and_enable_builds_a_fresh_stack() {
    explore(SEEDS, disable_and_enable);
}

/// Two threads open, write, read and close while the scenario disables and
/// enables the device three times.
fn disable_enable_racing_open_handles() {
    let node = add(Stack::Plain);
    let path = path_of(node);
    let threads = [opener(&path, 8), opener(&path, 8)];
    let mut cycles = 0;
    for attempt in 0..200 {
        match pnp::disable_device(node) {
            Ok(()) => {
                assert_eq!(pnp::problem(node), Some(Problem::Disabled));
                assert_eq!(pnp::enable_device(node), Ok(()));
                cycles += 1;
                if cycles == 3 {
                    break;
                }
            }
            Err(PnpError::Vetoed {
                veto: VetoType::Device | VetoType::OutstandingOpen, ..
            }) => {
                ke_delay_execution_thread(Interval::relative_ms(1));
            }
            Err(other) => panic!("disable (attempt {attempt}): {other:?}"),
        }
    }
    assert_eq!(cycles, 3, "disable went through once the handles were closed");
    for thread in threads {
        for outcome in thread.join() {
            assert!(
                matches!(outcome, Ok(()) | Err(NOT_CONNECTED) | Err(FILE_NOT_FOUND)),
                "CreateFile during disable/enable: {outcome:?} (spec 02 §2.4.9)"
            );
        }
    }
    assert_eq!(state(node), started(0, DevicePowerState::D0));
    remove_and_check_gone(node);
}

#[test]
fn disable_and_enable_racing_threads_that_open_read_and_close() {
    explore(RACING_SEEDS, disable_enable_racing_open_handles);
}

// ---------------------------------------------------------------------------
// §2.3.3 Resource rebalance

/// QUERY_STOP, STOP and START, each held below Wdm2, with three handles
/// open: StopPending (GR, P, IOD), Stopped (¬GR, P ⚠ still set, IOD),
/// Stopped while the new START goes down; in each every call is
/// NOT_CONNECTED (Wdm2 fails what the DDK says to hold, §2.3.3), a close
/// works, power IRPs are refused. Then Started again, handle still valid.
fn rebalance_step_by_step() {
    let bench = Bench::install();
    let gate = Gate::install(&bench);
    let mut seen = 0;
    let node = add(Stack::Gated);
    gate_log(&mut seen);
    let path = path_of(node);
    let handle = open(&path);
    let spare = [open(&path), open(&path)];
    let fdo = fdo(node);
    let pdo = pnp::pdo(node).expect("a PDO");
    let d0 = DevicePowerState::D0;

    gate.hold(Point::Pnp(IRP_MN_QUERY_STOP_DEVICE));
    let stopping = spawn(move || pnp::stop_device(node));
    gate.wait_arrival();
    assert_eq!(state_of(&fdo), flags(true, true, true, 3, 2, false, d0), "StopPending");
    assert_eq!(probe(handle), refused(), "StopPending");
    assert_eq!(create(&path), Err(NOT_CONNECTED), "StopPending");
    assert_eq!(set_device_power(&pdo, DevicePowerState::D3), STATUS_DEVICE_NOT_CONNECTED);
    close(spare[0]);
    assert_eq!(state_of(&fdo), flags(true, true, true, 2, 2, false, d0), "a close works");

    gate.hold(Point::Pnp(IRP_MN_STOP_DEVICE));
    gate.release();
    gate.wait_arrival();
    let stopped = flags(false, true, true, 2, 2, false, d0);
    assert_eq!(state_of(&fdo), stopped, "Stopped (Paused stays set, §2.4.8 ⚠)");
    assert_eq!(pnp::state(node), Some(DeviceNodeState::QueryStopped));
    assert_eq!(probe(handle), refused(), "Stopped");
    assert_eq!(create(&path), Err(NOT_CONNECTED), "Stopped");
    assert_eq!(set_device_power(&pdo, DevicePowerState::D3), STATUS_DEVICE_NOT_CONNECTED);
    close(spare[1]);

    gate.hold(Point::Pnp(IRP_MN_START_DEVICE));
    gate.release();
    gate.wait_arrival();
    let stopped = flags(false, true, true, 1, 2, false, d0);
    assert_eq!(state_of(&fdo), stopped, "still Stopped while START goes down first");
    assert_eq!(probe(handle), refused(), "Stopped, START below");
    assert_eq!(create(&path), Err(NOT_CONNECTED));
    gate.release();
    assert_eq!(stopping.join(), Ok(()));

    let mut expected = vec!["QUERY_STOP_DEVICE", "STOP_DEVICE"];
    expected.extend(START_SEQUENCE);
    assert_eq!(gate_log(&mut seen), expected);
    assert_eq!(pnp::state(node), Some(DeviceNodeState::Started));
    assert_eq!(state_of(&fdo), started(1, d0));
    assert_eq!(probe(handle), processed(), "the handle survived the rebalance");
    close(handle);
    drop(fdo);
    remove_and_check_gone(node);
}

#[test]
fn a_rebalance_refuses_io_while_stop_pending_and_stopped_and_the_handle_survives() {
    explore(SEEDS, rebalance_step_by_step);
}

/// Idle (D3), then a read whose power-up is held below Wdm2: the read and
/// Wdm2Power hold Wdm2's lock. `take_down` (a rebalance or a surprise
/// removal) then waits in PnpStopDevice (Stopping, usage count 2, without
/// the bias, §2.4.10); meanwhile every call is NOT_CONNECTED. The read
/// finishes normally and lets it go on. `paused`: whether the action's
/// query set Paused first (QUERY_STOP does; SURPRISE_REMOVAL has none).
/// Returns the PnP call's result; `handle` (the read's) and `other` stay
/// open.
fn take_down_with_a_read_in_flight(
    gate: &Gate,
    node: DeviceNode,
    handle: Handle,
    other: Handle,
    take_down: fn(DeviceNode) -> Result<(), PnpError>,
    paused: bool,
) -> Result<(), PnpError> {
    let path = path_of(node);
    let fdo = fdo(node);
    let pdo = pnp::pdo(node).expect("a PDO");
    ke_delay_execution_thread(Interval::relative_secs(61));
    assert_eq!(state_of(&fdo), started(2, DevicePowerState::D3), "idle");
    gate.hold(Point::PowerUp);
    let reader = spawn(move || read4(handle));
    gate.wait_arrival();
    // The read's lock and that of Wdm2Power, whose PoCallDriver is still
    // under way below it.
    let in_flight = flags(true, false, false, 2, 3, false, DevicePowerState::D3);
    assert_eq!(state_of(&fdo), in_flight, "the read and its power IRP hold the lock");
    let pnp_call = spawn(move || take_down(node));
    wait_until("PnpStopDevice begins", || state_of(&fdo).stopping);
    quiesce(); // and reaches its wait
    let waiting = flags(true, paused, true, 2, 2, true, DevicePowerState::D3);
    assert_eq!(state_of(&fdo), waiting, "inside the stop sequence");
    assert_eq!(probe(other), refused(), "inside the stop sequence");
    assert_eq!(create(&path), Err(NOT_CONNECTED));
    assert_eq!(set_device_power(&pdo, DevicePowerState::D3), STATUS_DEVICE_NOT_CONNECTED);
    gate.release();
    assert_eq!(reader.join(), Ok((0, vec![])), "the read in flight finishes normally");
    pnp_call.join()
}

fn rebalance_with_a_read_in_flight() {
    let bench = Bench::install();
    let gate = Gate::install(&bench);
    let node = add(Stack::Gated);
    let path = path_of(node);
    let (handle, other) = (open(&path), open(&path));
    let result =
        take_down_with_a_read_in_flight(&gate, node, handle, other, pnp::stop_device, true);
    assert_eq!(result, Ok(()));
    assert_eq!(state(node), started(2, DevicePowerState::D0), "restarted, powered (§2.4.6)");
    assert_eq!(probe(handle), processed());
    close(handle);
    close(other);
    remove_and_check_gone(node);
}

#[test]
fn a_rebalance_waits_for_the_read_in_flight_and_refuses_new_io_meanwhile() {
    explore(SEEDS, rebalance_with_a_read_in_flight);
}

/// What an I/O thread saw: (call, outcome, the epoch it ran in if it ran
/// entirely within one even epoch, that is while no PnP or power action of
/// the scenario was under way).
type Seen = Vec<(&'static str, Call, Option<u32>)>;

/// An I/O thread on `handle` that leaves the buffer's content ("WDM2")
/// alone: it reads, writes the same bytes, asks the size and the buffer,
/// and opens (and closes) another handle on `path`. The scenario makes
/// `epoch` odd while its action runs.
fn io_thread(handle: Handle, path: &str, rounds: usize, epoch: &Arc<AtomicU32>) -> Joiner<Seen> {
    let (path, epoch) = (path.to_string(), epoch.clone());
    spawn(move || {
        let mut seen = Vec::new();
        for round in 0..rounds {
            let before = epoch.load(Ordering::SeqCst);
            let (name, call) = match round % 5 {
                0 => ("ReadFile", read4(handle)),
                1 => ("WriteFile", write4(handle)),
                2 => ("GET_BUFFER_SIZE", ioctl(handle, IOCTL_WDM1_GET_BUFFER_SIZE, 4)),
                3 => ("GET_BUFFER", ioctl(handle, IOCTL_WDM1_GET_BUFFER, 4)),
                _ => ("CreateFile", create(&path).map(|h| (u32::from(close_handle(h)), vec![]))),
            };
            let quiet = before % 2 == 0 && epoch.load(Ordering::SeqCst) == before;
            seen.push((name, call, quiet.then_some(before)));
        }
        seen
    })
}

/// The result of each [`io_thread`] call on a started device.
fn worked(name: &str) -> Call {
    match name {
        "ReadFile" | "GET_BUFFER" => Ok((4, b"WDM2".to_vec())),
        "WriteFile" => Ok((4, vec![])),
        "GET_BUFFER_SIZE" => Ok((4, 4u32.to_le_bytes().to_vec())),
        _ => Ok((1, vec![])), // CreateFile, then CloseHandle TRUE
    }
}

/// Whether an [`io_thread`] call that overlapped a rebalance or an unplug
/// had an outcome §2.4.9 allows: it ran before the device stopped, or was
/// refused (NOT_CONNECTED); a read, write or IOCTL that got past the
/// IODisabled test just before PnpStopDevice set it may also see
/// DELETE_PENDING (§2.4.7 last bullet); CreateFile takes no lock, so never.
fn allowed_during(name: &str, call: &Call) -> bool {
    *call == worked(name)
        || *call == Err(NOT_CONNECTED)
        || (*call == Err(DELETE_PENDING) && name != "CreateFile")
}

/// Three I/O threads while the scenario rebalances the device three times:
/// a call outside a rebalance works; one that overlaps it has an outcome
/// [`allowed_during`] a stop.
fn rebalance_racing_io() {
    let node = add(Stack::Plain);
    let path = path_of(node);
    let setup = open(&path);
    assert_eq!(write4(setup), Ok((4, vec![])));
    let epoch = Arc::new(AtomicU32::new(0));
    let handles = [open(&path), open(&path), setup];
    let threads: Vec<_> = handles.iter().map(|h| io_thread(*h, &path, 10, &epoch)).collect();
    for _ in 0..3 {
        epoch.fetch_add(1, Ordering::SeqCst);
        assert_eq!(pnp::stop_device(node), Ok(()));
        epoch.fetch_add(1, Ordering::SeqCst);
    }
    for thread in threads {
        for (name, call, quiet) in thread.join() {
            if quiet.is_some() {
                assert_eq!(call, worked(name), "{name} with no rebalance under way");
            } else {
                assert!(
                    allowed_during(name, &call),
                    "{name} during a rebalance: {call:?} (spec 02 §2.4.7, §2.4.9)"
                );
            }
        }
    }
    assert_eq!(state(node), started(3, DevicePowerState::D0), "every lock released");
    for handle in handles {
        assert_eq!(read4(handle), Ok((4, b"WDM2".to_vec())));
        close(handle);
    }
    remove_and_check_gone(node);
}

#[test]
fn a_rebalance_with_io_threads_running() {
    explore(RACING_SEEDS, rebalance_racing_io);
}

// ---------------------------------------------------------------------------
// §2.3.4 Surprise removal

/// SURPRISE_REMOVAL with a read in flight (held in its power-up) and two
/// handles open: PnpStopDevice waits for the read; afterwards the device is
/// SurpriseRemoved (¬GR, ¬P, IOD) and every call but CloseHandle is
/// NOT_CONNECTED; REMOVE comes only with the last close.
fn surprise_removal_with_a_read_in_flight() {
    let bench = Bench::install();
    let gate = Gate::install(&bench);
    let mut seen = 0;
    let node = add(Stack::Gated);
    gate_log(&mut seen);
    let path = path_of(node);
    let driver = pnp::function_driver(node).expect("Wdm2 drives the device");
    let (handle, other) = (open(&path), open(&path));
    let unplug = |node| pnp::surprise_remove_device(node);
    let result = take_down_with_a_read_in_flight(&gate, node, handle, other, unplug, false);
    assert_eq!(result, Ok(()));
    assert_eq!(gate_log(&mut seen), ["SURPRISE_REMOVAL"]);
    assert_eq!(pnp::state(node), Some(DeviceNodeState::RemovePendingCloses));
    let fdo = fdo(node);
    let surprise_removed =
        |handles| flags(false, false, true, handles, 1, false, DevicePowerState::D0);
    assert_eq!(state_of(&fdo), surprise_removed(2), "SurpriseRemoved");
    assert_eq!(probe(handle), refused(), "SurpriseRemoved");
    assert_eq!(probe(other), refused(), "SurpriseRemoved");
    assert_eq!(create(&path), Err(NOT_CONNECTED), "SurpriseRemoved");
    let pdo = pnp::pdo(node).expect("a PDO");
    assert_eq!(set_device_power(&pdo, DevicePowerState::D3), STATUS_DEVICE_NOT_CONNECTED);
    close(handle);
    settle();
    assert_eq!(pnp::state(node), Some(DeviceNodeState::RemovePendingCloses), "a handle is open");
    assert_eq!(state_of(&fdo), surprise_removed(1));
    assert_eq!(gate_log(&mut seen), Vec::<String>::new(), "no REMOVE yet");
    drop(fdo);
    close(other);
    settle();
    assert_eq!(gate_log(&mut seen), ["REMOVE_DEVICE"], "REMOVE follows the last close");
    assert_gone(node, &driver, &path);
}

#[test]
fn surprise_removal_waits_for_the_read_in_flight_and_remove_follows_the_last_close() {
    explore(SEEDS, surprise_removal_with_a_read_in_flight);
}

/// Three I/O threads on open handles while the device is unplugged: a call
/// that overlaps SURPRISE_REMOVAL has an outcome [`allowed_during`] a stop;
/// one made after it is NOT_CONNECTED; every CloseHandle works and REMOVE
/// follows the last.
fn surprise_removal_racing_io() {
    let node = add(Stack::Plain);
    let path = path_of(node);
    let driver = pnp::function_driver(node).expect("Wdm2 drives the device");
    let setup = open(&path);
    assert_eq!(write4(setup), Ok((4, vec![])));
    let epoch = Arc::new(AtomicU32::new(0));
    let handles = [open(&path), open(&path), setup];
    let threads: Vec<_> = handles.iter().map(|h| io_thread(*h, &path, 10, &epoch)).collect();
    epoch.store(1, Ordering::SeqCst);
    assert_eq!(pnp::surprise_remove_device(node), Ok(()));
    epoch.store(2, Ordering::SeqCst);
    for thread in threads {
        for (name, call, quiet) in thread.join() {
            match quiet {
                Some(0) => assert_eq!(call, worked(name), "{name} before the unplug"),
                Some(_) => {
                    assert_eq!(call, Err(NOT_CONNECTED), "{name} after the unplug (§2.4.9)");
                }
                None => assert!(
                    allowed_during(name, &call),
                    "{name} during the unplug: {call:?} (spec 02 §2.4.7, §2.4.9)"
                ),
            }
        }
    }
    assert_eq!(state(node), flags(false, false, true, 3, 1, false, DevicePowerState::D0));
    for handle in handles {
        assert_eq!(probe(handle), refused());
        assert_eq!(pnp::state(node), Some(DeviceNodeState::RemovePendingCloses));
        close(handle);
        settle();
    }
    assert_gone(node, &driver, &path);
}

#[test]
fn surprise_removal_with_io_in_flight_on_other_threads() {
    explore(RACING_SEEDS, surprise_removal_racing_io);
}

/// Spec 02 §2.4.7 (last bullet) and §2.4.9 ("inside stop-seq"): a read
/// that passed the IODisabled test just before PnpStopDevice set it, and
/// reaches LockDevice while Stopping is set, is failed with
/// STATUS_DELETE_PENDING; "the simulator's scheduler can produce this
/// (scenario PNP-09)". Four readers race three rebalances and an unplug,
/// seed after seed (random and PCT scheduling, 2 and 4 processors), until
/// one read sees it.
fn delete_pending_seen(machine: &Machine) -> bool {
    let found = Arc::new(AtomicU32::new(0));
    let counter = found.clone();
    let run = machine.run(move || {
        let node = add(Stack::Plain);
        let path = path_of(node);
        let epoch = Arc::new(AtomicU32::new(0));
        let handles = [open(&path), open(&path), open(&path), open(&path)];
        let threads: Vec<_> = handles.iter().map(|h| io_thread(*h, &path, 16, &epoch)).collect();
        for _ in 0..3 {
            assert_eq!(pnp::stop_device(node), Ok(()));
        }
        assert_eq!(pnp::surprise_remove_device(node), Ok(()));
        for thread in threads {
            let seen = thread.join();
            let pending = seen.iter().filter(|(_, call, _)| *call == Err(DELETE_PENDING)).count();
            counter.fetch_add(pending as u32, Ordering::SeqCst);
        }
        for handle in handles {
            close(handle);
        }
    });
    assert!(run.is_ok(), "{}", run.report());
    found.load(Ordering::SeqCst) > 0
}

#[test]
fn a_read_past_the_iodisabled_test_as_the_stop_begins_gets_delete_pending() {
    let machines = [
        Machine::sim().processors(2),
        Machine::sim().processors(4),
        Machine::sim().processors(2).pct(3),
        Machine::sim().processors(4).pct(3),
    ];
    let mut tried = Vec::new();
    for machine in machines {
        for seed in 0..RACING_SEEDS {
            let machine = machine.clone().seed(seed);
            tried.push(machine.replay_line());
            if delete_pending_seen(&machine) {
                return;
            }
        }
    }
    panic!(
        "no read got STATUS_DELETE_PENDING in {} runs (first {}, last {}): spec 02 §2.4.7 \
         says the scheduler can interleave a read between Wdm2's IODisabled test and \
         LockDevice (scenario PNP-09), but src/drivers/wdm2/dispatch.rs begin_io makes \
         no kernel call between them, so no simulated thread is ever switched there",
        tried.len(),
        tried[0],
        tried[tried.len() - 1]
    );
}

/// Uninstalling a surprise-removed device whose handle is still open must
/// not send REMOVE before that handle closes (spec 02 §2.3.4: "REMOVE_DEVICE
/// only after all open handles are closed"); `pnp::remove_device` says it
/// is "vetoed while a handle is open" (src/pnp/mod.rs). I/O on the handle
/// stays NOT_CONNECTED, the close works, REMOVE follows it.
fn remove_after_surprise_removal_with_a_handle_open() {
    let node = add(Stack::Plain);
    let path = path_of(node);
    let driver = pnp::function_driver(node).expect("Wdm2 drives the device");
    let handle = open(&path);
    assert_eq!(pnp::surprise_remove_device(node), Ok(()));
    let outstanding = PnpError::Vetoed { veto: VetoType::OutstandingOpen, name: INSTANCE.into() };
    assert_eq!(
        pnp::remove_device(node),
        Err(outstanding),
        "spec 02 §2.3.4: no REMOVE while a handle is open on a surprise-removed device"
    );
    assert_eq!(pnp::state(node), Some(DeviceNodeState::RemovePendingCloses));
    assert!(!fdo(node).is_deleted(), "spec 02 §2.3.4: the FDO outlives the open handle");
    assert_eq!(
        pnp::disable_device(node),
        Err(PnpError::InvalidState(DeviceNodeState::RemovePendingCloses))
    );
    assert_eq!(probe(handle), refused());
    close(handle);
    settle();
    assert_gone(node, &driver, &path);
}

#[test]
fn uninstalling_a_surprise_removed_device_waits_for_its_open_handle() {
    explore(SEEDS, remove_after_surprise_removal_with_a_handle_open);
}

// ---------------------------------------------------------------------------
// §2.3.5 Start failure

/// A DMA channel, which RetrieveResources rejects: START fails with
/// STATUS_DEVICE_CONFIGURATION_ERROR after the lower drivers started, and
/// the PnP manager sends REMOVE (no wait: no resources). While START is
/// held the device is AwaitingResources; while REMOVE is, I/O is disabled.
/// The node keeps problem FailedStart; enable fails the same way again;
/// uninstall deletes it.
fn start_failure() {
    let bench = Bench::install();
    let gate = Gate::install(&bench);
    let mut seen = 0;
    install(Stack::Gated);
    let dma = ResourceDescriptor {
        share: ShareDisposition::DeviceExclusive,
        resource: PartialResource::Dma { channel: 1, port: 0 },
    };
    let requirements = ResourceRequirements { descriptors: vec![dma] };
    gate.hold(Point::Pnp(IRP_MN_START_DEVICE));
    let adding = spawn(move || pnp::add_root_device_with(wdm2::HARDWARE_ID, requirements));
    gate.wait_arrival();
    let fdo = gate.wdm2_fdo();
    let awaiting = flags(false, false, true, 0, 2, false, DevicePowerState::D3);
    assert_eq!(state_of(&fdo), awaiting, "AwaitingResources");
    assert_eq!(create(&first_path()), Err(NOT_CONNECTED));
    assert_eq!(set_device_power(&gate.pdo(), DevicePowerState::D0), STATUS_DEVICE_NOT_CONNECTED);
    gate.hold(Point::Pnp(IRP_MN_REMOVE_DEVICE));
    gate.release();
    gate.wait_arrival();
    assert_eq!(state_of(&fdo), awaiting, "START failed: still AwaitingResources at REMOVE");
    assert_eq!(create(&first_path()), Err(NOT_CONNECTED));
    drop(fdo);
    gate.release();
    let failed = PnpError::Failed(Problem::FailedStart(STATUS_DEVICE_CONFIGURATION_ERROR));
    assert_eq!(adding.join(), Err(failed.clone()));
    let mut expected = START_SEQUENCE[..3].to_vec();
    expected.push("REMOVE_DEVICE");
    assert_eq!(gate_log(&mut seen), expected);
    let node = pnp::node_of(&pdo_of_first()).expect("the node stays");
    assert_eq!(pnp::state(node), Some(DeviceNodeState::Removed));
    assert_eq!(pnp::problem(node), Some(Problem::FailedStart(STATUS_DEVICE_CONFIGURATION_ERROR)));
    assert!(pnp::function_driver(node).is_none(), "no stack above the PDO");
    assert!(io_get_device_interfaces(&wdm2::WDM2_GUID).is_empty());
    assert_eq!(create(&first_path()), Err(FILE_NOT_FOUND));

    assert_eq!(pnp::enable_device(node), Err(failed));
    assert_eq!(gate_log(&mut seen), expected, "the same again");
    assert_eq!(pnp::remove_device(node), Ok(()));
    assert_eq!(pnp::state(node), None);
    assert_eq!(create(&first_path()), Err(FILE_NOT_FOUND));
}

/// The PDO of the only root device.
fn pdo_of_first() -> DeviceObject {
    let root = pnp::children(DeviceNode::from_parts(0, 0));
    pnp::pdo(*root.first().expect("a root device")).expect("a PDO")
}

#[test]
fn a_start_wdm2_rejects_is_followed_by_remove_and_leaves_problem_failed_start() {
    explore(SEEDS, start_failure);
}

// ---------------------------------------------------------------------------
// System sleep and wake (§4.3, §4.5)

/// Sleep from D0 with a handle open: Wdm2 asks for its own D3 first; a read
/// while the system sleeps powers the device up (§4.5 "D1–D3 read → D0");
/// wake leaves it at D0. Applications saw QUERYSUSPEND, SUSPEND, RESUME.
fn sleep_and_wake() {
    let node = add(Stack::Plain);
    let path = path_of(node);
    let handle = open(&path);
    let fdo = fdo(node);
    assert_eq!(po::set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep), Ok(()));
    assert_eq!(po::system_power_state(), SystemPowerState::Sleeping3);
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D3));
    assert_eq!(po::device_power_state(&fdo), DevicePowerState::D3);
    assert_eq!(
        po::set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep),
        Err(STATUS_INVALID_DEVICE_STATE),
        "already asleep"
    );
    assert_eq!(po::wake_system(), Ok(()));
    quiesce();
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0), "woken: D0 again");
    assert_eq!(po::set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep), Ok(()));
    assert_eq!(probe(handle), processed(), "I/O while asleep powers the device up");
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0));
    assert_eq!(po::wake_system(), Ok(()));
    quiesce();
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0));
    use po::PowerBroadcast::*;
    assert_eq!(
        po::take_power_broadcasts(),
        [QuerySuspend, Suspend, ResumeSuspend, QuerySuspend, Suspend, ResumeSuspend]
    );
    close(handle);
    drop(fdo);
    remove_and_check_gone(node);
}

#[test]
fn sleep_powers_the_device_down_and_wake_up_again() {
    explore(SEEDS, sleep_and_wake);
}

/// Idle (D3), then a read whose power-up is held below Wdm2 while the
/// system goes to sleep (the device is D3 already: the system IRPs only
/// pass down) and wakes (its D0 request waits behind the read's at the
/// gate). The read and the wake both finish; the device ends at D0.
fn sleep_with_a_read_pending() {
    let bench = Bench::install();
    let gate = Gate::install(&bench);
    let node = add(Stack::Gated);
    let path = path_of(node);
    let handle = open(&path);
    let fdo = fdo(node);
    ke_delay_execution_thread(Interval::relative_secs(61));
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D3), "idle");
    gate.hold(Point::PowerUp);
    let reader = spawn(move || read4(handle));
    gate.wait_arrival();
    assert_eq!(po::set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep), Ok(()));
    assert_eq!(state_of(&fdo), flags(true, false, false, 1, 3, false, DevicePowerState::D3));
    let waking = spawn(po::wake_system);
    gate.release();
    assert_eq!(reader.join(), Ok((0, vec![])));
    assert_eq!(waking.join(), Ok(()));
    quiesce();
    assert_eq!(po::system_power_state(), SystemPowerState::Working);
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0));
    assert_eq!(po::device_power_state(&fdo), DevicePowerState::D0);
    assert_eq!(probe(handle), processed());
    close(handle);
    drop(fdo);
    remove_and_check_gone(node);
}

#[test]
fn sleep_and_wake_with_a_read_pending_in_its_power_up() {
    explore(SEEDS, sleep_with_a_read_pending);
}

/// Three I/O threads while the system sleeps and wakes twice: every call
/// works (Wdm2 powers up for each), and the device ends at D0.
fn sleep_racing_io() {
    let node = add(Stack::Plain);
    let path = path_of(node);
    let setup = open(&path);
    assert_eq!(write4(setup), Ok((4, vec![])));
    let epoch = Arc::new(AtomicU32::new(0));
    let handles = [open(&path), open(&path), setup];
    let threads: Vec<_> = handles.iter().map(|h| io_thread(*h, &path, 10, &epoch)).collect();
    for _ in 0..2 {
        assert_eq!(
            po::set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep),
            Ok(())
        );
        assert_eq!(po::wake_system(), Ok(()));
    }
    for thread in threads {
        for (name, call, _) in thread.join() {
            assert_eq!(call, worked(name), "{name} while the system sleeps or wakes");
        }
    }
    quiesce();
    assert_eq!(state(node), started(3, DevicePowerState::D0));
    for handle in handles {
        close(handle);
    }
    remove_and_check_gone(node);
}

#[test]
fn sleep_and_wake_with_reads_racing_on_other_threads() {
    explore(RACING_SEEDS, sleep_racing_io);
}

// ---------------------------------------------------------------------------
// Idle detection (§4.4, §4.10)

/// No I/O for 60 virtual seconds: the power manager sends SET_POWER(D3)
/// (after 59 s the device is still D0); the next read, write or IOCTL
/// powers it up first, and restarts the idle clock.
fn idle_power_down() {
    let node = add(Stack::Plain);
    let path = path_of(node);
    let handle = open(&path);
    let fdo = fdo(node);
    let pdo = pnp::pdo(node).expect("a PDO");
    let secs = |n| ke_delay_execution_thread(Interval::relative_secs(n));
    let d3_entries = || po::query_power_sequence(&pdo).expect("the root bus counts").sequence_d3;
    secs(59);
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0), "59 s idle");
    secs(2);
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D3), "60 s idle");
    assert_eq!(po::device_power_state(&fdo), DevicePowerState::D3);
    assert_eq!(d3_entries(), 1);
    assert_eq!(read4(handle), Ok((0, vec![])));
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0), "the read powered it up");
    secs(59);
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0), "the read was I/O");
    secs(2);
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D3));
    assert_eq!(write4(handle), Ok((4, vec![])));
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0), "the write powered it up");
    secs(61);
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D3));
    assert_eq!(ioctl(handle, IOCTL_WDM1_GET_BUFFER, 4), Ok((4, b"WDM2".to_vec())));
    assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0), "the IOCTL powered it up");
    assert_eq!(d3_entries(), 3);
    // I/O every 30 s keeps it up.
    for _ in 0..4 {
        secs(30);
        assert_eq!(read4(handle), Ok((4, b"WDM2".to_vec())));
        assert_eq!(state_of(&fdo), started(1, DevicePowerState::D0));
    }
    assert_eq!(d3_entries(), 3);
    assert_eq!(ioctl(handle, IOCTL_WDM1_REMOVE_BUFFER, 0), Ok((0, vec![])));
    close(handle);
    secs(61);
    assert_eq!(state_of(&fdo), started(0, DevicePowerState::D3), "idle without a handle too");
    drop(fdo);
    remove_and_check_gone(node);
}

#[test]
fn idle_for_60_seconds_powers_down_and_the_next_io_powers_up() {
    explore(SEEDS, idle_power_down);
}

/// Readers that read just as the idle time-out expires: the read and the
/// idle IRP race; every read works, and whatever state that leaves, the
/// next read finds the device at D0 afterwards.
fn idle_racing_io() {
    let node = add(Stack::Plain);
    let path = path_of(node);
    let handles = [open(&path), open(&path)];
    let fdo = fdo(node);
    let readers: Vec<_> = handles
        .iter()
        .map(|&handle| {
            spawn(move || {
                ke_delay_execution_thread(Interval::relative_secs(60));
                read4(handle)
            })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.join(), Ok((0, vec![])));
    }
    ke_delay_execution_thread(Interval::relative_ms(500));
    let after = state_of(&fdo);
    assert!(
        after == started(2, DevicePowerState::D0) || after == started(2, DevicePowerState::D3),
        "{after:?}"
    );
    assert_eq!(read4(handles[0]), Ok((0, vec![])));
    assert_eq!(state_of(&fdo), started(2, DevicePowerState::D0));
    for handle in handles {
        close(handle);
    }
    drop(fdo);
    remove_and_check_gone(node);
}

#[test]
fn reads_racing_the_idle_power_down() {
    explore(RACING_SEEDS, idle_racing_io);
}

/// Disable and enable make a new FDO, which registers for idle detection
/// again (AddDevice, §2.4.2 step 7): the device powers down 60 s after its
/// new start, not when the old FDO's registration would have timed out —
/// also when a system sleep and wake came before the disable.
fn idle_after_enable(sleep_first: bool) {
    let node = add(Stack::Plain);
    ke_delay_execution_thread(Interval::relative_ms(1_001));
    if sleep_first {
        let slept = po::set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep);
        assert_eq!((slept, po::wake_system()), (Ok(()), Ok(())));
    }
    assert_eq!(pnp::disable_device(node), Ok(()));
    assert_eq!(pnp::enable_device(node), Ok(()));
    // The first registration was at 0 s; this one about 1 s later.
    ke_delay_execution_thread(Interval::relative_ms(59_500));
    assert_eq!(
        state(node),
        started(0, DevicePowerState::D0),
        "spec 02 §4.4: 59.5 s after the new start the device has not been idle 60 s \
         (sleep first: {sleep_first}); the SET_POWER(D3) came early, as if the old FDO's \
         idle registration were still counting"
    );
    ke_delay_execution_thread(Interval::relative_secs(1));
    assert_eq!(state(node), started(0, DevicePowerState::D3), "60 s after the new start");
    remove_and_check_gone(node);
}

#[test]
fn an_enabled_device_is_idle_60_seconds_after_its_new_start() {
    explore(SEEDS, || idle_after_enable(false));
    explore(SEEDS, || idle_after_enable(true));
}
