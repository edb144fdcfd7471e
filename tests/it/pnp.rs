//! The PnP manager seen from toy drivers (spec 02 §1.2–1.6, §2.1–2.3, §3;
//! spec 03 §4.3): driver selection, stack building, the exact IRP sequence
//! each driver of a stack sees for add/start, orderly removal, vetoes,
//! refusal with an open handle, disable/enable, rebalance, surprise removal,
//! start and AddDevice failures; START's resources; a toy bus whose
//! children come and go; state histories; the debugger text; the registry
//! values install writes; Device Manager calls on stale nodes.
//!
//! Every toy driver is the same code ([`toy_entry`]) loaded under different
//! service names; what a driver does differently (veto, fail, act as a bus,
//! register an interface) it reads from the scenario's [`Bench`] switches,
//! keyed `Service.what`. Each driver logs, in the bench log, every PnP and
//! power IRP it sees as `Service: MINOR`. The toy bus driver is the service
//! named [`BUS`]; its child PDOs log as `ToyBus/<child>: MINOR`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use crate::support::{Bench, Log};
use wdmsim::Machine;
use wdmsim::cm::{RegistryValue, query_value, service_key};
use wdmsim::ddk::*;
use wdmsim::io::device_path;
use wdmsim::pnp::{
    self, DeviceNode, DeviceNodeState, DriverPackage, PnpError, Problem, Service, VetoType,
};
use wdmsim::sync::Mutex;
use wdmsim::win32::{GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE, OPEN_EXISTING};
use wdmsim::win32::{Handle, close_handle, create_file};

// ---------------------------------------------------------------------------
// The toy drivers
// ---------------------------------------------------------------------------

/// The service name that acts as a bus driver.
pub(crate) const BUS: &str = "ToyBus";

/// The interface toy function drivers register (switch `Service.interface`).
pub(crate) const TOY_GUID: Guid =
    Guid::new(0x70790001, 0x0002, 0x0003, [0x80, 0x00, 0x00, 0xC0, 0xDF, 0xE4, 0xC1, 0xF3]);

/// A toy device's extension.
pub(crate) enum Toy {
    /// A function or filter driver's device (the bus FDO too).
    Layer(Layer),
    /// A child PDO of the toy bus.
    Child(Child),
}

/// A function or filter device.
pub(crate) struct Layer {
    pub(crate) driver: String,
    /// The device below (what IoAttachDeviceToDeviceStack returned).
    pub(crate) next: OnceLock<DeviceObject>,
    /// The enabled interface's link, if the driver registered one.
    pub(crate) link: Mutex<Option<String>>,
    /// The symbolic link to its name (switch `Service.named`).
    symlink: Mutex<Option<String>>,
    /// What each START carried.
    pub(crate) started_with: Mutex<Vec<StartResources>>,
    /// Device SET_POWER IRPs held without PoStartNextPowerIrp (switch
    /// `Service.hold_set_power`), until [`release_held_power_irp`].
    pub(crate) held: Mutex<Vec<Irp>>,
    bus: Option<Arc<Bus>>,
}

/// START's AllocatedResources and AllocatedResourcesTranslated.
pub(crate) type StartResources = (Option<Arc<CmResourceList>>, Option<Arc<CmResourceList>>);

/// The toy bus's view of its bus. The children physically present are
/// hardware, not driver state: they live in the bench (key [`PLUGGED`]),
/// so a bus FDO made again (enable after disable) finds them too.
pub(crate) struct Bus {
    /// The PDOs it made and has not deleted, with their "reported in the
    /// last BusRelations" flags.
    children: Mutex<Vec<(String, DeviceObject, Arc<AtomicBool>)>>,
}

/// The bench value holding the toy bus's plugged children.
const PLUGGED: &str = "ToyBus.plugged";

/// A child the toy bus can find.
#[derive(Clone, Debug)]
pub(crate) struct ChildSpec {
    pub(crate) name: &'static str,
    pub(crate) hardware_ids: Vec<String>,
    pub(crate) compatible_ids: Vec<String>,
}

impl ChildSpec {
    pub(crate) fn new(name: &'static str, hardware_ids: &[&str]) -> ChildSpec {
        ChildSpec {
            name,
            hardware_ids: hardware_ids.iter().map(|s| s.to_string()).collect(),
            compatible_ids: Vec::new(),
        }
    }

