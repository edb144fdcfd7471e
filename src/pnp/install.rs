//! Installed driver packages and driver selection: what an INF's models
//! line and install sections tell the PnP manager (book l.7400–7445; spec 03
//! §4.3–4.5), as a Rust value instead of INF text.
//!
//! A device's hardware ids (most specific first) and compatible ids are
//! ranked against every package's hardware and compatible ids, W2000's way:
//! lower wins; ties go to the newer DriverVer, then to the package installed
//! first. Ids compare case-insensitively.

use std::fmt;

use crate::cm::RegistryValue;
use crate::io::DriverEntryFn;

/// A driver a package installs: its service name and entry point.
#[derive(Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    pub entry: DriverEntryFn,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Service {
    pub fn new(name: &'static str, entry: DriverEntryFn) -> Service {
        Service { name, entry }
    }
}

/// An installed driver package: one models line and its install section.
#[derive(Clone, Debug)]
pub struct DriverPackage {
    /// The models line's description (Device Manager's name for the device).
    pub description: String,
    /// The models line's hardware id, e.g. `*wdmBook\Wdm2`.
    pub hardware_id: String,
    /// The models line's compatible ids.
    pub compatible_ids: Vec<String>,
    /// The function driver (AddService with SPSVCINST_ASSOCSERVICE).
    pub service: Service,
    /// Lower filters, bottom-up (LowerFilters).
    pub lower_filters: Vec<Service>,
    /// Upper filters, bottom-up (UpperFilters).
    pub upper_filters: Vec<Service>,
    /// Values for the service's Parameters key.
    pub parameters: Vec<(String, RegistryValue)>,
    /// DriverVer as (year, month, day): the newer package wins a tie.
    pub driver_date: (u16, u8, u8),
}

impl DriverPackage {
    /// A package binding `hardware_id` to the function driver `service`.
    pub fn new(hardware_id: &str, service: Service) -> DriverPackage {
        DriverPackage {
            description: service.name.to_string(),
            hardware_id: hardware_id.to_string(),
            compatible_ids: Vec::new(),
            service,
            lower_filters: Vec::new(),
            upper_filters: Vec::new(),
            parameters: Vec::new(),
            driver_date: (2000, 1, 1),
        }
    }

    pub fn description(mut self, description: &str) -> DriverPackage {
        self.description = description.to_string();
        self
    }

    pub fn compatible_id(mut self, id: &str) -> DriverPackage {
        self.compatible_ids.push(id.to_string());
        self
    }

    pub fn lower_filter(mut self, service: Service) -> DriverPackage {
        self.lower_filters.push(service);
        self
    }

    pub fn upper_filter(mut self, service: Service) -> DriverPackage {
        self.upper_filters.push(service);
        self
    }

    pub fn parameter(mut self, name: &str, value: RegistryValue) -> DriverPackage {
        self.parameters.push((name.to_string(), value));
        self
    }

    pub fn driver_date(mut self, year: u16, month: u8, day: u8) -> DriverPackage {
        self.driver_date = (year, month, day);
        self
    }

    /// How well this package matches a device (lower is better), or `None`.
    pub(crate) fn rank(&self, hardware_ids: &[String], compatible_ids: &[String]) -> Option<u32> {
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let mut best: Option<u32> = None;
        let mut offer = |rank: u32| best = Some(best.map_or(rank, |b| b.min(rank)));
        for (i, id) in hardware_ids.iter().enumerate() {
            let i = i as u32;
            if same(id, &self.hardware_id) {
                offer(i);
            }
            if self.compatible_ids.iter().any(|c| same(id, c)) {
                offer(0x1000 + i);
            }
        }
        for (i, id) in compatible_ids.iter().enumerate() {
            let i = i as u32;
            if same(id, &self.hardware_id) {
                offer(0x2000 + i);
            }
            for (j, c) in self.compatible_ids.iter().enumerate() {
                if same(id, c) {
                    offer(0x3000 + 0x100 * j as u32 + i);
                }
            }
        }
        best
    }
}

/// The installed packages, in installation order.
#[derive(Debug, Default)]
pub(crate) struct DriverStore {
    packages: Vec<DriverPackage>,
}

impl DriverStore {
    pub(crate) fn install(&mut self, package: DriverPackage) {
        self.packages.push(package);
    }

    /// The best package for a device: lowest rank, then newest date, then
    /// first installed.
    pub(crate) fn select(
        &self,
        hardware_ids: &[String],
        compatible_ids: &[String],
    ) -> Option<DriverPackage> {
        let mut best: Option<(u32, &DriverPackage)> = None;
        for package in &self.packages {
            let Some(rank) = package.rank(hardware_ids, compatible_ids) else { continue };
            let better = match best {
                None => true,
                Some((r, b)) => rank < r || (rank == r && package.driver_date > b.driver_date),
            };
            if better {
                best = Some((rank, package));
            }
        }
        best.map(|(_, package)| package.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::DriverObject;
    use crate::status::{NtStatus, STATUS_SUCCESS};

    fn entry(_: &mut DriverObject, _: &str) -> NtStatus {
        STATUS_SUCCESS
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ranks_follow_the_w2000_scheme() {
        let package = DriverPackage::new("PCI\\VEN_1&DEV_2", Service::new("a", entry))
            .compatible_id("PCI\\CC_0700")
            .compatible_id("PCI\\CC_07");
        let hw = ids(&["PCI\\VEN_1&DEV_2&REV_1", "pci\\ven_1&dev_2"]);
        assert_eq!(package.rank(&hw, &[]), Some(1), "second hardware id, case-insensitive");
        assert_eq!(package.rank(&ids(&["PCI\\CC_07"]), &[]), Some(0x1000));
        assert_eq!(package.rank(&[], &ids(&["x", "PCI\\VEN_1&DEV_2"])), Some(0x2001));
        assert_eq!(package.rank(&[], &ids(&["x", "y", "PCI\\CC_07"])), Some(0x3102));
        assert_eq!(package.rank(&ids(&["other"]), &ids(&["other"])), None);
    }

    #[test]
    fn the_best_rank_wins_then_the_newest_date_then_the_first_installed() {
        let mut store = DriverStore::default();
        store.install(
            DriverPackage::new("*dev", Service::new("old", entry)).driver_date(1999, 1, 1),
        );
        store.install(
            DriverPackage::new("*dev", Service::new("new", entry)).driver_date(2000, 6, 1),
        );
        store.install(
            DriverPackage::new("*dev", Service::new("same", entry)).driver_date(2000, 6, 1),
        );
        store.install(
            DriverPackage::new("*other", Service::new("compat", entry)).compatible_id("*dev"),
        );
        let pick = |hw: &[&str], compat: &[&str]| {
            store.select(&ids(hw), &ids(compat)).map(|p| p.service.name)
        };
        assert_eq!(pick(&["*dev"], &[]), Some("new"));
        assert_eq!(pick(&["*nothing", "*dev"], &[]), Some("new"));
        assert_eq!(pick(&["*x"], &["*dev"]), Some("new"), "a compatible id naming the hardware id");
        assert_eq!(pick(&["*x"], &[]), None);
    }
}
