//! The Proxmox VE API schema (pve-docs' api-viewer data): finding an endpoint by method and path,
//! and checking a request's parameters the way PVE's JSONSchema code does, with its messages.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use crate::formats;

/// The schema shipped with this crate (zstd-compressed copy of `pve-api-schema.json`).
const BUNDLED: &[u8] = include_bytes!("../schema/pve-api-schema.json.zst");

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("reading the PVE API schema: {0}")]
    Read(#[from] std::io::Error),
    #[error("parsing the PVE API schema: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the PVE API schema has no top-level list of paths")]
    Shape,
}

/// One method of one path.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub path: String,
    pub method: String,
    /// `parameters.properties`: name → property schema.
    pub properties: serde_json::Map<String, Value>,
    pub additional_properties: bool,
}

pub struct Schema {
    /// Path template split into segments (`{node}` kept as is) → method → endpoint.
    paths: Vec<(Vec<String>, BTreeMap<String, Endpoint>)>,
    regexes: Mutex<HashMap<String, Option<regex::Regex>>>,
}

/// Parameter name → PVE's message, as in `{"errors": {...}}` of a 400.
pub type ParamErrors = BTreeMap<String, String>;

/// Values of a path's template segments (`node` → `pve1`).
pub type PathVars = BTreeMap<String, String>;

/// Why `find` found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    Path,
    Method,
}

impl Schema {
    /// The schema bundled with the crate.
    pub fn bundled() -> Result<Self, SchemaError> {
        let json = zstd::decode_all(BUNDLED)?;
        Self::from_json(&serde_json::from_slice(&json)?)
    }

    pub fn from_json(tree: &Value) -> Result<Self, SchemaError> {
        let roots = tree.as_array().ok_or(SchemaError::Shape)?;
        let mut paths = Vec::new();
        let mut stack: Vec<&Value> = roots.iter().collect();
        while let Some(node) = stack.pop() {
            if let Some(children) = node.get("children").and_then(Value::as_array) {
                stack.extend(children);
            }
            let (Some(path), Some(info)) = (
                node.get("path").and_then(Value::as_str),
                node.get("info").and_then(Value::as_object),
            ) else {
                continue;
            };
            let mut methods = BTreeMap::new();
            for (method, spec) in info {
                let params = spec.get("parameters");
                let properties = params
                    .and_then(|p| p.get("properties"))
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let additional_properties = params
                    .and_then(|p| p.get("additionalProperties"))
                    .is_some_and(truthy);
                methods.insert(
                    method.clone(),
                    Endpoint {
                        path: path.to_owned(),
                        method: method.clone(),
                        properties,
                        additional_properties,
                    },
                );
            }
            paths.push((segments(path), methods));
        }
        Ok(Self {
            paths,
            regexes: Mutex::default(),
        })
    }