    pub(crate) fn compatible(mut self, ids: &[&str]) -> ChildSpec {
        self.compatible_ids = ids.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// A child PDO.
pub(crate) struct Child {
    /// `ToyBus/<name>`.
    label: String,
    spec: ChildSpec,
    reported: Arc<AtomicBool>,
    bus: Weak<Bus>,
}

pub(crate) fn layer(device: &DeviceObject) -> &Layer {
    match device.extension::<Toy>() {
        Toy::Layer(layer) => layer,
        Toy::Child(child) => panic!("{} is a child PDO, not a layer", child.label),
    }
}

pub(crate) fn log(line: String) {
    Bench::current().log.push(line);
}

/// DriverEntry of every toy driver.
pub(crate) fn toy_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    driver.driver_extension.add_device = Some(toy_add_device);
    driver.driver_unload = Some(toy_unload);
    driver.major_function[IRP_MJ_PNP as usize] = Some(toy_pnp);
    driver.major_function[IRP_MJ_POWER as usize] = Some(toy_power);
    for major in [IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE] {
        driver.major_function[major as usize] = Some(toy_file);
    }
    STATUS_SUCCESS
}

fn toy_unload(driver: &Driver) {
    log(format!("{}: Unload", driver.name()));
}

/// AddDevice: creates a layer device and attaches it. Switches:
/// `fail_add` (AddDevice fails with that status), `interface` (register
/// and enable [`TOY_GUID`] on the PDO), `named` (the device is named
/// `\Device\<Service>`, with the link `\??\<Service>`), `pageable`
/// (DO_POWER_PAGABLE; it is also inherited from the device below).
pub(crate) fn toy_add_device(driver: &Driver, pdo: &DeviceObject) -> NtStatus {
    let name = driver.name().to_string();
    let bench = Bench::current();
    if let Some(status) = bench.get(&format!("{name}.fail_add")) {
        log(format!("{name}: AddDevice fails"));
        return NtStatus(status);
    }
    log(format!("{name}: AddDevice"));
    let bus = (name == BUS).then(|| Arc::new(Bus { children: Mutex::new(Vec::new()) }));
    let extension = Toy::Layer(Layer {
        driver: name.clone(),
        next: OnceLock::new(),
        link: Mutex::new(None),
        symlink: Mutex::new(None),
        started_with: Mutex::new(Vec::new()),
        held: Mutex::new(Vec::new()),
        bus,
    });
    let named = bench.is_set(&format!("{name}.named")).then(|| format!("\\Device\\{name}"));
    let device = match io_create_device(
        driver,
        extension,
        named.as_deref(),
        FILE_DEVICE_UNKNOWN,
        0,
        false,
    ) {
        Ok(device) => device,
        Err(status) => return status,
    };
    if let Some(named) = &named {
        assert_eq!(io_create_symbolic_link(&format!("\\??\\{name}"), named), STATUS_SUCCESS);
        *layer(&device).symlink.lock() = Some(format!("\\??\\{name}"));
    }
    if bench.is_set(&format!("{name}.interface")) {
        let link = io_register_device_interface(pdo, &TOY_GUID, None).expect("interface");
        assert_eq!(io_set_device_interface_state(&link, true), STATUS_SUCCESS);
        *layer(&device).link.lock() = Some(link);
    }
    let next = io_attach_device_to_device_stack(&device, pdo).expect("attached");
    if next.flags() & DO_POWER_PAGABLE != 0 || bench.is_set(&format!("{name}.pageable")) {
        device.set_flags(DO_POWER_PAGABLE);
    }
    let _ = layer(&device).next.set(next);
    device.clear_flags(DO_DEVICE_INITIALIZING);
    STATUS_SUCCESS
}

/// `START_DEVICE`, `QUERY_ID(HardwareIds)`, ... from a PnP location.
pub(crate) fn pnp_text(minor: u8, parameters: &Parameters) -> String {
    let name = function_name(IRP_MJ_PNP, minor);
    let short = name.trim_start_matches("IRP_MJ_PNP:IRP_MN_");
    match parameters {
        Parameters::QueryDeviceRelations { relation_type } => format!("{short}({relation_type:?})"),
        Parameters::QueryId { id_type } => format!("{short}({id_type:?})"),
        _ => short.to_string(),
    }
}

/// `SET_POWER(D3)`, `QUERY_POWER(S3)`, `POWER_SEQUENCE` ...
pub(crate) fn power_text(minor: u8, parameters: &Parameters) -> String {
    let name = function_name(IRP_MJ_POWER, minor);
    let short = name.trim_start_matches("IRP_MJ_POWER:IRP_MN_");
    match parameters {
        Parameters::Power { state, .. } => format!("{short}({state})"),
        _ => short.to_string(),
    }
}

pub(crate) fn complete(mut irp: Irp, status: NtStatus) -> NtStatus {
    irp.io_status_mut().status = status;
    io_complete_request(irp, IO_NO_INCREMENT);
    status
}

pub(crate) fn pass_down(next: &DeviceObject, mut irp: Irp) -> NtStatus {
    io_skip_current_irp_stack_location(&mut irp);
    io_call_driver(next, irp)
}

/// What the completion routine of [`forward_and_wait`] hands back.
struct Reclaim {
    done: Event,
    irp: Mutex<Option<Irp>>,
}

fn reclaim(_: Option<&DeviceObject>, irp: Irp, context: &CompletionContext) -> Completion {
    let back = context.as_deref().and_then(|c| c.downcast_ref::<Reclaim>()).expect("Reclaim");
    *back.irp.lock() = Some(irp);
    ke_set_event(&back.done, 0, false);
    Completion::MoreProcessingRequired
}

/// ForwardIrpAndWait (book l.5486–5541): the IRP back, owned again.
pub(crate) fn forward_and_wait(next: &DeviceObject, mut irp: Irp) -> Irp {
    let back = Arc::new(Reclaim {
        done: Event::new(EventType::NotificationEvent, false),
        irp: Mutex::new(None),
    });
    io_copy_current_irp_stack_location_to_next(&mut irp);
    io_set_completion_routine(&mut irp, reclaim, Some(back.clone()), true, true, true);
    if io_call_driver(next, irp) == STATUS_PENDING {
        ke_wait_for_single_object(&back.done, None);
    }
    let irp = back.irp.lock().take();
    irp.expect("the completion routine kept the IRP")
}

pub(crate) fn toy_pnp(device: &DeviceObject, irp: Irp) -> NtStatus {
    match device.extension::<Toy>() {
        Toy::Layer(layer) => layer_pnp(device, layer, irp),
        Toy::Child(child) => child_pnp(device, child, irp),
    }
}

/// A function or filter driver's PnP dispatch. Switches: `fail_start`
/// (START fails with that status after the lower drivers started),
/// `veto_query_remove`, `veto_query_stop` (fail the query with
/// STATUS_UNSUCCESSFUL, not passed down), `report_failed` (QUERY_PNP_DEVICE
/// _STATE answers PNP_DEVICE_FAILED), `drop_interrupt` (FILTER_RESOURCE_
/// REQUIREMENTS takes the interrupt out of the requirements).
fn layer_pnp(device: &DeviceObject, me: &Layer, mut irp: Irp) -> NtStatus {
    let location = irp.current_stack_location();
    let (minor, parameters) = (location.minor_function, location.parameters.clone());
    log(format!("{}: {}", me.driver, pnp_text(minor, &parameters)));
    let bench = Bench::current();
    let switch = |what: &str| bench.get(&format!("{}.{what}", me.driver));
    let next = me.next.get().cloned().expect("attached");
    match minor {
        IRP_MN_START_DEVICE => {
            if let Parameters::StartDevice { allocated_resources, allocated_resources_translated } =
                parameters
            {
                me.started_with.lock().push((allocated_resources, allocated_resources_translated));
            }
            let irp = forward_and_wait(&next, irp);
            let status = match switch("fail_start") {
                Some(status) if irp.io_status().status.is_success() => NtStatus(status),
                _ => irp.io_status().status,
            };
            complete(irp, status)
        }
        IRP_MN_QUERY_REMOVE_DEVICE if switch("veto_query_remove").is_some() => {
            complete(irp, STATUS_UNSUCCESSFUL)
        }
        IRP_MN_QUERY_STOP_DEVICE if switch("veto_query_stop").is_some() => {
            complete(irp, STATUS_UNSUCCESSFUL)
        }
        IRP_MN_REMOVE_DEVICE => {
            irp.io_status_mut().status = STATUS_SUCCESS;
            let status = pass_down(&next, irp);
            if let Some(link) = me.link.lock().take() {
                io_set_device_interface_state(&link, false);
            }
            if let Some(link) = me.symlink.lock().take() {
                io_delete_symbolic_link(&link);
            }
            io_detach_device(&next);
            io_delete_device(device);
            if let Some(bus) = &me.bus {
                let children = std::mem::take(&mut *bus.children.lock());
                for (_, pdo, _) in children {
                    io_delete_device(&pdo);
                }
            }
            status
        }
        IRP_MN_QUERY_REMOVE_DEVICE
        | IRP_MN_CANCEL_REMOVE_DEVICE
        | IRP_MN_STOP_DEVICE
        | IRP_MN_QUERY_STOP_DEVICE
        | IRP_MN_CANCEL_STOP_DEVICE
        | IRP_MN_SURPRISE_REMOVAL => {
            irp.io_status_mut().status = STATUS_SUCCESS;
            pass_down(&next, irp)
        }
        IRP_MN_FILTER_RESOURCE_REQUIREMENTS if switch("drop_interrupt").is_some() => {
            if let Some(PnpInformation::Requirements(mut requirements)) =
                irp.pnp_information().cloned()
            {
                requirements
                    .descriptors
                    .retain(|d| !matches!(d.resource, PartialResource::Interrupt { .. }));
                irp.set_pnp_information(Some(PnpInformation::Requirements(requirements)));
                irp.io_status_mut().status = STATUS_SUCCESS;
            }
            pass_down(&next, irp)
        }
        IRP_MN_QUERY_PNP_DEVICE_STATE if switch("report_failed").is_some() => {
            irp.io_status_mut().status = STATUS_SUCCESS;
            irp.io_status_mut().information |= PNP_DEVICE_FAILED;
            pass_down(&next, irp)
        }
        IRP_MN_QUERY_DEVICE_RELATIONS
            if me.bus.is_some()
                && parameters
                    == (Parameters::QueryDeviceRelations {
                        relation_type: DeviceRelationType::BusRelations,
                    }) =>
        {
            let bus = me.bus.clone().expect("a bus");
            let reported = enumerate(device, &bus);
            irp.set_pnp_information(Some(PnpInformation::Relations(reported)));
            irp.io_status_mut().status = STATUS_SUCCESS;
            pass_down(&next, irp)
        }
        _ => pass_down(&next, irp),
    }
}

/// The bus FDO's enumeration: a PDO for every newly plugged child, the
/// "reported" flag of each child updated, and the children present.
fn enumerate(fdo: &DeviceObject, bus: &Arc<Bus>) -> Vec<DeviceObject> {
    let plugged: Vec<ChildSpec> = Bench::current().value(PLUGGED).unwrap_or_default();
    let mut children = bus.children.lock();
    for spec in &plugged {
        if children.iter().any(|(name, ..)| name == spec.name) {
            continue;
        }
        let reported = Arc::new(AtomicBool::new(true));
        let child = Toy::Child(Child {
            label: format!("{BUS}/{}", spec.name),
            spec: spec.clone(),
            reported: reported.clone(),
            bus: Arc::downgrade(bus),
        });
        let pdo = io_create_device(
            fdo.driver_object(),
            child,
            None,
            FILE_DEVICE_UNKNOWN,
            FILE_AUTOGENERATED_DEVICE_NAME,
            false,
        )
        .expect("child PDO");
        if Bench::current().is_set(&format!("{BUS}.pageable_children")) {
            pdo.set_flags(DO_POWER_PAGABLE);
        }
        pdo.clear_flags(DO_DEVICE_INITIALIZING);
        children.push((spec.name.to_string(), pdo, reported));
    }
    let mut present = Vec::new();
    for (name, pdo, reported) in children.iter() {
        let here = plugged.iter().any(|spec| spec.name == name.as_str());
        reported.store(here, Ordering::SeqCst);
        if here {
            present.push(pdo.clone());
        }
    }
    present
}

/// A child PDO completes every PnP IRP; a minor it does not handle keeps
/// its status (book l.6266). At REMOVE it deletes itself once its bus
/// stopped reporting it.
fn child_pnp(pdo: &DeviceObject, me: &Child, mut irp: Irp) -> NtStatus {
    let location = irp.current_stack_location();
    let (minor, parameters) = (location.minor_function, location.parameters.clone());
    log(format!("{}: {}", me.label, pnp_text(minor, &parameters)));
    let unchanged = irp.io_status().status;
    let status = match (minor, &parameters) {
        (
            IRP_MN_START_DEVICE
            | IRP_MN_QUERY_REMOVE_DEVICE
            | IRP_MN_REMOVE_DEVICE
            | IRP_MN_CANCEL_REMOVE_DEVICE
            | IRP_MN_STOP_DEVICE
            | IRP_MN_QUERY_STOP_DEVICE
            | IRP_MN_CANCEL_STOP_DEVICE
            | IRP_MN_SURPRISE_REMOVAL
            | IRP_MN_QUERY_CAPABILITIES,
            _,
        ) => STATUS_SUCCESS,
        (IRP_MN_QUERY_ID, Parameters::QueryId { id_type }) => {
            let answer = match id_type {
                BusQueryIdType::DeviceId => {
                    Some(PnpInformation::Id(format!("TOYBUS\\{}", me.spec.name)))
                }
                BusQueryIdType::InstanceId => Some(PnpInformation::Id("1".to_string())),
                BusQueryIdType::HardwareIds => {
                    Some(PnpInformation::Ids(me.spec.hardware_ids.clone()))
                }
                BusQueryIdType::CompatibleIds if !me.spec.compatible_ids.is_empty() => {
                    Some(PnpInformation::Ids(me.spec.compatible_ids.clone()))
                }
                BusQueryIdType::CompatibleIds => None,
            };
            match answer {
                Some(answer) => {
                    irp.set_pnp_information(Some(answer));
                    STATUS_SUCCESS
                }
                None => unchanged,
            }
        }
        (IRP_MN_QUERY_DEVICE_TEXT, _) => {
            irp.set_pnp_information(Some(PnpInformation::Text(format!("Toy {}", me.spec.name))));
            STATUS_SUCCESS
        }
        (
            IRP_MN_QUERY_DEVICE_RELATIONS,
            Parameters::QueryDeviceRelations {
                relation_type: DeviceRelationType::TargetDeviceRelation,
            },
        ) => {
            irp.set_pnp_information(Some(PnpInformation::Relations(vec![pdo.clone()])));
            STATUS_SUCCESS
        }
        _ => unchanged,
    };
    let status = complete(irp, status);
    if minor == IRP_MN_REMOVE_DEVICE && !me.reported.load(Ordering::SeqCst) {
        if let Some(bus) = me.bus.upgrade() {
            bus.children.lock().retain(|(_, d, _)| d != pdo);
        }
        io_delete_device(pdo);
    }
    status
}

pub(crate) fn toy_power(device: &DeviceObject, irp: Irp) -> NtStatus {
    match device.extension::<Toy>() {
        Toy::Layer(layer) => layer_power(device, layer, irp),
        Toy::Child(child) => {
            let location = irp.current_stack_location();
            let (minor, parameters) = (location.minor_function, location.parameters.clone());
            log(format!("{}: {}", child.label, power_text(minor, &parameters)));
            po_start_next_power_irp(&irp);
            let status = match minor {
                IRP_MN_SET_POWER | IRP_MN_QUERY_POWER => STATUS_SUCCESS,
                _ => irp.io_status().status,
            };
            complete(irp, status)
        }
    }
}

/// A layer's power dispatch: logs, records a device SET_POWER with
/// PoSetPowerState, passes the IRP down (PoStartNextPowerIrp, skip,
/// PoCallDriver). Switches: `log_irql` (log the IRQL it runs at),
/// `fail_query_power` (QUERY_POWER fails with STATUS_UNSUCCESSFUL),
/// `hold_set_power` (a device SET_POWER is marked pending and kept, without
/// PoStartNextPowerIrp, until [`release_held_power_irp`]), `copy_power`
/// (pass down with IoCopyCurrentIrpStackLocationToNext instead of
/// IoSkipCurrentIrpStackLocation).
fn layer_power(device: &DeviceObject, me: &Layer, mut irp: Irp) -> NtStatus {
    let location = irp.current_stack_location();
    let (minor, parameters) = (location.minor_function, location.parameters.clone());
    let text = power_text(minor, &parameters);
    let bench = Bench::current();
    let switch = |what: &str| bench.is_set(&format!("{}.{what}", me.driver));
    if switch("log_irql") {
        log(format!("{}: {text} at IRQL {}", me.driver, ke_get_current_irql().0));
    } else {
        log(format!("{}: {text}", me.driver));
    }
    let device_set = matches!(parameters, Parameters::Power { state: PowerState::Device(_), .. })
        && { minor == IRP_MN_SET_POWER };
    if minor == IRP_MN_QUERY_POWER && switch("fail_query_power") {
        po_start_next_power_irp(&irp);
        return complete(irp, STATUS_UNSUCCESSFUL);
    }
    if device_set {
        if let Parameters::Power { state, .. } = parameters {
            po_set_power_state(device, state);
        }
        if switch("hold_set_power") {
            io_mark_irp_pending(&mut irp);
            me.held.lock().push(irp);
            return STATUS_PENDING;
        }
    }
    po_start_next_power_irp(&irp);
    if switch("copy_power") {
        io_copy_current_irp_stack_location_to_next(&mut irp);
    } else {
        io_skip_current_irp_stack_location(&mut irp);
    }
    po_call_driver(me.next.get().expect("attached"), irp)
}

/// Lets a layer that holds a device SET_POWER go on with it: it calls
/// PoStartNextPowerIrp and passes the IRP down (from the calling thread).
/// `false` if it held none.
pub(crate) fn release_held_power_irp(device: &DeviceObject) -> bool {
    let me = layer(device);
    let held = me.held.lock().pop();
    let Some(mut irp) = held else { return false };
    log(format!("{}: releases {}", me.driver, irp.number()));
    po_start_next_power_irp(&irp);
    // Copy, not skip: this location is marked pending, and the driver below
    // must get a location of its own without that mark.
    io_copy_current_irp_stack_location_to_next(&mut irp);
    po_call_driver(me.next.get().expect("attached"), irp);
    true
}

/// CREATE, CLEANUP, CLOSE: passed down; a child PDO succeeds them.
fn toy_file(device: &DeviceObject, irp: Irp) -> NtStatus {
    match device.extension::<Toy>() {
        Toy::Layer(layer) => pass_down(layer.next.get().expect("attached"), irp),
        Toy::Child(_) => complete(irp, STATUS_SUCCESS),
    }
}

// ---------------------------------------------------------------------------
// Helpers for the scenarios
// ---------------------------------------------------------------------------

pub(crate) fn service(name: &'static str) -> Service {
    Service::new(name, toy_entry)
}

/// A package binding `hardware_id` to the toy function driver `name`.
pub(crate) fn package(hardware_id: &str, name: &'static str) -> DriverPackage {
    DriverPackage::new(hardware_id, service(name))
}

/// Waits until the PnP manager has finished every action queued so far (an
/// action on no node runs after them, on the same worker, and fails).
pub(crate) fn settle() {
    let nowhere = DeviceNode::from_parts(u32::MAX, u32::MAX);
    assert_eq!(pnp::enable_device(nowhere), Err(PnpError::NoSuchDevNode));
}

/// The devices of `node`'s stack, bottom-up (the PDO first).
pub(crate) fn stack_of(node: DeviceNode) -> Vec<DeviceObject> {
    let mut stack = vec![pnp::pdo(node).expect("a PDO")];
    while let Some(above) = stack.last().and_then(DeviceObject::attached_device) {
        stack.push(above);
    }
    stack
}

/// The top of `node`'s stack.
pub(crate) fn top_of(node: DeviceNode) -> DeviceObject {
    stack_of(node).pop().expect("a stack")
}

/// The log lines of `who` (`Service` or `ToyBus/child`), without the name.
pub(crate) fn lines_of(log: &Log, who: &str) -> Vec<String> {
    let prefix = format!("{who}: ");
    log.lines().iter().filter_map(|l| l.strip_prefix(&prefix)).map(String::from).collect()
}

/// Opens `node`'s toy interface.
pub(crate) fn open(node: DeviceNode) -> Handle {
    let links = io_get_device_interfaces(&TOY_GUID);
    let instance = pnp::instance_id(node).expect("a node").replace('\\', "#");
    let link = links.iter().find(|l| l.contains(&instance)).expect("an enabled toy interface");
    let handle = create_file(&device_path(link), GENERIC_READ | GENERIC_WRITE, 0, OPEN_EXISTING, 0);
    assert_ne!(handle, INVALID_HANDLE_VALUE, "CreateFile {link}");
    handle
}

/// Tells the toy bus of `bus` which children are plugged in, and calls
/// IoInvalidateDeviceRelations as its worker thread would.
pub(crate) fn plug(bus: DeviceNode, children: &[ChildSpec]) {
    Bench::current().put(PLUGGED, children.to_vec());
    io_invalidate_device_relations(
        &pnp::pdo(bus).expect("a PDO"),
        DeviceRelationType::BusRelations,
    );
}

fn states(node: DeviceNode) -> Vec<DeviceNodeState> {
    pnp::history(node).iter().map(|c| c.state).collect()
}

pub(crate) fn lines(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `list` seen by each driver of `drivers`, top-down per IRP.
fn each(drivers: &[&str], list: &[&str]) -> Vec<String> {
    list.iter().flat_map(|what| drivers.iter().map(move |d| format!("{d}: {what}"))).collect()
}

/// What every driver of a new stack sees after AddDevice (spec 02 §2.3.1).
const START_SEQUENCE: [&str; 6] = [
    "QUERY_LEGACY_BUS_INFORMATION",
    "FILTER_RESOURCE_REQUIREMENTS",
    "START_DEVICE",
    "QUERY_CAPABILITIES",
    "QUERY_PNP_DEVICE_STATE",
    "QUERY_DEVICE_RELATIONS(BusRelations)",
];

const HW: &str = "*toy\\dev";

/// Installs Fn with a lower filter Lo and an upper filter Up for [`HW`],
/// Fn registering the toy interface.
fn install_filtered_stack(bench: &Bench) {
    bench.set("Fn.interface", 1);
    pnp::install(package(HW, "Fn").lower_filter(service("Lo")).upper_filter(service("Up")));
}

const STACK: [&str; 3] = ["Up", "Fn", "Lo"];

fn add_lines() -> Vec<String> {
    lines(&["Lo: AddDevice", "Fn: AddDevice", "Up: AddDevice"])
}

const STARTED_HISTORY: [DeviceNodeState; 5] = [
    DeviceNodeState::Uninitialized,
    DeviceNodeState::Initialized,
    DeviceNodeState::DriversAdded,
    DeviceNodeState::ResourcesAssigned,
    DeviceNodeState::Started,
];

// ---------------------------------------------------------------------------
// Driver selection (spec 03 §4.3)
// ---------------------------------------------------------------------------

/// A hardware-id match beats a compatible-id match even when the other
/// package is newer and installed first; between equal ranks the newer
/// DriverVer wins, then the package installed first; ids compare
/// case-insensitively (spec 03 §4.3).
#[test]
fn the_best_rank_then_the_newest_driver_ver_then_the_first_installed_package_drives_a_device() {
    let run = Machine::sim().run(|| {
        Bench::install();
        pnp::install(package("*other", "ByCompat").compatible_id(HW).driver_date(2001, 1, 1));
        pnp::install(package(HW, "Old").driver_date(1999, 12, 31));
        pnp::install(package(HW, "New").driver_date(2000, 6, 1));
        pnp::install(package(HW, "SameDateLater").driver_date(2000, 6, 1));
        pnp::install(package("*toy\\second", "Second").compatible_id("*TOY\\SECOND"));
        let picked = |id: &str| {
            let node = pnp::add_root_device(id).expect("started");
            pnp::function_driver(node).map(|d| d.name().to_string())
        };
        (picked(HW), picked("*TOY\\DEV"), picked("*toy\\SECOND"))
    });
    assert_eq!(
        run.value(),
        (Some("New".to_string()), Some("New".to_string()), Some("Second".to_string()))
    );
}

/// A bus child's ids: its second hardware id beats any compatible-id match;
/// with no hardware-id match, a package naming the device's compatible id
/// as its hardware id (rank 0x2000+i) beats one naming it only among its
/// compatible ids (0x3000+...) (spec 03 §4.3).
#[test]
fn a_bus_child_is_matched_by_hardware_id_then_by_compatible_id() {
    let run = Machine::sim().run(|| {
        Bench::install();
        pnp::install(package("*toy\\bus", BUS));
        pnp::install(package("TOYCLASS\\WIDGETS", "ClassFn"));
        pnp::install(package("*unrelated", "LooseFn").compatible_id("TOYCLASS\\WIDGETS"));
        pnp::install(package("TOYBUS\\WIDGET", "ExactFn"));
        let bus = pnp::add_root_device("*toy\\bus").expect("bus started");
        plug(
            bus,
            &[
                ChildSpec::new("A", &["TOYBUS\\WIDGET&REV_2", "TOYBUS\\WIDGET"])
                    .compatible(&["TOYCLASS\\WIDGETS"]),
                ChildSpec::new("B", &["TOYBUS\\GADGET"]).compatible(&["TOYCLASS\\WIDGETS"]),
                ChildSpec::new("C", &["TOYBUS\\GIZMO"]).compatible(&["TOYCLASS\\OTHER"]),
            ],
        );
        settle();
        pnp::children(bus)
            .into_iter()
            .map(|c| {
                (
                    pnp::instance_id(c).expect("a node"),
                    pnp::function_driver(c).map(|d| d.name().to_string()),
                    pnp::problem(c),
                )
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(
        run.value(),
        [
            ("TOYBUS\\A\\1".to_string(), Some("ExactFn".to_string()), None),
            ("TOYBUS\\B\\1".to_string(), Some("ClassFn".to_string()), None),
            ("TOYBUS\\C\\1".to_string(), None, Some(Problem::NoDriver)),
        ]
    );
}

/// A device no installed package matches gets CM_PROB_FAILED_INSTALL (28):
/// its ids were queried, no driver was loaded, and the node stays.
#[test]
fn a_device_no_package_matches_has_problem_no_driver() {
    let run = Machine::sim().run(|| {
        Bench::install();
        pnp::install(package(HW, "Fn"));
        let outcome = pnp::add_root_device("*toy\\nobody");
        let node = pnp::children(root_node()).last().copied().expect("the node stays");
        (outcome, pnp::problem(node), states(node), pnp::function_driver(node).is_none())
    });
    let (outcome, problem, history, no_driver) = run.value();
    assert_eq!(outcome, Err(PnpError::Failed(Problem::NoDriver)));
    assert_eq!(problem.map(Problem::code), Some(28));
    assert_eq!(
        history,
        [DeviceNodeState::Uninitialized, DeviceNodeState::Initialized, DeviceNodeState::Removed]
    );
    assert!(no_driver);
}

/// The tree's root node, `HTREE\\ROOT\\0`: the first node the PnP manager
/// made (slot 0, generation 0).
pub(crate) fn root_node() -> DeviceNode {
    let root = DeviceNode::from_parts(0, 0);
    assert_eq!(pnp::instance_id(root).as_deref(), Some("HTREE\\ROOT\\0"));
    root
}

// ---------------------------------------------------------------------------
// Stacks (spec 02 §1.2–1.3)
// ---------------------------------------------------------------------------

/// AddDevice runs bottom-up in install order: lower filters (registry
/// order), the function driver, upper filters; each device attaches on the
/// current top, so the stack from the PDO up is PnpManager, Lo1, Lo2, Fn,
/// Up1, Up2 with StackSize 1..6 (spec 02 §1.2, §1.3).
#[test]
fn filters_stack_bottom_up_around_the_function_driver_in_install_order() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(
            package(HW, "Fn")
                .lower_filter(service("Lo1"))
                .lower_filter(service("Lo2"))
                .upper_filter(service("Up1"))
                .upper_filter(service("Up2")),
        );
        let node = pnp::add_root_device(HW).expect("started");
        let stack: Vec<(String, u8)> = stack_of(node)
            .iter()
            .map(|d| (d.driver_object().name().to_string(), d.stack_size()))
            .collect();
        let adds: Vec<String> =
            bench.log.lines().into_iter().filter(|l| l.ends_with("AddDevice")).collect();
        (stack, adds, pnp::function_driver(node).map(|d| d.name().to_string()))
    });
    let (stack, adds, function) = run.value();
    let names = ["PnpManager", "Lo1", "Lo2", "Fn", "Up1", "Up2"];
    let expected: Vec<(String, u8)> =
        names.iter().zip(1u8..).map(|(n, size)| (n.to_string(), size)).collect();
    assert_eq!(stack, expected);
    assert_eq!(
        adds,
        lines(&[
            "Lo1: AddDevice",
            "Lo2: AddDevice",
            "Fn: AddDevice",
            "Up1: AddDevice",
            "Up2: AddDevice"
        ])
    );
    assert_eq!(function.as_deref(), Some("Fn"));
}

/// PDO ← lower filter ← FDO ← upper filter: StackSize 1, 2, 3, 4 (spec 02
/// §1.3), and each layer's NextStackDevice is the device right below it.
#[test]
fn a_pdo_lower_filter_fdo_upper_filter_stack_has_stack_sizes_1_to_4() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        install_filtered_stack(&bench);
        let node = pnp::add_root_device(HW).expect("started");
        let stack = stack_of(node);
        let sizes: Vec<u8> = stack.iter().map(DeviceObject::stack_size).collect();
        let nexts_ok = stack.windows(2).all(|w| {
            layer(&w[1]).next.get() == Some(&w[0]) && w[1].lower_device() == Some(w[0].clone())
        });
        (sizes, nexts_ok)
    });
    assert_eq!(run.value(), (vec![1, 2, 3, 4], true));
}

