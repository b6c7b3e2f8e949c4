//! The per-loop tag index: which connections of this loop carry which tags, in both
//! directions. It sits behind a mutex so any thread can tag, untag, count and list
//! directly; the loop thread takes the same lock to deliver a tag send. Connections are
//! named by slot: a slot's entries are removed before the slot is reused.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct TagIndex {
    by_tag: HashMap<Arc<str>, HashSet<u32>>,
    by_slot: HashMap<u32, Vec<Arc<str>>>,
}

impl TagIndex {
    /// Adds `tag` to `slot`; false if it was already there.
    pub fn add(&mut self, slot: u32, tag: &str) -> bool {
        let key = match self.by_tag.get_key_value(tag) {
            Some((k, _)) => k.clone(),
            None => Arc::from(tag),
        };
        let members = self.by_tag.entry(key.clone()).or_default();
        if !members.insert(slot) {
            return false;
        }
        self.by_slot.entry(slot).or_default().push(key);
        true
    }

    /// Removes `tag` from `slot`; false if it was not there.
    pub fn remove(&mut self, slot: u32, tag: &str) -> bool {
        let Some(members) = self.by_tag.get_mut(tag) else { return false };
        if !members.remove(&slot) {
            return false;
        }
        if members.is_empty() {
            self.by_tag.remove(tag);
        }
        if let Some(tags) = self.by_slot.get_mut(&slot) {
            tags.retain(|t| &**t != tag);
            if tags.is_empty() {
                self.by_slot.remove(&slot);
            }
        }
        true
    }

    /// Forgets every tag of a closing connection.
    pub fn remove_slot(&mut self, slot: u32) {
        if let Some(tags) = self.by_slot.remove(&slot) {
            for t in tags {
                if let Some(members) = self.by_tag.get_mut(&t) {
                    members.remove(&slot);
                    if members.is_empty() {
                        self.by_tag.remove(&t);
                    }
                }
            }
        }
    }

    pub fn members(&self, tag: &str) -> Option<&HashSet<u32>> {
        self.by_tag.get(tag)
    }

    pub fn count(&self, tag: &str) -> usize {
        self.by_tag.get(tag).map_or(0, HashSet::len)
    }

    pub fn tags_of(&self, slot: u32) -> Vec<String> {
        self.by_slot.get(&slot).map_or_else(Vec::new, |t| t.iter().map(|s| s.to_string()).collect())
    }
}

/// Tags are non-empty UTF-8 of at most 1024 bytes (Rust strings are UTF-8 already;
/// the bindings check their input before it gets here).
pub(crate) fn validate(tag: &str) -> crate::Result<()> {
    if tag.is_empty() || tag.len() > 1024 {
        return Err(crate::Error::InvalidArgument("a tag is 1 to 1024 bytes of UTF-8".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_remove_both_ways() {
        let mut ix = TagIndex::default();
        assert!(ix.add(1, "room:1"));
        assert!(!ix.add(1, "room:1"));
        assert!(ix.add(2, "room:1"));
        assert!(ix.add(1, "user:a"));
        assert_eq!(ix.count("room:1"), 2);
        assert_eq!(ix.tags_of(1), vec!["room:1".to_string(), "user:a".to_string()]);
        assert!(ix.remove(2, "room:1"));
        assert!(!ix.remove(2, "room:1"));
        ix.remove_slot(1);
        assert_eq!(ix.count("room:1"), 0);
        assert_eq!(ix.count("user:a"), 0);
        assert!(ix.by_tag.is_empty() && ix.by_slot.is_empty());
    }
}
