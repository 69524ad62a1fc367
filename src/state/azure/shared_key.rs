//! Shared Key authorization of a Blob request: `Authorization: SharedKey ACCOUNT:SIGNATURE`,
//! the signature an HMAC-SHA256, under the account key, of the request's StringToSign
//! (learn.microsoft.com, "Authorize with Shared Key"; verified against Azurite, which checks
//! it):
//!
//! ```text
//! VERB \n Content-Encoding \n Content-Language \n Content-Length (empty when 0) \n
//! Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n If-None-Match \n
//! If-Unmodified-Since \n Range \n
//! x-ms-name:value \n … (the x-ms-* headers, lower-case, sorted)
//! /ACCOUNT/encoded/uri/path (`/devstoreaccount1/devstoreaccount1/c/b` for the emulator)
//! \nname:value … (each query parameter, lower-case, sorted; values decoded, a repeated
//! parameter's values sorted and joined by `,`)
//! ```
//!
//! The key never leaves this module: [`SharedKey`]'s `Debug` shows the account only.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The standard headers of the StringToSign, in its order (`Content-Length` is taken from
/// the body, not from this list).
const STANDARD_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// What of a request the signature covers.
pub struct Signable<'a> {
    pub method: &'a str,
    /// Every header sent, names in lower case.
    pub headers: &'a [(String, String)],
    /// The body's length in bytes.
    pub content_length: usize,
    /// The URI path as sent (percent-encoded), starting with `/`.
    pub path: &'a str,
    /// The query parameters as sent, values not encoded.
    pub query: &'a [(String, String)],
}

/// An account name and its key (decoded from the base64 the portal shows).
#[derive(Clone)]
pub struct SharedKey {
    account: String,
    key: Vec<u8>,
}

/// Why a key cannot be used; the key itself is never part of the message.
#[derive(Debug, thiserror::Error)]
#[error(
    "the storage account key (AZURE_STORAGE_KEY) {0}; copy key1 or key2 of the storage account as shown (`az storage account keys list`)"
)]
pub struct KeyError(&'static str);

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedKey({}, [redacted])", self.account)
    }
}

impl SharedKey {
    /// `key` as the portal and `az storage account keys list` show it (base64).
    pub fn new(account: &str, key: &str) -> Result<SharedKey, KeyError> {
        let key = STANDARD
            .decode(key.trim())
            // Not the decoder's message: it names a character of the key.
            .map_err(|_| KeyError("is not base64"))?;
        if key.is_empty() {
            return Err(KeyError("is empty"));
        }
        Ok(SharedKey {
            account: account.to_owned(),
            key,
        })
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// The `Authorization` header's value for `request`.
    pub fn authorization(&self, request: &Signable<'_>) -> String {
        format!(
            "SharedKey {}:{}",
            self.account,
            self.signature(&string_to_sign(&self.account, request))
        )
    }

    /// base64(HMAC-SHA256(key, text)).
    pub fn signature(&self, text: &str) -> String {
        // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(text.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// The StringToSign of `request` for `account` (see the module's documentation).
pub fn string_to_sign(account: &str, request: &Signable<'_>) -> String {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut text = String::new();
    text.push_str(&request.method.to_ascii_uppercase());
    text.push('\n');
    for name in STANDARD_HEADERS {
        if name == "content-length" {
            if request.content_length > 0 {
                text.push_str(&request.content_length.to_string());
            }
        } else {
            text.push_str(&header(name));
        }
        text.push('\n');
    }
    let mut ms: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, value) in request.headers {
        let name = name.to_ascii_lowercase();
        if name.starts_with("x-ms-") {
            ms.entry(name).or_default().push(value.trim());
        }
    }
    for (name, values) in &ms {
        text.push_str(name);
        text.push(':');
        text.push_str(&values.join(","));
        text.push('\n');
    }
    text.push('/');
    text.push_str(account);
    text.push_str(request.path);
    let mut query: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, value) in request.query {
        query
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value);
    }
    for (name, mut values) in query {
        values.sort_unstable();
        text.push('\n');
        text.push_str(&name);
        text.push(':');
        text.push_str(&values.join(","));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn the_string_to_sign_of_a_fenced_put() {
        let headers = pairs(&[
            ("x-ms-version", "2025-11-05"),
            ("content-type", "application/json"),
            ("if-match", "\"0x8D\""),
            ("x-ms-date", "Tue, 01 Dec 2026 10:00:00 GMT"),
            ("x-ms-blob-type", "BlockBlob"),
            ("content-md5", "XUFAKrxLKna5cZ2REBfFkg=="),
            ("x-ms-lease-id", "l-1"),
            ("x-ms-meta-pimplanlock", "e30="),
        ]);
        let request = Signable {
            method: "PUT",
            headers: &headers,
            content_length: 5,
            path: "/devstoreaccount1/c/prod/pimplan.state.json",
            query: &[],
        };
        assert_eq!(
            string_to_sign("devstoreaccount1", &request),
            "PUT\n\n\n5\nXUFAKrxLKna5cZ2REBfFkg==\napplication/json\n\n\n\"0x8D\"\n\n\n\n\
             x-ms-blob-type:BlockBlob\nx-ms-date:Tue, 01 Dec 2026 10:00:00 GMT\n\
             x-ms-lease-id:l-1\nx-ms-meta-pimplanlock:e30=\nx-ms-version:2025-11-05\n\
             /devstoreaccount1/devstoreaccount1/c/prod/pimplan.state.json"
        );
    }

    #[test]
    fn an_empty_body_and_the_query_parameters() {
        let headers = pairs(&[("x-ms-lease-action", "acquire")]);
        let query = pairs(&[
            ("restype", "container"),
            ("comp", "list"),
            ("include", "metadata,snapshots"),
            ("prefix", "a:b"),
        ]);
        let request = Signable {
            method: "get",
            headers: &headers,
            content_length: 0,
            path: "/c",
            query: &query,
        };
        assert_eq!(
            string_to_sign("acct", &request),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-lease-action:acquire\n/acct/c\ncomp:list\ninclude:metadata,snapshots\nprefix:a:b\nrestype:container"
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_and_the_key_is_never_shown() -> Result<(), KeyError> {
        // RFC 4231, test case 2 ("Jefe" is SmVmZQ== in base64).
        let key = SharedKey::new("acct", "SmVmZQ==")?;
        assert_eq!(
            key.signature("what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
        assert_eq!(format!("{key:?}"), "SharedKey(acct, [redacted])");
        let bad = SharedKey::new("acct", "hunter2!")
            .err()
            .map(|e| e.to_string());
        assert!(
            bad.as_deref()
                .is_some_and(|e| e.contains("is not base64") && !e.contains("hunter")),
            "{bad:?}"
        );
        Ok(())
    }
}