// ---------------------------------------------------------------------------
// Add and start (spec 02 §2.3.1)
// ---------------------------------------------------------------------------

/// What a filtered stack sees when the device is added: AddDevice bottom-up,
/// then each PnP IRP top-down through Up, Fn, Lo: QUERY_LEGACY_BUS_
/// INFORMATION, FILTER_RESOURCE_REQUIREMENTS, START_DEVICE, the second
/// QUERY_CAPABILITIES, QUERY_PNP_DEVICE_STATE, BusRelations (spec 02
/// §2.3.1); the node's history is Uninitialized → Initialized →
/// DriversAdded → ResourcesAssigned → Started (0x301…0x308).
fn add_and_start_scenario() {
    let bench = Bench::install();
    install_filtered_stack(&bench);
    let node = pnp::add_root_device(HW).expect("started");
    let mut expected = add_lines();
    expected.extend(each(&STACK, &START_SEQUENCE));
    assert_eq!(bench.log.lines(), expected);
    assert_eq!(pnp::state(node), Some(DeviceNodeState::Started));
    assert_eq!(pnp::problem(node), None);
    assert_eq!(pnp::instance_id(node).as_deref(), Some("Root\\UNKNOWN\\0000"));
    assert_eq!(states(node), STARTED_HISTORY);
    let values: Vec<u32> = states(node).iter().map(|s| s.value()).collect();
    assert_eq!(values, [0x301, 0x302, 0x303, 0x304, 0x308]);
    // The second QUERY_CAPABILITIES' answer: the root bus's (Table 10.4,
    // W2000 β2: D3 for S1–S3, nothing said for S0, S4, S5).
    let capabilities = pnp::capabilities(node).expect("queried");
    let per_state: Vec<DevicePowerState> =
        SystemPowerState::ALL[1..].iter().map(|s| capabilities.device_state_for(*s)).collect();
    use DevicePowerState::{D3, Unspecified};
    assert_eq!(per_state, [Unspecified, D3, D3, D3, Unspecified, Unspecified]);
}

