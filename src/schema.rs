//! The JSON Schema of the configuration, generated from the raw config types.
//! `schemas/pimplan.schema.json` is this output, checked fresh by a test.

use crate::config::raw::RawFile;

pub fn schema_json() -> String {
    let mut schema = schemars::schema_for!(RawFile);
    schema.insert(
        "$id".to_owned(),
        serde_json::Value::String("https://pimplan.invalid/schemas/pimplan.schema.json".to_owned()),
    );
    let mut out = serde_json::to_string_pretty(&schema).unwrap_or_else(|_| "{}".to_owned());
    out.push('\n');
    out
}
