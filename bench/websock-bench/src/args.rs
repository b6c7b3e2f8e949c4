//! Command-line options: `--name value` and bare `--flag`, read by name with a default.
//! Every option a mode does not read is reported as unknown, so typos do not pass
//! silently.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

pub struct Args {
    vals: BTreeMap<String, Option<String>>,
    used: BTreeSet<String>,
}

impl Args {
    pub fn parse(list: &[String]) -> Result<Args, String> {
        let mut vals = BTreeMap::new();
        let mut i = 0;
        while i < list.len() {
            let Some(k) = list[i].strip_prefix("--") else {
                return Err(format!("unexpected argument {:?}", list[i]));
            };
            if let Some((k, v)) = k.split_once('=') {
                vals.insert(k.to_string(), Some(v.to_string()));
                i += 1;
            } else if i + 1 < list.len() && !list[i + 1].starts_with("--") {
                vals.insert(k.to_string(), Some(list[i + 1].clone()));
                i += 2;
            } else {
                vals.insert(k.to_string(), None);
                i += 1;
            }
        }
        Ok(Args { vals, used: BTreeSet::new() })
    }

    pub fn flag(&mut self, k: &str) -> bool {
        self.used.insert(k.to_string());
        self.vals.contains_key(k)
    }

    pub fn opt(&mut self, k: &str) -> Option<String> {
        self.used.insert(k.to_string());
        self.vals.get(k).cloned().flatten()
    }

    pub fn str(&mut self, k: &str, default: &str) -> String {
        self.opt(k).unwrap_or_else(|| default.to_string())
    }

    pub fn num<T: FromStr>(&mut self, k: &str, default: T) -> T {
        match self.opt(k) {
            None => default,
            Some(v) => v.replace('_', "").parse().unwrap_or_else(|_| {
                eprintln!("websock-bench: --{k} {v:?} is not a number");
                std::process::exit(2)
            }),
        }
    }

    /// A comma-separated list of numbers.
    pub fn list(&mut self, k: &str, default: &[usize]) -> Vec<usize> {
        match self.opt(k) {
            None => default.to_vec(),
            Some(v) => v.split(',').filter_map(|x| x.trim().replace('_', "").parse().ok()).collect(),
        }
    }

    /// Fails on options given but not read so far (call after reading them all).
    pub fn check(&self) -> Result<(), String> {
        let u = self.unknown();
        if u.is_empty() { Ok(()) } else { Err(format!("unknown option(s): {}", u.join(" "))) }
    }

    /// Options given but never read.
    pub fn unknown(&self) -> Vec<String> {
        self.vals.keys().filter(|k| !self.used.contains(*k)).map(|k| format!("--{k}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_flags_and_unknowns() {
        let v: Vec<String> = ["--connections", "1_000", "--json", "--size=64", "--typo", "x"].iter().map(|s| s.to_string()).collect();
        let mut a = Args::parse(&v).unwrap();
        assert_eq!(a.num("connections", 0usize), 1000);
        assert!(a.flag("json"));
        assert_eq!(a.num("size", 0usize), 64);
        assert!(!a.flag("quick"));
        assert_eq!(a.unknown(), vec!["--typo".to_string()]);
    }
}