#[test]
fn adding_a_device_sends_the_start_sequence_through_the_whole_stack() {
    Machine::sim().run(add_and_start_scenario).value();
}

#[test]
fn adding_a_device_sends_the_start_sequence_under_many_seeds() {
    for processors in [2, 4] {
        Machine::sim().processors(processors).explore(0..20, add_and_start_scenario).assert_ok();
    }
}

// ---------------------------------------------------------------------------
// Removal (spec 02 §2.3.2)
// ---------------------------------------------------------------------------

/// Orderly removal: QUERY_REMOVE then REMOVE through Up, Fn, Lo; the node
/// leaves the tree, the root PDO deletes itself (its device is gone), and
/// each driver unloads with its last device (spec 02 §2.3.2, §1.4).
fn orderly_removal_scenario() {
    let bench = Bench::install();
    install_filtered_stack(&bench);
    let node = pnp::add_root_device(HW).expect("started");
    let stack = stack_of(node);
    let drivers: Vec<Driver> = stack.iter().map(|d| d.driver_object().clone()).collect();
    let before = bench.log.lines().len();
    assert_eq!(pnp::remove_device(node), Ok(()));
    let mut expected = each(&STACK, &["QUERY_REMOVE_DEVICE", "REMOVE_DEVICE"]);
    expected.extend(lines(&["Lo: Unload", "Fn: Unload", "Up: Unload"]));
    assert_eq!(bench.log.lines()[before..], expected);
    assert_eq!(pnp::state(node), None, "the node is deleted");
    assert!(stack.iter().all(DeviceObject::is_deleted), "every device of the stack is deleted");
    assert!(drivers[1..].iter().all(Driver::is_unloaded), "the toy drivers unloaded");
    assert!(io_get_device_interfaces(&TOY_GUID).is_empty(), "the interface is disabled");
}

#[test]
fn orderly_removal_sends_query_remove_then_remove_and_deletes_the_node() {
    Machine::sim().run(orderly_removal_scenario).value();
}

#[test]
fn orderly_removal_under_many_seeds() {
    for processors in [2, 4] {
        Machine::sim().processors(processors).explore(0..20, orderly_removal_scenario).assert_ok();
    }
}

/// Fn fails QUERY_REMOVE (and does not pass it down, so Lo never sees it):
/// the whole stack, the vetoer included, gets CANCEL_REMOVE; the call fails
/// with CR_REMOVE_VETOED / PNP_VetoDevice naming the device; the device
/// stays started and its node never left Started (spec 02 §2.3.2, l.4866).
fn veto_scenario() {
    let bench = Bench::install();
    install_filtered_stack(&bench);
    bench.set("Fn.veto_query_remove", 1);
    let node = pnp::add_root_device(HW).expect("started");
    let before = bench.log.lines().len();
    assert_eq!(
        pnp::remove_device(node),
        Err(PnpError::Vetoed { veto: VetoType::Device, name: "Root\\UNKNOWN\\0000".into() })
    );
    let mut expected = lines(&["Up: QUERY_REMOVE_DEVICE", "Fn: QUERY_REMOVE_DEVICE"]);
    expected.extend(each(&STACK, &["CANCEL_REMOVE_DEVICE"]));
    assert_eq!(bench.log.lines()[before..], expected);
    assert_eq!(pnp::state(node), Some(DeviceNodeState::Started));
    assert!(stack_of(node).iter().all(|d| !d.is_deleted()));
}

#[test]
fn a_vetoed_query_remove_cancels_the_removal_on_the_whole_stack() {
    Machine::sim().run(veto_scenario).value();
}

/// The node whose driver vetoed QUERY_REMOVE never left Started: its
/// history (`!devnode`'s StateHistory) must not gain a Started → Started
/// entry (spec 02 §2.3.2: "The device stays started").
#[test]
fn a_vetoed_query_remove_leaves_no_trace_in_the_state_history() {
    let history = Machine::sim()
        .run(|| {
            let bench = Bench::install();
            install_filtered_stack(&bench);
            bench.set("Fn.veto_query_remove", 1);
            let node = pnp::add_root_device(HW).expect("started");
            assert!(pnp::remove_device(node).is_err());
            states(node)
        })
        .value();
    assert_eq!(
        history, STARTED_HISTORY,
        "a node whose QUERY_REMOVE was vetoed never changed state, yet cancel_remove recorded a \
         second Started entry"
    );
}

#[test]
fn a_vetoed_query_remove_under_many_seeds() {
    for processors in [2, 4] {
        Machine::sim().processors(processors).explore(0..20, veto_scenario).assert_ok();
    }
}

/// With a handle open, every driver agrees to QUERY_REMOVE but Windows 2000
/// refuses anyway: CANCEL_REMOVE to the stack, PNP_VetoOutstandingOpen; after
/// CloseHandle the same removal succeeds (spec 02 §2.3.2, l.5944).
fn open_handle_scenario() {
    let bench = Bench::install();
    install_filtered_stack(&bench);
    let node = pnp::add_root_device(HW).expect("started");
    let handle = open(node);
    let before = bench.log.lines().len();
    assert_eq!(
        pnp::remove_device(node),
        Err(PnpError::Vetoed {
            veto: VetoType::OutstandingOpen,
            name: "Root\\UNKNOWN\\0000".into()
        })
    );
    assert_eq!(
        bench.log.lines()[before..],
        each(&STACK, &["QUERY_REMOVE_DEVICE", "CANCEL_REMOVE_DEVICE"])
    );
    assert_eq!(pnp::state(node), Some(DeviceNodeState::Started));
    let mut history = STARTED_HISTORY.to_vec();
    history.extend([DeviceNodeState::QueryRemoved, DeviceNodeState::Started]);
    assert_eq!(states(node), history);
    assert!(close_handle(handle));
    let before = bench.log.lines().len();
    assert_eq!(pnp::remove_device(node), Ok(()));
    let removal: Vec<String> =
        bench.log.lines()[before..].iter().filter(|l| !l.ends_with("Unload")).cloned().collect();
    assert_eq!(removal, each(&STACK, &["QUERY_REMOVE_DEVICE", "REMOVE_DEVICE"]));
    assert_eq!(pnp::state(node), None);
}

#[test]
fn removal_is_refused_while_a_handle_is_open_and_succeeds_after_close_handle() {
    Machine::sim().run(open_handle_scenario).value();
}

#[test]
fn removal_with_an_open_handle_under_many_seeds() {
    for processors in [2, 4] {
        Machine::sim().processors(processors).explore(0..20, open_handle_scenario).assert_ok();
    }
}

// ---------------------------------------------------------------------------
// Disable and enable
// ---------------------------------------------------------------------------

/// Disable is a removal that keeps the node (CM_PROB_DISABLED, 22) and the
/// PDO; enable runs AddDevice and the start sequence again. Disabling a
/// disabled device and enabling a started one are CR_INVALID_DEVNODE.
#[test]
fn disable_removes_the_stack_but_keeps_the_node_and_enable_starts_it_again() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        install_filtered_stack(&bench);
        let node = pnp::add_root_device(HW).expect("started");
        let pdo = pnp::pdo(node).expect("a PDO");
        assert_eq!(pnp::enable_device(node), Err(PnpError::InvalidState(DeviceNodeState::Started)));
        let before = bench.log.lines().len();
        assert_eq!(pnp::disable_device(node), Ok(()));
        let mut expected = each(&STACK, &["QUERY_REMOVE_DEVICE", "REMOVE_DEVICE"]);
        expected.extend(lines(&["Lo: Unload", "Fn: Unload", "Up: Unload"]));
        assert_eq!(bench.log.lines()[before..], expected);
        assert_eq!(pnp::state(node), Some(DeviceNodeState::Removed));
        assert_eq!(pnp::problem(node), Some(Problem::Disabled));
        assert_eq!(Problem::Disabled.code(), 22);
        assert!(!pdo.is_deleted(), "a disabled device's PDO stays");
        assert_eq!(pdo.attached_device(), None, "with nothing attached");
        assert_eq!(
            pnp::disable_device(node),
            Err(PnpError::InvalidState(DeviceNodeState::Removed))
        );
        let before = bench.log.lines().len();
        assert_eq!(pnp::enable_device(node), Ok(()));
        let mut expected = add_lines();
        expected.extend(each(&STACK, &START_SEQUENCE));
        assert_eq!(bench.log.lines()[before..], expected);
        assert_eq!(pnp::problem(node), None);
        let mut history = STARTED_HISTORY.to_vec();
        history.extend([
            DeviceNodeState::QueryRemoved,
            DeviceNodeState::Removed,
            DeviceNodeState::DriversAdded,
            DeviceNodeState::ResourcesAssigned,
            DeviceNodeState::Started,
        ]);
        assert_eq!(states(node), history);
        assert_eq!(pnp::pdo(node), Some(pdo));
    });
    run.value();
}

