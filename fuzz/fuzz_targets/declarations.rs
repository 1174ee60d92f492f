//! The emulator's declarations: any text in place of one declaration file (either API,
//! the backend entities, the named values, the OpenAPI document the `api` API imports
//! its operations from) must be loaded or refused with an error, never a panic or hang.
//! And URL templates: any template with any path matches or not without panicking, and a
//! template always matches the path it describes.
#![no_main]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use apim_emulator::declarations::{self, APIS, BACKENDS, NAMED_VALUES};
use apim_emulator::template::UrlTemplate;
use libfuzzer_sys::fuzz_target;

/// The files an input may replace (chosen by its first byte).
const FUZZED: [&str; 5] = [
    APIS[0],
    APIS[1],
    BACKENDS,
    NAMED_VALUES,
    "static-docs/openapi.json",
];
/// Read by the loader besides those.
const POLICIES: [&str; 2] = [
    "infra/apim/policies/api.xml",
    "infra/apim/policies/public.xml",
];

/// A scratch copy of the repository's declarations, one per fuzzing process.
fn scratch_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let root = std::env::temp_dir().join(format!(
            "name-api-fuzz-declarations-{}",
            std::process::id()
        ));
        for file in FUZZED.iter().chain(&POLICIES) {
            let to = root.join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(repo.join(file), to).unwrap();
        }
        root
    })
}

/// A path `template` describes: `{name}` as `x`, `{*name}` as `a/b`; `None` for a
/// template with an empty segment (`//`, a trailing `/`), which describes no single path.
fn instance(template: &str) -> Option<String> {
    if template == "/" {
        return Some("/".to_owned());
    }
    let mut path = String::new();
    for segment in template.strip_prefix('/')?.split('/') {
        path.push('/');
        match segment {
            "" => return None,
            s if s.starts_with("{*") => path.push_str("a/b"),
            s if s.starts_with('{') => path.push('x'),
            s => path.push_str(s),
        }
    }
    Some(path)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };

    // Layout for templates: the first line is a template, the second a path.
    let mut lines = text.lines();
    let template = lines.next().unwrap_or("");
    let path = lines.next().unwrap_or("/");
    if let Ok(parsed) = UrlTemplate::parse(template) {
        let _ = parsed.matches(path);
        if let Some(described) = instance(template) {
            assert!(parsed.matches(&described), "{template} vs {described}");
        }
    }

    // A declaration naming a device or process file (`/dev/zero` as a policy file) would
    // make the loader read forever; declarations are the repository's own files, so that
    // is not an input to guard against.
    if ["/dev", "/proc", "/sys"].iter().any(|d| text.contains(d)) {
        return;
    }
    let root = scratch_root();
    let file = root.join(FUZZED[usize::from(selector) % FUZZED.len()]);
    let original = std::fs::read(&file).unwrap();
    std::fs::write(&file, text).unwrap();
    let given: BTreeMap<String, String> = [("backend-key", "k"), ("docs-backend-key", "d")]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    if let Ok(named) = declarations::named_values(root, &given) {
        let _ = declarations::load(root, &named);
    }
    std::fs::write(&file, original).unwrap();
});
