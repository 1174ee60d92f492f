//! Backend-key rotation with no failed request (issue 9 item 5), on the real component
//! (`wasmtime serve`) behind the emulator, under continuous load through the gateway.
//!
//! The sequence is `infra/scripts/rotate-backend-key.sh`'s, modelled locally: a rolling
//! update of the app is a new host process the gateway is switched to (emulator settings
//! file + SIGHUP, as a Kubernetes Service moves to new pods), and API Management's named
//! value refresh is the same settings file's `namedValues`:
//! 1. the app gets the next key beside the current one (a new backend with `*_next`);
//! 2. the gateway's named values switch to the next key;
//! 3. the app is promoted (a new backend whose current key is the new one, no next);
//! 4. the old key is gone: it is refused at the component.
//!
//! Both credentials (the `api` API's and the docs API's) rotate at once. Every response
//! during the whole sequence must be 2xx.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{self, send, Emulator, Host};

const SUBSCRIPTION: &str = "rotation-subscription-key-3f7a";
const OLD: (&str, &str) = ("rotation-old-api-key-81c2", "rotation-old-docs-key-5e0b");
const NEW: (&str, &str) = ("rotation-new-api-key-c47d", "rotation-new-docs-key-19fa");

/// A production host holding `current` and, during the rotation, `next` credentials.
fn host(current: (&str, &str), next: Option<(&str, &str)>) -> Host {
    let (next_api, next_docs) = next.unwrap_or(("", ""));
    Host::start(&[
        ("backend_key", current.0),
        ("docs_backend_key", current.1),
        ("backend_key_next", next_api),
        ("docs_backend_key_next", next_docs),
        ("require_backend_key", "true"),
        ("api_base", "/api"),
    ])
}

fn write_settings(path: &std::path::Path, backend: &Host, keys: (&str, &str)) {
    let text = serde_json::json!({
        "backend": backend.base,
        "namedValues": {
            "backend-key": keys.0,
            "docs-backend-key": keys.1,
            // Load, not the rate limit, is under test.
            "rate-limit-calls": "100000000",
        },
    })
    .to_string();
    // Write then rename, so the emulator never reads a half-written file.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, path).unwrap();
}

/// Load through the gateway on both APIs until stopped: (responses, failures seen).
struct Load {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(gateway: &Emulator, threads: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..threads)
            .map(|n| {
                let (stop, done, failures) = (stop.clone(), done.clone(), failures.clone());
                let api = gateway.url("/api/generate_name");
                let docs = gateway.url("/public/openapi.json");
                std::thread::spawn(move || {
                    let mut i = n;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let (url, headers): (&str, &[(&str, &str)]) = if i % 3 == 0 {
                            (&docs, &[])
                        } else {
                            (&api, &[("Ocp-Apim-Subscription-Key", SUBSCRIPTION)])
                        };
                        let reply = send("GET", url, headers);
                        if !(200..300).contains(&reply.status) {
                            failures.lock().unwrap().push(format!(
                                "{url}: {} {}",
                                reply.status,
                                reply.text()
                            ));
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Load {
            stop,
            done,
            failures,
            threads,
        }
    }

    /// Let at least `count` more requests complete.
    fn wait_for(&self, count: u64) {
        let target = self.done.load(Ordering::Relaxed) + count;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while self.done.load(Ordering::Relaxed) < target {
            assert!(std::time::Instant::now() < deadline, "load stalled");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().unwrap();
        }
        let failures = self.failures.lock().unwrap().clone();
        (self.done.load(Ordering::Relaxed), failures)
    }
}

#[test]
fn both_credentials_rotate_under_load_without_a_failed_request() {
    let settings =
        common::artifacts_dir().join(format!("rotation-settings-{}.json", std::process::id()));
    let before = host(OLD, None);
    write_settings(&settings, &before, OLD);
    let gateway = Emulator::start_with_env(
        "http://127.0.0.1:9",
        &[SUBSCRIPTION],
        &[],
        &[("APIM_EMULATOR_SETTINGS_FILE", settings.to_str().unwrap())],
    );
    let load = Load::start(&gateway, 4);
    load.wait_for(200);

    let switch = |backend: &Host, keys: (&str, &str)| {
        write_settings(&settings, backend, keys);
        let line = gateway.hangup();
        assert!(line.contains("settings reloaded"), "{line}");
        load.wait_for(200);
    };
    // 1. The app accepts the next keys beside the current ones (rolling update).
    let during = host(OLD, Some(NEW));
    switch(&during, OLD);
    // 2. The gateway sends the new keys.
    switch(&during, NEW);
    // 3. Promote: the new keys become current, no next (rolling update).
    let after = host(NEW, None);
    switch(&after, NEW);
    drop((before, during));
    load.wait_for(200);
    let (requests, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed during the rotation, first: {:?}",
        failures.len(),
        failures.first()
    );

    // 4. The old keys are gone: refused at the component, on each scope.
    for (path, old) in [("/generate_name", OLD.0), ("/docs", OLD.1)] {
        let reply = send("GET", &after.url(path), &[("x-backend-key", old)]);
        assert_eq!(reply.status, 401, "old key on {path}");
    }
    for (path, new) in [("/generate_name", NEW.0), ("/openapi.json", NEW.1)] {
        let reply = send("GET", &after.url(path), &[("x-backend-key", new)]);
        assert_eq!(reply.status, 200, "new key on {path}");
    }
    let log = gateway.log_text() + &after.log_text();
    for secret in [OLD.0, OLD.1, NEW.0, NEW.1] {
        assert!(!log.contains(secret), "a credential in a log");
    }
}
