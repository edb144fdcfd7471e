//! The configuration manager's registry: keys of named values, as the
//! PnP manager's installs write them and drivers read them (book l.1487,
//! l.7368–7390; spec 03 §4.2).
//!
//! Key paths are NT paths (`\REGISTRY\Machine\System\CurrentControlSet\
//! Services\Wdm2\Parameters`); paths and value names compare
//! case-insensitively, as in Windows.

use std::collections::BTreeMap;

use crate::sim::system::with_system;

/// A registry value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryValue {
    /// REG_SZ.
    String(String),
    /// REG_MULTI_SZ.
    MultiString(Vec<String>),
    /// REG_DWORD.
    Dword(u32),
    /// REG_BINARY.
    Binary(Vec<u8>),
}

/// The service key of a driver: the RegistryPath its DriverEntry gets.
pub fn service_key(service: &str) -> String {
    format!("\\REGISTRY\\Machine\\System\\CurrentControlSet\\Services\\{service}")
}

/// One machine's registry.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Lower-cased key path → value name (lower-cased) → value.
    keys: BTreeMap<String, BTreeMap<String, RegistryValue>>,
}

impl Registry {
    pub(crate) fn set_value(&mut self, key: &str, name: &str, value: RegistryValue) {
        let values = self.keys.entry(key.to_ascii_lowercase()).or_default();
        values.insert(name.to_ascii_lowercase(), value);
    }

    fn value(&self, key: &str, name: &str) -> Option<RegistryValue> {
        self.keys.get(&key.to_ascii_lowercase())?.get(&name.to_ascii_lowercase()).cloned()
    }
}

/// A value of the current machine's registry (what ZwQueryValueKey reads),
/// or `None` if the key or value does not exist.
pub fn query_value(key: &str, name: &str) -> Option<RegistryValue> {
    with_system(|s| s.registry.lock().value(key, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names_compare_case_insensitively() {
        let mut registry = Registry::default();
        let key = service_key("Wdm2");
        registry.set_value(&key, "Start", RegistryValue::Dword(3));
        assert_eq!(registry.value(&key.to_uppercase(), "start"), Some(RegistryValue::Dword(3)));
        assert_eq!(registry.value(&key, "Type"), None);
        assert_eq!(registry.value("\\REGISTRY\\Machine\\Other", "Start"), None);
    }
}
