//! The object namespace: named devices (`\Device\...`) and symbolic links
//! (`\??\...`, formerly `\DosDevices`), case-insensitive as NT's are
//! (book l.3103–3127).
//!
//! Resolution takes the longest prefix of a path that names an entry; a
//! link is replaced by its target and resolution starts again; a device ends
//! it, and what is left of the path becomes the file object's FileName.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use crate::io::device::{DeviceInner, DeviceObject};
use crate::status::{NtStatus, STATUS_OBJECT_NAME_COLLISION, STATUS_OBJECT_NAME_NOT_FOUND};

/// Links followed before a path is declared unresolvable.
const LINK_DEPTH_MAX: usize = 32;

#[derive(Debug)]
enum Entry {
    Device(Weak<DeviceInner>),
    Link(String),
}

#[derive(Debug, Default)]
pub struct Namespace {
    entries: BTreeMap<String, Entry>,
}

fn key(name: &str) -> String {
    name.to_ascii_uppercase()
}

impl Namespace {
    pub(crate) fn insert_device(
        &mut self,
        name: &str,
        device: &DeviceObject,
    ) -> Result<(), NtStatus> {
        let key = key(name);
        if self.entries.contains_key(&key) {
            return Err(STATUS_OBJECT_NAME_COLLISION);
        }
        self.entries.insert(key, Entry::Device(Arc::downgrade(&device.0)));
        Ok(())
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.entries.remove(&key(name));
    }

    pub(crate) fn create_link(&mut self, link: &str, target: &str) -> Result<(), NtStatus> {
        let key = key(link);
        if self.entries.contains_key(&key) {
            return Err(STATUS_OBJECT_NAME_COLLISION);
        }
        self.entries.insert(key, Entry::Link(target.to_string()));
        Ok(())
    }

    pub(crate) fn delete_link(&mut self, link: &str) -> Result<(), NtStatus> {
        let key = key(link);
        match self.entries.get(&key) {
            Some(Entry::Link(_)) => {
                self.entries.remove(&key);
                Ok(())
            }
            _ => Err(STATUS_OBJECT_NAME_NOT_FOUND),
        }
    }

    /// The device a path names, and the rest of the path after it.
    pub(crate) fn resolve(&self, path: &str) -> Result<(DeviceObject, String), NtStatus> {
        let mut path = path.to_string();
        for _ in 0..LINK_DEPTH_MAX {
            let (prefix, rest) = self.longest_prefix(&path).ok_or(STATUS_OBJECT_NAME_NOT_FOUND)?;
            match &self.entries[&key(&prefix)] {
                Entry::Device(device) => {
                    let device =
                        device.upgrade().map(DeviceObject).ok_or(STATUS_OBJECT_NAME_NOT_FOUND)?;
                    return Ok((device, rest));
                }
                Entry::Link(target) => path = format!("{target}{rest}"),
            }
        }
        Err(STATUS_OBJECT_NAME_NOT_FOUND)
    }

    fn longest_prefix(&self, path: &str) -> Option<(String, String)> {
        let mut end = path.len();
        loop {
            let prefix = &path[..end];
            if self.entries.contains_key(&key(prefix)) {
                return Some((prefix.to_string(), path[end..].to_string()));
            }
            end = path[..end].rfind('\\').filter(|&i| i > 0)?;
        }
    }
}