    /// The endpoint for `method` on a concrete `path` (`/nodes/pve1/lxc/100/status/current`),
    /// with the values of its template segments.
    pub fn find(&self, method: &str, path: &str) -> Result<(&Endpoint, PathVars), NotFound> {
        let wanted = segments(path);
        let mut best: Option<(usize, &BTreeMap<String, Endpoint>, PathVars)> = None;
        for (template, methods) in &self.paths {
            if template.len() != wanted.len() {
                continue;
            }
            let mut vars = BTreeMap::new();
            let mut literal = 0;
            let fits = template.iter().zip(&wanted).all(|(t, w)| {
                if let Some(var) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    vars.insert(var.to_owned(), w.clone());
                    true
                } else {
                    literal += 1;
                    t == w
                }
            });
            // A literal segment beats a variable one (`/snapshot/{snapname}` vs `/snapshot`).
            if fits && best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
                best = Some((literal, methods, vars));
            }
        }
        let (_, methods, vars) = best.ok_or(NotFound::Path)?;
        methods
            .get(method)
            .map(|e| (e, vars))
            .ok_or(NotFound::Method)
    }

    /// Checks `params` (path variables included) as PVE does; the errors name each parameter.
    pub fn validate(
        &self,
        endpoint: &Endpoint,
        params: &BTreeMap<String, String>,
    ) -> Result<(), ParamErrors> {
        let mut errors = ParamErrors::new();
        for (name, value) in params {
            match property_for(&endpoint.properties, name) {
                Some(prop) => {
                    if let Err(msg) = self.check_value(prop, value) {
                        errors.insert(name.clone(), msg);
                    }
                }
                None if !endpoint.additional_properties => {
                    errors.insert(
                        name.clone(),
                        "property is not defined in schema and the schema does not allow \
                         additional properties"
                            .into(),
                    );
                }
                None => {}
            }
        }
        for (name, prop) in &endpoint.properties {
            let optional = prop.get("optional").is_some_and(truthy);
            if !optional && !name.ends_with("[n]") && !params.contains_key(name) {
                errors.insert(
                    name.clone(),
                    "property is missing and it is not optional".into(),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// One value against its property schema; PVE's message on failure.
    fn check_value(&self, prop: &Value, value: &str) -> Result<(), String> {
        let kind = prop.get("type").and_then(Value::as_str).unwrap_or("string");
        match kind {
            "integer" => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| format!("type check ('integer') failed - got '{value}'"))?;
                check_range(prop, n as f64)?;
            }
            "number" => {
                let n: f64 = value
                    .parse()
                    .map_err(|_| format!("type check ('number') failed - got '{value}'"))?;
                check_range(prop, n)?;
            }
            "boolean"
                if !matches!(
                    value.to_ascii_lowercase().as_str(),
                    "1" | "0" | "yes" | "no" | "on" | "off" | "true" | "false"
                ) =>
            {
                return Err(format!("type check ('boolean') failed - got '{value}'"));
            }
            _ => {}
        }
        if let Some(choices) = prop.get("enum").and_then(Value::as_array) {
            let names: Vec<&str> = choices.iter().filter_map(Value::as_str).collect();
            if !names.contains(&value) {
                return Err(format!(
                    "value '{value}' does not have a value in the enumeration '{}'",
                    names.join(", ")
                ));
            }
        }
        if let Some(min) = number(prop.get("minLength"))
            && (value.chars().count() as f64) < min
        {
            return Err(format!("value length must be at least {min}"));
        }
        if let Some(max) = number(prop.get("maxLength"))
            && (value.chars().count() as f64) > max
        {
            return Err(format!("value may only be {max} characters long"));
        }
        if let Some(pattern) = prop.get("pattern").and_then(Value::as_str)
            && let Some(re) = self.regex(pattern)
            && !re.is_match(value)
        {
            return Err("value does not match the regex pattern".into());
        }
        match prop.get("format") {
            Some(Value::String(name)) => formats::check(name, value),
            Some(Value::Object(keys)) => self.check_property_string(keys, value),
            _ => Ok(()),
        }
    }

    /// A property string (`name=eth0,bridge=vmbr0,ip=dhcp`) against its format's keys.
    fn check_property_string(
        &self,
        keys: &serde_json::Map<String, Value>,
        value: &str,
    ) -> Result<(), String> {
        let default_key = keys
            .iter()
            .find(|(_, p)| p.get("default_key").is_some_and(truthy))
            .map(|(k, _)| k.clone());
        let mut seen = Vec::new();
        let mut problems = Vec::new();
        for part in value.split(',').filter(|p| !p.is_empty()) {
            let (key, val) = match part.split_once('=') {
                Some((k, v)) => (k.to_owned(), v),
                None => {
                    match &default_key {
                        Some(k) => (k.clone(), part),
                        None => {
                            problems.push(format!("{part}: value without key, but schema does not define a default key"));
                            continue;
                        }
                    }
                }
            };
            match keys.get(&key) {
                Some(prop) => {
                    if let Err(msg) = self.check_value(prop, val) {
                        problems.push(format!("{key}: {msg}"));
                    }
                }
                None => problems.push(format!(
                    "{key}: property is not defined in schema and the schema does not allow additional properties"
                )),
            }
            seen.push(key);
        }
        for (key, prop) in keys {
            let optional = prop.get("optional").is_some_and(truthy);
            let alias = prop.get("alias").is_some();
            if !optional && !alias && !seen.contains(key) {
                problems.push(format!("{key}: property is missing and it is not optional"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "invalid format - format error\n{}\n",
                problems.join("\n")
            ))
        }
    }

    fn regex(&self, pattern: &str) -> Option<regex::Regex> {
        let mut cache = self
            .regexes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .entry(pattern.to_owned())
            .or_insert_with(|| {
                // Perl's `(?^:…)` (default flags) is a plain group; PVE anchors every pattern.
                let rust = pattern.replace("(?^:", "(?:");
                regex::Regex::new(&format!("^(?:{rust})$")).ok()
            })
            .clone()
    }
}

/// The property schema for `name`, matching `net[n]` for `net0`, `net12`, …
fn property_for<'a>(
    properties: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Option<&'a Value> {
    if let Some(prop) = properties.get(name) {
        return Some(prop);
    }
    let digits = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if digits.len() == name.len() {
        return None;
    }
    properties.get(&format!("{digits}[n]"))
}

fn check_range(prop: &Value, n: f64) -> Result<(), String> {
    if let Some(min) = number(prop.get("minimum"))
        && n < min
    {
        return Err(format!("value must have a minimum value of {min}"));
    }
    if let Some(max) = number(prop.get("maximum"))
        && n > max
    {
        return Err(format!("value must have a maximum value of {max}"));
    }
    Ok(())
}

/// Schema numbers come as numbers or as strings (`"minimum": "0"`).
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64() != Some(0),
        Value::String(s) => s == "1",
        _ => false,
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}
