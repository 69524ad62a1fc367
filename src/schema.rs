//! The JSON Schema of the configuration, generated from the raw config types (their doc
//! comments are the descriptions). `schemas/pimplan.schema.json` is this output, checked
//! fresh by a test; `PIMPLAN_UPDATE_SCHEMA=1 cargo test` rewrites it.

use serde_json::Value;

use crate::config::raw::RawFile;

/// A key left out is "unset": the schema need not offer `null` for optional keys.
fn drop_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".to_owned(), only);
                }
            }
            if let Some(Value::Array(any)) = map.get("anyOf") {
                let rest: Vec<Value> = any
                    .iter()
                    .filter(|v| v.get("type") != Some(&Value::String("null".to_owned())))
                    .cloned()
                    .collect();
                if rest.len() == 1 {
                    map.remove("anyOf");
                    if let Value::Object(inner) = &rest[0] {
                        for (k, v) in inner {
                            map.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                }
            }
            for v in map.values_mut() {
                drop_null(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

pub fn schema_json() -> String {
    let schema = schemars::schema_for!(RawFile);
    let mut value = schema.to_value();
    drop_null(&mut value);
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".to_owned());
    out.push('\n');
    out
}