// ---------------------------------------------------------------------------
// Rebalance (spec 02 §2.3.3)
// ---------------------------------------------------------------------------

/// A rebalance: QUERY_STOP and STOP through the stack, then the device is
/// started again with its (re)assigned resources; history QueryStopped,
/// Stopped, ResourcesAssigned, Started (spec 02 §2.3.3).
fn rebalance_scenario() {
    let bench = Bench::install();
    install_filtered_stack(&bench);
    let node = pnp::add_root_device(HW).expect("started");
    let before = bench.log.lines().len();
    assert_eq!(pnp::stop_device(node), Ok(()));
    let seen = bench.log.lines()[before..].to_vec();
    let mut expected = each(&STACK, &["QUERY_STOP_DEVICE", "STOP_DEVICE"]);
    expected.extend(each(&STACK, &START_SEQUENCE));
    assert_eq!(seen, expected);
    assert_eq!(pnp::state(node), Some(DeviceNodeState::Started));
    let mut history = STARTED_HISTORY.to_vec();
    history.extend([
        DeviceNodeState::QueryStopped,
        DeviceNodeState::Stopped,
        DeviceNodeState::ResourcesAssigned,
        DeviceNodeState::Started,
    ]);
    assert_eq!(states(node), history);
}

#[test]
fn a_rebalance_stops_and_restarts_the_stack() {
    Machine::sim().run(rebalance_scenario).value();
}

#[test]
fn a_rebalance_under_many_seeds() {
    for processors in [2, 4] {
        Machine::sim().processors(processors).explore(0..20, rebalance_scenario).assert_ok();
    }
}

/// Fn refuses QUERY_STOP: CANCEL_STOP to the whole stack, CR_REMOVE_VETOED
/// with PNP_VetoDevice, and the device never stopped (spec 02 §2.3.3).
#[test]
fn a_vetoed_rebalance_sends_cancel_stop_and_leaves_the_device_started() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        install_filtered_stack(&bench);
        bench.set("Fn.veto_query_stop", 1);
        let node = pnp::add_root_device(HW).expect("started");
        let before = bench.log.lines().len();
        let outcome = pnp::stop_device(node);
        (outcome, bench.log.lines()[before..].to_vec(), pnp::state(node), states(node))
    });
    let (outcome, seen, state, history) = run.value();
    assert_eq!(
        outcome,
        Err(PnpError::Vetoed { veto: VetoType::Device, name: "Root\\UNKNOWN\\0000".into() })
    );
    let mut expected = lines(&["Up: QUERY_STOP_DEVICE", "Fn: QUERY_STOP_DEVICE"]);
    expected.extend(each(&STACK, &["CANCEL_STOP_DEVICE"]));
    assert_eq!(seen, expected);
    assert_eq!(state, Some(DeviceNodeState::Started));
    assert_eq!(history, STARTED_HISTORY);
}

/// A rebalance whose restart fails: after QUERY_STOP and STOP, the new
/// START fails, the stack gets REMOVE, and the node keeps
/// CM_PROB_FAILED_START (spec 02 §2.3.3, §2.3.5). A stopped-and-failed
/// device cannot be rebalanced again (CR_INVALID_DEVNODE).
#[test]
fn a_rebalance_whose_restart_fails_removes_the_stack() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn"));
        let node = pnp::add_root_device(HW).expect("started");
        bench.set("Fn.fail_start", STATUS_DEVICE_CONFIGURATION_ERROR.0);
        let before = lines_of(&bench.log, "Fn").len();
        let outcome = pnp::stop_device(node);
        let again = pnp::stop_device(node);
        (outcome, again, lines_of(&bench.log, "Fn")[before..].to_vec(), pnp::state(node))
    });
    let (outcome, again, seen, state) = run.value();
    let failed = Problem::FailedStart(STATUS_DEVICE_CONFIGURATION_ERROR);
    assert_eq!(outcome, Err(PnpError::Failed(failed)));
    assert_eq!(again, Err(PnpError::InvalidState(DeviceNodeState::Removed)));
    assert_eq!(
        seen,
        lines(&[
            "QUERY_STOP_DEVICE",
            "STOP_DEVICE",
            "QUERY_LEGACY_BUS_INFORMATION",
            "FILTER_RESOURCE_REQUIREMENTS",
            "START_DEVICE",
            "REMOVE_DEVICE",
            "Unload",
        ])
    );
    assert_eq!(state, Some(DeviceNodeState::Removed));
}

// ---------------------------------------------------------------------------
// Surprise removal (spec 02 §2.3.4)
// ---------------------------------------------------------------------------

/// Unplugged with a handle open: SURPRISE_REMOVAL through the stack at once,
/// the node waits in RemovePendingCloses; REMOVE comes only after the last
/// CloseHandle, and then the node and its PDO are gone (spec 02 §2.3.4,
/// l.5590).
fn surprise_scenario() {
    let bench = Bench::install();
    install_filtered_stack(&bench);
    let node = pnp::add_root_device(HW).expect("started");
    let pdo = pnp::pdo(node).expect("a PDO");
    let handle = open(node);
    let before = bench.log.lines().len();
    assert_eq!(pnp::surprise_remove_device(node), Ok(()));
    assert_eq!(bench.log.lines()[before..], each(&STACK, &["SURPRISE_REMOVAL"]));
    assert_eq!(pnp::state(node), Some(DeviceNodeState::RemovePendingCloses));
    let before = bench.log.lines().len();
    assert!(close_handle(handle));
    settle();
    let removal: Vec<String> =
        bench.log.lines()[before..].iter().filter(|l| !l.ends_with("Unload")).cloned().collect();
    assert_eq!(removal, each(&STACK, &["REMOVE_DEVICE"]));
    assert_eq!(pnp::state(node), None);
    assert!(pdo.is_deleted(), "an unplugged device's PDO deletes itself at REMOVE");
}

#[test]
fn surprise_removal_sends_remove_only_after_the_last_handle_closes() {
    Machine::sim().run(surprise_scenario).value();
}

#[test]
fn surprise_removal_under_many_seeds() {
    for processors in [2, 4] {
        Machine::sim().processors(processors).explore(0..20, surprise_scenario).assert_ok();
    }
}

/// Unplugged with no handle open: SURPRISE_REMOVAL then REMOVE at once.
#[test]
fn surprise_removal_without_handles_sends_remove_at_once() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        install_filtered_stack(&bench);
        let node = pnp::add_root_device(HW).expect("started");
        let before = bench.log.lines().len();
        assert_eq!(pnp::surprise_remove_device(node), Ok(()));
        let seen: Vec<String> = bench.log.lines()[before..]
            .iter()
            .filter(|l| !l.ends_with("Unload"))
            .cloned()
            .collect();
        (seen, pnp::state(node))
    });
    let (seen, state) = run.value();
    assert_eq!(seen, each(&STACK, &["SURPRISE_REMOVAL", "REMOVE_DEVICE"]));
    assert_eq!(state, None);
}

/// A handle opened through the name a function driver gave its FDO (a
/// named FDO with a symbolic link, the Wdm1-era way of being opened rather
/// than through an interface on the PDO) is a handle on the stack too: the
/// orderly removal counts it, and after SURPRISE_REMOVAL its CloseHandle
/// must bring the REMOVE (spec 02 §2.3.4: "REMOVE_DEVICE only after all
/// open handles are closed").
#[test]
fn surprise_removal_sends_remove_after_closing_a_handle_opened_on_a_named_fdo() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        bench.set("Fn.named", 1);
        pnp::install(package(HW, "Fn"));
        let node = pnp::add_root_device(HW).expect("started");
        let handle = create_file("\\\\.\\Fn", GENERIC_READ, 0, OPEN_EXISTING, 0);
        assert_ne!(handle, INVALID_HANDLE_VALUE, "the named FDO opens");
        let veto = pnp::remove_device(node);
        assert_eq!(pnp::surprise_remove_device(node), Ok(()));
        let pending = pnp::state(node);
        let before = bench.log.lines().len();
        assert!(close_handle(handle));
        settle();
        let after: Vec<String> = bench.log.lines()[before..].to_vec();
        (veto, pending, after, pnp::state(node))
    });
    let (veto, pending, after, state) = run.value();
    assert_eq!(
        veto,
        Err(PnpError::Vetoed {
            veto: VetoType::OutstandingOpen,
            name: "Root\\UNKNOWN\\0000".into()
        })
    );
    assert_eq!(pending, Some(DeviceNodeState::RemovePendingCloses));
    assert!(
        after.iter().any(|l| l == "Fn: REMOVE_DEVICE"),
        "the last CloseHandle on a surprise-removed stack must bring REMOVE_DEVICE (spec 02 \
         §2.3.4), also when the handle was opened on the FDO's name rather than on the PDO's \
         interface; after CloseHandle the drivers saw {after:?}"
    );
    assert_eq!(state, None);
}

/// IoInvalidateDeviceState: the PnP manager asks QUERY_PNP_DEVICE_STATE; a
/// stack answering PNP_DEVICE_FAILED is taken away as if unplugged
/// (spec 02 §1.6, l.6254).
#[test]
fn a_device_reporting_itself_failed_is_surprise_removed() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn"));
        let node = pnp::add_root_device(HW).expect("started");
        let before = bench.log.lines().len();
        bench.set("Fn.report_failed", 1);
        io_invalidate_device_state(&pnp::pdo(node).expect("a PDO"));
        settle();
        (bench.log.lines()[before..].to_vec(), pnp::state(node))
    });
    let (seen, state) = run.value();
    assert_eq!(
        seen,
        lines(&[
            "Fn: QUERY_PNP_DEVICE_STATE",
            "Fn: SURPRISE_REMOVAL",
            "Fn: REMOVE_DEVICE",
            "Fn: Unload"
        ])
    );
    assert_eq!(state, None);
}

// ---------------------------------------------------------------------------
// Failures while bringing a device up (spec 02 §1.2, §2.3.5)
// ---------------------------------------------------------------------------

