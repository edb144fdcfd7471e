//! Hardware resources: CM_RESOURCE_LIST as IRP_MN_START_DEVICE carries it
//! (book l.5740–5764), the requirements a bus reports, and the translation
//! from bus (raw) to processor (translated) terms (l.5720, Table 9.1).
//!
//! A WDM device gets one full descriptor; this module models that one
//! descriptor's partial list directly.

use crate::hal::{irql_for_irq, vector_for_irq};
use crate::ke::InterruptMode;

/// CM_SHARE_DISPOSITION.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShareDisposition {
    #[default]
    Undetermined,
    DeviceExclusive,
    DriverExclusive,
    Shared,
}

/// CM_PARTIAL_RESOURCE_DESCRIPTOR, one variant per CM_RESOURCE_TYPE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartialResource {
    /// Port: `io_space` is CM_RESOURCE_PORT_IO (else memory-mapped, to be
    /// mapped with MmMapIoSpace).
    Port {
        start: u64,
        length: u32,
        io_space: bool,
    },
    /// Interrupt: `mode` is CM_RESOURCE_INTERRUPT_LATCHED or LEVEL_SENSITIVE.
    Interrupt {
        level: u32,
        vector: u32,
        affinity: u64,
        mode: InterruptMode,
    },
    Memory {
        start: u64,
        length: u32,
    },
    Dma {
        channel: u32,
        port: u32,
    },
    DeviceSpecific {
        data: Vec<u8>,
    },
    BusNumber {
        start: u32,
        length: u32,
    },
}

/// A partial descriptor with its share disposition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceDescriptor {
    pub share: ShareDisposition,
    pub resource: PartialResource,
}

/// CM_RESOURCE_LIST with its one full descriptor: what a device was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CmResourceList {
    pub descriptors: Vec<ResourceDescriptor>,
}

impl CmResourceList {
    /// The same resources as the processor sees them: an IRQ `n` becomes
    /// vector 0x30 + n at DIRQL 27 − n with affinity 1; ports and memory
    /// keep their addresses (Table 9.1; spec 02 §3.2).
    pub fn translated(&self) -> CmResourceList {
        let descriptors = self
            .descriptors
            .iter()
            .map(|d| {
                let resource = match &d.resource {
                    PartialResource::Interrupt { level, mode, .. } => {
                        let irq = (*level).min(15) as u8;
                        PartialResource::Interrupt {
                            level: u32::from(irql_for_irq(irq).0),
                            vector: vector_for_irq(irq),
                            affinity: 1,
                            mode: *mode,
                        }
                    }
                    other => other.clone(),
                };
                ResourceDescriptor { share: d.share, resource }
            })
            .collect();
        CmResourceList { descriptors }
    }

    pub fn is_empty(&self) -> bool {
        self.descriptors.is_empty()
    }
}

/// IO_RESOURCE_REQUIREMENTS_LIST reduced to one alternative: the resources
/// a device needs (a bus reports them; function and filter drivers may
/// change them in IRP_MN_FILTER_RESOURCE_REQUIREMENTS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceRequirements {
    pub descriptors: Vec<ResourceDescriptor>,
}

impl ResourceRequirements {
    /// The assignment that meets these requirements exactly (the simulated
    /// arbiter has no competing devices to rebalance against).
    pub fn assign(&self) -> CmResourceList {
        CmResourceList { descriptors: self.descriptors.clone() }
    }
}
