//! Any text as a policy file: the loader must accept or refuse it with an error, never
//! panic or hang.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let named: BTreeMap<String, String> = [
        ("backend-key", "k"),
        ("docs-backend-key", "d"),
        ("rate-limit-calls", "5"),
        ("rate-limit-renewal-period", "60"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    let _ = apim_emulator::policy::parse(Path::new("fuzz.xml"), text, &named, &["name-api-backend"]);
    let _ = apim_emulator::policy::substitute(text, &named);
    let _ = apim_emulator::template::UrlTemplate::parse(text);
});