/// Fn fails START after the drivers below started: REMOVE goes to the whole
/// stack; the node stays with CM_PROB_FAILED_START (10) and its PDO; the
/// caller gets CR_FAILURE with that problem (spec 02 §2.3.5).
#[test]
fn a_failed_start_sends_remove_and_keeps_the_node_with_problem_failed_start() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        install_filtered_stack(&bench);
        bench.set("Fn.fail_start", STATUS_DEVICE_CONFIGURATION_ERROR.0);
        let outcome = pnp::add_root_device(HW);
        let node = pnp::children(root_node())[0];
        let pdo = pnp::pdo(node).expect("the node keeps its PDO");
        (outcome, bench.log.lines(), pnp::state(node), pnp::problem(node), states(node), pdo)
    });
    let (outcome, seen, state, problem, history, pdo) = run.value();
    let failed = Problem::FailedStart(STATUS_DEVICE_CONFIGURATION_ERROR);
    assert_eq!(outcome, Err(PnpError::Failed(failed)));
    let mut expected = add_lines();
    expected.extend(each(
        &STACK,
        &[
            "QUERY_LEGACY_BUS_INFORMATION",
            "FILTER_RESOURCE_REQUIREMENTS",
            "START_DEVICE",
            "REMOVE_DEVICE",
        ],
    ));
    expected.extend(lines(&["Lo: Unload", "Fn: Unload", "Up: Unload"]));
    assert_eq!(seen, expected);
    assert_eq!(state, Some(DeviceNodeState::Removed));
    assert_eq!(problem, Some(failed));
    assert_eq!(failed.code(), 10);
    assert_eq!(
        history,
        [
            DeviceNodeState::Uninitialized,
            DeviceNodeState::Initialized,
            DeviceNodeState::DriversAdded,
            DeviceNodeState::ResourcesAssigned,
            DeviceNodeState::Removed
        ]
    );
    assert!(!pdo.is_deleted());
}

/// Fn's AddDevice fails: REMOVE goes to the drivers below it that were
/// added (Lo), the drivers above (Up) are never called; the node keeps
/// CM_PROB_FAILED_ADD (31) (spec 02 §1.2, l.5103).
#[test]
fn an_add_device_failure_sends_remove_to_the_drivers_below_only() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        install_filtered_stack(&bench);
        bench.set("Fn.fail_add", STATUS_INSUFFICIENT_RESOURCES.0);
        let outcome = pnp::add_root_device(HW);
        let node = pnp::children(root_node())[0];
        (outcome, bench.log.lines(), pnp::state(node), pnp::problem(node))
    });
    let (outcome, seen, state, problem) = run.value();
    let failed = Problem::FailedAdd(STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(outcome, Err(PnpError::Failed(failed)));
    let seen: Vec<String> = seen.into_iter().filter(|l| !l.ends_with("Unload")).collect();
    assert_eq!(seen, lines(&["Lo: AddDevice", "Fn: AddDevice fails", "Lo: REMOVE_DEVICE"]));
    assert_eq!(state, Some(DeviceNodeState::Removed));
    assert_eq!(problem, Some(failed));
    assert_eq!(failed.code(), 31);
}

/// Uninstalling a device that has no working stack (a failed start, no
/// driver, or disabled) deletes its node, and the root bus, told the device is
/// gone, must delete its PDO: the PnP manager owes the PDO its
/// IRP_MN_REMOVE_DEVICE (a root PDO deletes itself only at REMOVE, and
/// "REMOVE is the last IRP a driver sees", spec 02 §1.4; bus PDOs are
/// deleted at REMOVE once the device is gone, §2.1).
#[test]
fn removing_a_device_that_never_started_deletes_its_pdo() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn"));
        bench.set("Fn.fail_start", STATUS_UNSUCCESSFUL.0);
        let failed = pnp::add_root_device(HW);
        let no_driver = pnp::add_root_device("*toy\\nobody");
        bench.clear("Fn.fail_start");
        let disabled = pnp::add_root_device(HW).expect("started");
        assert_eq!(pnp::disable_device(disabled), Ok(()));
        let nodes = pnp::children(root_node());
        let pdos: Vec<DeviceObject> = nodes.iter().map(|n| pnp::pdo(*n).expect("a PDO")).collect();
        let removed: Vec<_> = nodes.iter().map(|n| pnp::remove_device(*n)).collect();
        let gone: Vec<bool> = nodes.iter().map(|n| pnp::state(*n).is_none()).collect();
        let deleted: Vec<bool> = pdos.iter().map(DeviceObject::is_deleted).collect();
        (failed.is_err(), no_driver.is_err(), removed, gone, deleted)
    });
    let (failed, no_driver, removed, gone, deleted) = run.value();
    assert!(failed && no_driver);
    assert_eq!(removed, [Ok(()), Ok(()), Ok(())]);
    assert_eq!(gone, [true, true, true]);
    assert_eq!(
        deleted,
        [true, true, true],
        "the nodes left the tree but their root PDOs were never sent IRP_MN_REMOVE_DEVICE, so \
         they stay alive (PnpManager's device list keeps them): spec 02 §1.4, §2.1"
    );
}

// ---------------------------------------------------------------------------
// Resources (spec 02 §3)
// ---------------------------------------------------------------------------

/// A legacy device's LogConfig (port 0x378, 3 bytes, I/O space; IRQ 7
/// latched): START carries the raw list as assigned and the translated one
/// with the interrupt as the processor sees it, vector 0x37 at IRQL 20
/// with affinity 1, the port unchanged (spec 02 §3.2, Table 9.1). A device
/// that needs nothing gets no lists at all (W2000, l.5722).
#[test]
fn start_carries_the_raw_and_translated_resources() {
    let run = Machine::sim().run(|| {
        Bench::install();
        pnp::install(package(HW, "Fn"));
        pnp::install(package("*toy\\plain", "Plain"));
        let port = ResourceDescriptor {
            share: ShareDisposition::DeviceExclusive,
            resource: PartialResource::Port { start: 0x378, length: 3, io_space: true },
        };
        let irq = ResourceDescriptor {
            share: ShareDisposition::DeviceExclusive,
            resource: PartialResource::Interrupt {
                level: 7,
                vector: 7,
                affinity: 1,
                mode: InterruptMode::Latched,
            },
        };
        let requirements = ResourceRequirements { descriptors: vec![port.clone(), irq.clone()] };
        let node = pnp::add_root_device_with(HW, requirements).expect("started");
        let plain = pnp::add_root_device("*toy\\plain").expect("started");
        let seen = layer(&top_of(node)).started_with.lock().clone();
        let plain_seen = layer(&top_of(plain)).started_with.lock().clone();
        (seen, pnp::resources(node), plain_seen, port, irq)
    });
    let (seen, recorded, plain_seen, port, irq) = run.value();
    let raw = CmResourceList { descriptors: vec![port.clone(), irq] };
    let translated = CmResourceList {
        descriptors: vec![
            port,
            ResourceDescriptor {
                share: ShareDisposition::DeviceExclusive,
                resource: PartialResource::Interrupt {
                    level: 20,
                    vector: 0x37,
                    affinity: 1,
                    mode: InterruptMode::Latched,
                },
            },
        ],
    };
    assert_eq!(seen, [(Some(Arc::new(raw.clone())), Some(Arc::new(translated)))]);
    assert_eq!(recorded, Some(raw));
    assert_eq!(plain_seen, [(None, None)]);
}

/// FILTER_RESOURCE_REQUIREMENTS carries the requirements in; a driver that
/// changes them (here: drops the interrupt) changes what START assigns
/// (spec 02 §2.1, l.5986).
#[test]
fn a_driver_filtering_the_requirements_changes_what_start_assigns() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        bench.set("Fn.drop_interrupt", 1);
        pnp::install(package(HW, "Fn"));
        let port = ResourceDescriptor {
            share: ShareDisposition::DeviceExclusive,
            resource: PartialResource::Port { start: 0x300, length: 16, io_space: true },
        };
        let irq = ResourceDescriptor {
            share: ShareDisposition::DeviceExclusive,
            resource: PartialResource::Interrupt {
                level: 5,
                vector: 5,
                affinity: 1,
                mode: InterruptMode::LevelSensitive,
            },
        };
        let requirements = ResourceRequirements { descriptors: vec![port.clone(), irq] };
        let node = pnp::add_root_device_with(HW, requirements).expect("started");
        let seen = layer(&top_of(node)).started_with.lock().clone();
        (seen, port)
    });
    let (seen, port) = run.value();
    let only_port = CmResourceList { descriptors: vec![port] };
    assert_eq!(seen, [(Some(Arc::new(only_port.clone())), Some(Arc::new(only_port)))]);
}

// ---------------------------------------------------------------------------
// A bus and its children (spec 02 §1.6)
// ---------------------------------------------------------------------------

fn widget() -> ChildSpec {
    ChildSpec::new("A", &["TOYBUS\\WIDGET"])
}

fn gadget() -> ChildSpec {
    ChildSpec::new("B", &["TOYBUS\\GADGET"])
}

fn gizmo() -> ChildSpec {
    ChildSpec::new("C", &["TOYBUS\\GIZMO"])
}

/// Installs the toy bus (`*toy\bus`) and the function drivers of its
/// children: WidgetFn, GadgetFn, GizmoFn.
pub(crate) fn install_bus() {
    pnp::install(package("*toy\\bus", BUS));
    pnp::install(package("TOYBUS\\WIDGET", "WidgetFn"));
    pnp::install(package("TOYBUS\\GADGET", "GadgetFn"));
    pnp::install(package("TOYBUS\\GIZMO", "GizmoFn"));
}

/// A bus and its two children, started (`settle`d).
pub(crate) fn bus_with_two_children() -> DeviceNode {
    install_bus();
    let bus = pnp::add_root_device("*toy\\bus").expect("bus started");
    plug(bus, &[widget(), gadget()]);
    settle();
    bus
}

