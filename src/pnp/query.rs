//! What the PnP query IRPs ask and answer (book l.5981–6043): relation,
//! id and text types, the PNP_DEVICE_STATE bits, and the data a driver
//! returns where NT puts a pointer in IoStatus.Information.

use super::resources::{CmResourceList, ResourceRequirements};
use crate::io::DeviceObject;

/// DEVICE_RELATION_TYPE (book l.6001–6003).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceRelationType {
    BusRelations = 0,
    EjectionRelations = 1,
    PowerRelations = 2,
    RemovalRelations = 3,
    TargetDeviceRelation = 4,
}

/// BUS_QUERY_ID_TYPE (book l.6011).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BusQueryIdType {
    DeviceId = 0,
    HardwareIds = 1,
    CompatibleIds = 2,
    InstanceId = 3,
}

/// DEVICE_TEXT_TYPE (book l.6008).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceTextType {
    Description = 0,
    LocationInformation = 1,
}

/// PNP_DEVICE_STATE bits (book Table 9.3, l.6019), ORed into
/// IoStatus.Information by IRP_MN_QUERY_PNP_DEVICE_STATE.
pub const PNP_DEVICE_DISABLED: usize = 0x01;
pub const PNP_DEVICE_DONT_DISPLAY_IN_UI: usize = 0x02;
pub const PNP_DEVICE_FAILED: usize = 0x04;
pub const PNP_DEVICE_REMOVED: usize = 0x08;
pub const PNP_DEVICE_RESOURCE_REQUIREMENTS_CHANGED: usize = 0x10;
pub const PNP_DEVICE_NOT_DISABLEABLE: usize = 0x20;

/// The answer to a PnP query, where NT's IoStatus.Information holds a
/// pointer: each driver on the way up may read it or replace it.
#[derive(Clone, Debug, PartialEq)]
pub enum PnpInformation {
    /// DEVICE_RELATIONS: the devices, each referenced.
    Relations(Vec<DeviceObject>),
    /// A device or instance id.
    Id(String),
    /// Hardware or compatible ids, most specific first (a MULTI_SZ).
    Ids(Vec<String>),
    /// A device text.
    Text(String),
    /// QUERY_RESOURCES: the boot configuration.
    Resources(CmResourceList),
    /// QUERY_RESOURCE_REQUIREMENTS and FILTER_RESOURCE_REQUIREMENTS.
    Requirements(ResourceRequirements),
}