/// After IoInvalidateDeviceRelations the bus FDO reports two children: each
/// gets a node under the bus, is queried, gets its function driver and is
/// started. Then A disappears and C appears: A's stack gets SURPRISE_REMOVAL
/// and REMOVE, its PDO is deleted by the bus, its node leaves; C is brought
/// up; B sees nothing (spec 02 §1.6).
fn bus_scenario() {
    let bench = Bench::install();
    let bus = bus_with_two_children();
    let children = pnp::children(bus);
    let ids: Vec<String> = children.iter().filter_map(|c| pnp::instance_id(*c)).collect();
    assert_eq!(ids, ["TOYBUS\\A\\1", "TOYBUS\\B\\1"]);
    assert!(children.iter().all(|c| pnp::is_started(*c)));
    let mut expected = lines(&["AddDevice"]);
    expected.extend(START_SEQUENCE.iter().map(|s| s.to_string()));
    assert_eq!(lines_of(&bench.log, "WidgetFn"), expected);
    assert_eq!(lines_of(&bench.log, "GadgetFn"), expected);
    // A child PDO alone in its stack is queried before any driver loads
    // (book l.6252): ids, capabilities, text, resources, requirements.
    let pdo_lines = lines_of(&bench.log, "ToyBus/A");
    let first_start = pdo_lines.iter().position(|l| l == "START_DEVICE").expect("started");
    for query in [
        "QUERY_ID(DeviceId)",
        "QUERY_ID(InstanceId)",
        "QUERY_ID(HardwareIds)",
        "QUERY_ID(CompatibleIds)",
        "QUERY_CAPABILITIES",
        "QUERY_DEVICE_TEXT",
        "QUERY_RESOURCES",
        "QUERY_RESOURCE_REQUIREMENTS",
    ] {
        let at = pdo_lines.iter().position(|l| l == query);
        assert!(at.is_some_and(|at| at < first_start), "{query} before START: {pdo_lines:?}");
    }
    let a_pdo = pnp::pdo(children[0]).expect("a PDO");
    let widget_before = lines_of(&bench.log, "WidgetFn").len();
    let gadget_before = lines_of(&bench.log, "GadgetFn").len();
    plug(bus, &[gadget(), gizmo()]);
    settle();
    assert_eq!(
        lines_of(&bench.log, "WidgetFn")[widget_before..],
        lines(&["SURPRISE_REMOVAL", "REMOVE_DEVICE", "Unload"])
    );
    assert_eq!(lines_of(&bench.log, "GadgetFn").len(), gadget_before, "B is left alone");
    assert_eq!(pnp::state(children[0]), None, "A's node left the tree");
    assert!(a_pdo.is_deleted(), "the bus deletes a PDO it no longer reports at REMOVE");
    let now: Vec<String> = pnp::children(bus).iter().filter_map(|c| pnp::instance_id(*c)).collect();
    assert_eq!(now, ["TOYBUS\\B\\1", "TOYBUS\\C\\1"]);
    assert_eq!(lines_of(&bench.log, "GizmoFn"), expected);
    assert!(pnp::children(bus).iter().all(|c| pnp::is_started(*c)));
}

#[test]
fn a_bus_enumerates_two_children_then_one_leaves_and_another_arrives() {
    Machine::sim().run(bus_scenario).value();
}

#[test]
fn bus_enumeration_under_many_seeds() {
    for processors in [2, 4] {
        Machine::sim().processors(processors).explore(0..15, bus_scenario).assert_ok();
    }
}

/// Removing a bus: QUERY_REMOVE reaches the children before the bus FDO,
/// REMOVE too (book l.6256–6260; spec 02 §1.2 step 5); every node leaves,
/// the bus deletes its child PDOs and the drivers unload.
#[test]
fn children_are_queried_and_removed_before_their_parent() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        let bus = bus_with_two_children();
        let children = pnp::children(bus);
        let pdos: Vec<DeviceObject> =
            children.iter().map(|c| pnp::pdo(*c).expect("a PDO")).collect();
        let before = bench.log.lines().len();
        assert_eq!(pnp::remove_device(bus), Ok(()));
        let seen: Vec<String> = bench.log.lines()[before..]
            .iter()
            .filter(|l| !l.starts_with("ToyBus/"))
            .cloned()
            .collect();
        let gone = children.iter().chain([&bus]).all(|n| pnp::state(*n).is_none());
        (seen, gone, pdos.iter().all(DeviceObject::is_deleted))
    });
    let (seen, gone, pdos_deleted) = run.value();
    assert_eq!(
        seen,
        lines(&[
            "WidgetFn: QUERY_REMOVE_DEVICE",
            "GadgetFn: QUERY_REMOVE_DEVICE",
            "ToyBus: QUERY_REMOVE_DEVICE",
            "WidgetFn: REMOVE_DEVICE",
            "WidgetFn: Unload",
            "GadgetFn: REMOVE_DEVICE",
            "GadgetFn: Unload",
            "ToyBus: REMOVE_DEVICE",
            "ToyBus: Unload",
        ])
    );
    assert!(gone);
    assert!(pdos_deleted);
}

/// The bus FDO refuses QUERY_REMOVE after its children agreed: every node
/// queried, the children included, gets CANCEL_REMOVE, and the veto names
/// the bus. A handle open on a child vetoes the bus's removal too, naming
/// the child (spec 02 §2.3.2).
#[test]
fn a_veto_anywhere_in_the_subtree_cancels_the_removal_of_the_whole_subtree() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        bench.set("WidgetFn.interface", 1);
        let bus = bus_with_two_children();
        bench.set("ToyBus.veto_query_remove", 1);
        let functions = |log: &Log| -> Vec<String> {
            log.lines().into_iter().filter(|l| !l.starts_with("ToyBus/")).collect()
        };
        let before = functions(&bench.log).len();
        let vetoed_by_bus = pnp::remove_device(bus);
        let seen_bus = functions(&bench.log)[before..].to_vec();
        bench.clear("ToyBus.veto_query_remove");
        let handle = open(pnp::children(bus)[0]);
        let before = functions(&bench.log).len();
        let vetoed_by_handle = pnp::remove_device(bus);
        let seen_handle = functions(&bench.log)[before..].to_vec();
        assert!(close_handle(handle));
        let started = pnp::children(bus).iter().chain([&bus]).all(|n| pnp::is_started(*n));
        (vetoed_by_bus, seen_bus, vetoed_by_handle, seen_handle, started)
    });
    let (vetoed_by_bus, seen_bus, vetoed_by_handle, seen_handle, started) = run.value();
    assert_eq!(
        vetoed_by_bus,
        Err(PnpError::Vetoed { veto: VetoType::Device, name: "Root\\UNKNOWN\\0000".into() })
    );
    let queried = ["WidgetFn", "GadgetFn", "ToyBus"];
    let mut cancels: Vec<String> =
        queried.iter().map(|d| format!("{d}: CANCEL_REMOVE_DEVICE")).collect();
    cancels.sort();
    let (queries, mut rest): (Vec<String>, Vec<String>) =
        seen_bus.into_iter().partition(|l| l.ends_with("QUERY_REMOVE_DEVICE"));
    rest.sort();
    assert_eq!(
        queries,
        each(&queried, &["QUERY_REMOVE_DEVICE"]).iter().map(String::from).collect::<Vec<_>>()
    );
    assert_eq!(rest, cancels, "every node queried gets CANCEL_REMOVE, the vetoer included");
    assert_eq!(
        vetoed_by_handle,
        Err(PnpError::Vetoed { veto: VetoType::OutstandingOpen, name: "TOYBUS\\A\\1".into() })
    );
    let (queries, mut rest): (Vec<String>, Vec<String>) =
        seen_handle.into_iter().partition(|l| l.ends_with("QUERY_REMOVE_DEVICE"));
    rest.sort();
    assert_eq!(queries.len(), 3);
    assert_eq!(rest, cancels);
    assert!(started);
}

/// A bus unplugged while one of its children (A, WidgetFn) still has a
/// handle open; then, if `close`, that handle closed. Returns the function
/// and bus drivers' log lines at the unplug and after the close, the bus
/// node's state after the unplug and at the end.
fn unplug_bus_with_a_child_open(
    close: bool,
) -> (Vec<String>, Option<DeviceNodeState>, Vec<String>, Option<DeviceNodeState>) {
    let bench = Bench::install();
    bench.set("WidgetFn.interface", 1);
    let bus = bus_with_two_children();
    let handle = open(pnp::children(bus)[0]);
    let functions = |log: &Log| -> Vec<String> {
        log.lines()
            .into_iter()
            .filter(|l| !l.starts_with("ToyBus/") && !l.ends_with("Unload"))
            .collect()
    };
    let before = functions(&bench.log).len();
    assert_eq!(pnp::surprise_remove_device(bus), Ok(()));
    let at_unplug = functions(&bench.log)[before..].to_vec();
    let bus_state = pnp::state(bus);
    let before = functions(&bench.log).len();
    if close {
        assert!(close_handle(handle));
        settle();
    }
    let at_close = functions(&bench.log)[before..].to_vec();
    (at_unplug, bus_state, at_close, pnp::state(bus))
}

/// A bus unplugged while a child still has a handle open: every node gets
/// SURPRISE_REMOVAL at once, children first, and the child without handles
/// (B) its REMOVE; the bus's REMOVE must wait for its child A, since
/// children are removed before their parent (spec 02 §1.2 step 5, §2.3.4:
/// REMOVE only after the handles close).
#[test]
fn a_surprise_removed_bus_gets_no_remove_while_a_child_has_a_handle_open() {
    let (at_unplug, bus_state, _, _) =
        Machine::sim().run(|| unplug_bus_with_a_child_open(false)).value();
    assert_eq!(
        at_unplug,
        lines(&[
            "WidgetFn: SURPRISE_REMOVAL",
            "GadgetFn: SURPRISE_REMOVAL",
            "ToyBus: SURPRISE_REMOVAL",
            "GadgetFn: REMOVE_DEVICE",
        ]),
        "the bus got its REMOVE (and deleted its child PDOs) while its child A, with a handle \
         open, was still waiting for its own REMOVE: children must be removed before their \
         parent (spec 02 §1.2 step 5)"
    );
    assert_eq!(bus_state, Some(DeviceNodeState::RemovePendingCloses));
}

/// ... and when the child's handle closes, the child gets its REMOVE, then
/// the bus, without any bug check (the bus must not have deleted A's PDO
/// while WidgetFn was still attached to it).
#[test]
fn closing_the_last_handle_of_a_surprise_removed_bus_child_removes_the_child_then_the_bus() {
    let (_, _, at_close, state) = Machine::sim().run(|| unplug_bus_with_a_child_open(true)).value();
    assert_eq!(at_close, lines(&["WidgetFn: REMOVE_DEVICE", "ToyBus: REMOVE_DEVICE"]));
    assert_eq!(state, None);
}

/// Removing a bus with a child that has no driver (CM_PROB_FAILED_INSTALL):
/// that child's node must leave the tree with its parent, not stay behind
/// as an orphan (spec 02 §1.2 step 5: teardown removes the subtree).
#[test]
fn removing_a_bus_also_deletes_a_child_that_never_got_a_driver() {
    let run = Machine::sim().run(|| {
        Bench::install();
        install_bus();
        let bus = pnp::add_root_device("*toy\\bus").expect("bus started");
        plug(bus, &[widget(), ChildSpec::new("X", &["TOYBUS\\UNKNOWN"])]);
        settle();
        let children = pnp::children(bus);
        let orphan = children[1];
        let problem = pnp::problem(orphan);
        assert_eq!(pnp::remove_device(bus), Ok(()));
        (problem, pnp::state(orphan), pnp::instance_id(orphan))
    });
    let (problem, state, instance) = run.value();
    assert_eq!(problem, Some(Problem::NoDriver));
    assert_eq!(
        (state, instance),
        (None, None),
        "the driverless child of a removed bus is left in the tree with no parent"
    );
}

/// Disabling a bus removes its children first (their REMOVE before the
/// bus's); enabling it starts the bus again, which finds the same hardware
/// and brings the children back up, started, under the same instance paths.
#[test]
fn disabling_a_bus_removes_its_children_and_enabling_it_brings_them_back() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        let bus = bus_with_two_children();
        let before = bench.log.lines().len();
        assert_eq!(pnp::disable_device(bus), Ok(()));
        let removes: Vec<String> = bench.log.lines()[before..]
            .iter()
            .filter(|l| l.ends_with("REMOVE_DEVICE") && !l.starts_with("ToyBus/"))
            .cloned()
            .collect();
        assert_eq!(pnp::enable_device(bus), Ok(()));
        settle();
        let children: Vec<(Option<String>, bool, String)> = pnp::children(bus)
            .iter()
            .map(|c| {
                (
                    pnp::instance_id(*c),
                    pnp::is_started(*c),
                    top_of(*c).driver_object().name().to_string(),
                )
            })
            .collect();
        (removes, children, pnp::is_started(bus))
    });
    let (removes, children, bus_started) = run.value();
    assert_eq!(
        removes,
        lines(&[
            "WidgetFn: QUERY_REMOVE_DEVICE",
            "GadgetFn: QUERY_REMOVE_DEVICE",
            "ToyBus: QUERY_REMOVE_DEVICE",
            "WidgetFn: REMOVE_DEVICE",
            "GadgetFn: REMOVE_DEVICE",
            "ToyBus: REMOVE_DEVICE",
        ])
    );
    assert!(bus_started);
    assert_eq!(
        children,
        [
            (Some("TOYBUS\\A\\1".to_string()), true, "WidgetFn".to_string()),
            (Some("TOYBUS\\B\\1".to_string()), true, "GadgetFn".to_string()),
        ]
    );
}

// ---------------------------------------------------------------------------
// QUERY_INTERFACE (spec 02 §1.6)
// ---------------------------------------------------------------------------

/// A QUERY_INTERFACE for a GUID nobody knows, sent to the top of the stack
/// as the DDK says (IoBuildSynchronousFsdRequest(IRP_MJ_PNP), status preset
/// to STATUS_NOT_SUPPORTED): the filter and Fn pass it down untouched, the
/// root PDO completes it untouched, and it comes back STATUS_NOT_SUPPORTED.
#[test]
fn an_unknown_query_interface_passes_down_to_the_root_pdo_and_comes_back_not_supported() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn").upper_filter(service("Up")));
        let node = pnp::add_root_device(HW).expect("started");
        let before = bench.log.lines().len();
        let top = io_get_attached_device_reference(&pnp::pdo(node).expect("a PDO"));
        let event = Event::new(EventType::NotificationEvent, false);
        let (mut irp, _handle) =
            io_build_synchronous_fsd_request(IRP_MJ_PNP, &top, &[], 0, 0, &event).expect("an IRP");
        irp.io_status_mut().status = STATUS_NOT_SUPPORTED;
        let next = io_get_next_irp_stack_location(&mut irp);
        next.minor_function = IRP_MN_QUERY_INTERFACE;
        next.parameters = Parameters::QueryInterface {
            interface_type: Guid::new(0x1234_5678, 1, 2, [3; 8]),
            size: 32,
            version: 1,
        };
        let mut status = io_call_driver(&top, irp);
        if status == STATUS_PENDING {
            ke_wait_for_single_object(&event, None);
            status = _handle.io_status().map_or(status, |s| s.status);
        }
        (status, bench.log.lines()[before..].to_vec())
    });
    let (status, seen) = run.value();
    assert_eq!(status, STATUS_NOT_SUPPORTED);
    assert_eq!(seen, lines(&["Up: QUERY_INTERFACE", "Fn: QUERY_INTERFACE"]));
}

// ---------------------------------------------------------------------------
// What the debugger shows
// ---------------------------------------------------------------------------

/// `!devnode 0 1` for root → bus → child, `!devnode` of the child and
/// `!devstack` of its FDO, whole.
#[test]
fn devnode_and_devstack_text_for_a_two_level_tree() {
    let run = Machine::sim().run(|| {
        Bench::install();
        install_bus();
        let bus = pnp::add_root_device("*toy\\bus").expect("bus started");
        plug(bus, &[widget()]);
        settle();
        let child = pnp::children(bus)[0];
        let root = root_node();
        let addresses = [root, bus, child].map(|n| 0x8900_0000u32 | (n.index() << 4));
        let pdos = [root, bus, child].map(|n| pnp::pdo(n).expect("a PDO").address());
        let child_fdo = top_of(child);
        let child_pdo = pnp::pdo(child).expect("a PDO");
        let pdo_name =
            child_pdo.name().expect("named").trim_start_matches("\\Device\\").to_string();
        (
            pnp::tree_text(),
            pnp::devnode_text(child),
            pnp::devstack_text(&child_fdo),
            addresses,
            pdos,
            (child_fdo.address(), child_pdo.address(), pdo_name),
        )
    });
    let (tree, node, stack, [root, bus, child], [root_pdo, bus_pdo, child_pdo], fdo) = run.value();
    let started = "  State = DeviceNodeStarted (0x308)\n  Previous State = DeviceNodeResourcesAssigned (0x304)\n  StateHistory[03] = DeviceNodeResourcesAssigned (0x304)\n  StateHistory[02] = DeviceNodeDriversAdded (0x303)\n  StateHistory[01] = DeviceNodeInitialized (0x302)\n  StateHistory[00] = DeviceNodeUninitialized (0x301)\n";
    let indent =
        |text: &str, by: &str| -> String { text.lines().map(|l| format!("{by}{l}\n")).collect() };
    let child_text = format!(
        "DevNode {child:#010x} for PDO {child_pdo:#010x}\n  Parent {bus:#010x}   Sibling 0x00000000   Child 0x00000000\n  InstancePath is \"TOYBUS\\A\\1\"\n  ServiceName is \"WidgetFn\"\n{started}"
    );
    assert_eq!(node, child_text);
    let expected_tree = format!(
        "Dumping IopRootDeviceNode (= {root:#010x})\nDevNode {root:#010x} for PDO {root_pdo:#010x}\n  Parent 0x00000000   Sibling 0x00000000   Child {bus:#010x}\n  InstancePath is \"HTREE\\ROOT\\0\"\n  State = DeviceNodeStarted (0x308)\n  Previous State = DeviceNodeUninitialized (0x301)\n  StateHistory[00] = DeviceNodeUninitialized (0x301)\n{}{}",
        indent(
            &format!(
                "DevNode {bus:#010x} for PDO {bus_pdo:#010x}\n  Parent {root:#010x}   Sibling 0x00000000   Child {child:#010x}\n  InstancePath is \"Root\\UNKNOWN\\0000\"\n  ServiceName is \"ToyBus\"\n{started}"
            ),
            "  "
        ),
        indent(&child_text, "    ")
    );
    assert_eq!(tree, expected_tree);
    let (fdo_address, pdo_address, pdo_name) = fdo;
    let expected_stack = format!(
        "  !DevObj   !DrvObj            !DevExt   ObjectName\n> {fdo_address:08x}  \\Driver\\WidgetFn   {:08x}  \n  {pdo_address:08x}  \\Driver\\ToyBus     {:08x}  {pdo_name}\n!DevNode {child:08x} :\n  DeviceInst is \"TOYBUS\\A\\1\"\n  ServiceName is \"WidgetFn\"\n",
        fdo_address + 0xB8,
        pdo_address + 0xB8
    );
    assert_eq!(stack, expected_stack);
}

// ---------------------------------------------------------------------------
// Drivers, registry, stale nodes
// ---------------------------------------------------------------------------

/// A driver stays loaded while it drives a device and unloads (DriverUnload
/// once) when its last device is removed.
#[test]
fn a_driver_unloads_when_its_last_device_goes() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn"));
        let first = pnp::add_root_device(HW).expect("started");
        let second = pnp::add_root_device(HW).expect("started");
        let driver = pnp::function_driver(first).expect("Fn");
        assert_eq!(pnp::function_driver(second), Some(driver.clone()), "one driver object");
        assert_eq!(pnp::remove_device(first), Ok(()));
        let after_first =
            (driver.is_unloaded(), lines_of(&bench.log, "Fn").contains(&"Unload".into()));
        assert_eq!(pnp::remove_device(second), Ok(()));
        let unloads = lines_of(&bench.log, "Fn").iter().filter(|l| *l == "Unload").count();
        (after_first, driver.is_unloaded(), unloads, driver.devices().len())
    });
    assert_eq!(run.value(), ((false, false), true, 1, 0));
}

/// Installing a package writes each of its services' keys (Type 1 kernel
/// driver, Start 3 demand, ErrorControl 1 normal, ImagePath) and the
/// function driver's Parameters values (spec 03 §4.4–4.5).
#[test]
fn install_writes_the_service_keys_and_the_parameters() {
    let run = Machine::sim().run(|| {
        Bench::install();
        pnp::install(
            package(HW, "Fn")
                .lower_filter(service("Lo"))
                .upper_filter(service("Up"))
                .parameter("BufferSize", RegistryValue::Dword(4096))
                .parameter("Name", RegistryValue::String("toy".into())),
        );
        let mut values = Vec::new();
        for name in ["Lo", "Fn", "Up"] {
            for value in ["Type", "Start", "ErrorControl", "ImagePath"] {
                values.push(query_value(&service_key(name), value));
            }
        }
        let parameters = format!("{}\\Parameters", service_key("Fn"));
        values.push(query_value(&parameters, "buffersize"));
        values.push(query_value(&parameters, "Name"));
        values.push(query_value(&format!("{}\\Parameters", service_key("Lo")), "BufferSize"));
        values
    });
    let mut expected = Vec::new();
    for name in ["Lo", "Fn", "Up"] {
        expected.extend([
            Some(RegistryValue::Dword(1)),
            Some(RegistryValue::Dword(3)),
            Some(RegistryValue::Dword(1)),
            Some(RegistryValue::String(format!("System32\\Drivers\\{name}.sys"))),
        ]);
    }
    expected.extend([
        Some(RegistryValue::Dword(4096)),
        Some(RegistryValue::String("toy".into())),
        None,
    ]);
    assert_eq!(run.value(), expected);
}

/// Every Device Manager call on a node that was removed fails with
/// CR_NO_SUCH_DEVNODE, and its queries answer nothing; a newer node reusing
/// the slot is never confused with it.
#[test]
fn device_manager_calls_on_a_stale_node_fail_with_no_such_devnode() {
    let run = Machine::sim().run(|| {
        Bench::install();
        pnp::install(package(HW, "Fn"));
        let node = pnp::add_root_device(HW).expect("started");
        assert_eq!(pnp::remove_device(node), Ok(()));
        let newer = pnp::add_root_device(HW).expect("started");
        let calls = [
            pnp::remove_device(node),
            pnp::disable_device(node),
            pnp::enable_device(node),
            pnp::stop_device(node),
            pnp::surprise_remove_device(node),
        ];
        let queries = (
            pnp::state(node),
            pnp::problem(node),
            pnp::history(node).is_empty(),
            pnp::pdo(node),
            pnp::instance_id(node),
            pnp::children(node).is_empty(),
            pnp::function_driver(node).is_none(),
            pnp::resources(node),
            pnp::devnode_text(node),
        );
        (calls, queries, pnp::is_started(newer), newer != node)
    });
    let (calls, queries, newer_started, distinct) = run.value();
    assert_eq!(calls, [const { Err(PnpError::NoSuchDevNode) }; 5]);
    assert_eq!(queries, (None, None, true, None, None, true, true, None, String::new()));
    assert!(newer_started && distinct);
}
