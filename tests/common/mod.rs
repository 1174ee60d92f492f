//! Test harness: the real component on a real WASI HTTP host, over loopback HTTP.
//!
//! [`Host::start`] runs `wasmtime serve` with the composed component that `cargo xtask
//! build` produced (the unmodified component plus the variables plug), on a free
//! 127.0.0.1 port, with Spin variables passed as `SPIN_VARIABLE_*` through the
//! environment (never on the command line). The host's output goes to a log file that
//! tests can read, e.g. to prove no secret is logged. Dropping the host stops it.
//! The command lines, the readiness wait and the stopping are `local_stack`'s, the same
//! as `cargo xtask serve`, `bench` and `soak` use; what is left here is the tests' own:
//! ports, log files, retries, and a panic with a clear message.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use local_stack::{Guard, NotReady};

/// How long a host or an emulator may take to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A path from an environment variable set by `cargo xtask test`, or a default.
fn env_path(name: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(default)
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The component exactly as Spin runs it.
pub fn component_wasm() -> PathBuf {
    let path = env_path("NAME_API_WASM", || {
        repo_root().join("target/wasm32-wasip2/release/name_api.wasm")
    });
    assert!(
        path.is_file(),
        "{} missing: run `cargo xtask test` (it builds it)",
        path.display()
    );
    path
}

/// The component composed with the variables plug, for `wasmtime serve`.
pub fn composed_wasm() -> PathBuf {
    let path = env_path("NAME_API_COMPOSED_WASM", || {
        repo_root().join("target/name_api.composed.wasm")
    });
    assert!(
        path.is_file(),
        "{} missing: run `cargo xtask test` (it builds it)",
        path.display()
    );
    path
}

fn wasmtime() -> PathBuf {
    env_path("WASMTIME", || PathBuf::from("wasmtime"))
}

/// A directory for logs and screenshots of this test run.
pub fn artifacts_dir() -> PathBuf {
    let dir = repo_root().join("tests").join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `wasmtime serve`.
pub struct Host {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub log: PathBuf,
    child: Guard,
}

impl Host {
    /// Start the component with these Spin variables (`("backend_key", "...")`, ...).
    pub fn start(variables: &[(&str, &str)]) -> Host {
        Self::start_at(None, variables)
    }

    /// Start on a given port (to restart a host where it was).
    pub fn start_on(port: u16, variables: &[(&str, &str)]) -> Host {
        Self::start_at(Some(port), variables)
    }

    fn start_at(fixed_port: Option<u16>, variables: &[(&str, &str)]) -> Host {
        let name = format!("host-{}-{}", std::process::id(), unique());
        let log = artifacts_dir().join(format!("{name}.log"));
        for _attempt in 0..3 {
            let port = fixed_port.unwrap_or_else(free_port);
            let addr = format!("127.0.0.1:{port}");
            let mut cmd = local_stack::wasmtime_serve(
                &wasmtime(),
                &composed_wasm(),
                &addr,
                &local_stack::MINIMAL_FLAGS,
                variables,
            );
            log_to(&mut cmd, &log);
            match local_stack::spawn_ready(&mut cmd, &addr, READY_WITHIN) {
                Ok(child) => {
                    return Host {
                        base: format!("http://{addr}"),
                        log,
                        child,
                    }
                }
                Err(NotReady::Io(e)) => {
                    panic!("starting wasmtime (run `cargo xtask test`, which installs it): {e}")
                }
                // Exited (port taken) or too slow: another port.
                Err(_) => continue,
            }
        }
        panic!("wasmtime serve did not come up; see {}", log.display());
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    /// Stop the host now (it stays stopped).
    pub fn stop(&mut self) {
        self.child.stop();
    }

    /// The host's output so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// No input; output (stdout and stderr) to a new `log` file.
fn log_to(cmd: &mut Command, log: &Path) {
    let log_file = std::fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file);
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A port no other test of this process is given, and free right now. Binding port 0 and
/// releasing it would let two hosts started at the same moment get the same port (the
/// loser's readiness check then succeeds against the other test's server). So ports come
/// from a process-wide counter in 20000-29999, below Linux's ephemeral range (the kernel
/// does not hand these out for outgoing connections), offset by the process id.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = (std::process::id() % 1000) * 10;
    loop {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let candidate = 20_000 + ((offset + step) % 10_000) as u16;
        if TcpListener::bind(("127.0.0.1", candidate)).is_ok() {
            return candidate;
        }
    }
}

/// A response, fully read.
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send one request; no redirects followed, no status treated as an error.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)]) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .allow_non_standard_methods(true)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut builder = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = agent
        .run(builder.body(()).unwrap())
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let (parts, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    body.as_reader().read_to_end(&mut bytes).unwrap();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: bytes,
    }
}

pub fn get(url: &str) -> Reply {
    send("GET", url, &[])
}

/// Send raw bytes and return the raw response (for requests a client library would
/// normalise or refuse to send). The request must ask for `Connection: close`. Fails on a
/// timeout or when the connection ends without a reply: a server that hangs or drops the
/// connection has not answered.
pub fn raw(base: &str, request: &[u8]) -> String {
    use std::io::{ErrorKind, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(RAW_TIMEOUT)).unwrap();
    // A server may answer an oversized head and close before reading all of it; the
    // failed write is not the result, the reply is.
    let _ = stream.write_all(request);
    let mut reply = Vec::new();
    let mut chunk = [0; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "{addr}: no complete reply within {RAW_TIMEOUT:?} ({} bytes so far)",
                    reply.len()
                )
            }
            // A reset after the answer (the server closed with our bytes unread).
            Err(_) if !reply.is_empty() => break,
            Err(e) => panic!("{addr}: connection failed before any reply: {e}"),
        }
    }
    assert!(
        !reply.is_empty(),
        "{addr}: connection closed without a reply"
    );
    String::from_utf8_lossy(&reply).into_owned()
}

const RAW_TIMEOUT: Duration = Duration::from_secs(20);

/// The first line of a raw response, e.g. `HTTP/1.1 404 Not Found`.
pub fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

/// Fails if any of `secrets` appears in any of `logs` (README, "Security": no key is
/// ever logged).
pub fn assert_not_logged(logs: &[(&str, String)], secrets: &[&str]) {
    for (name, log) in logs {
        for secret in secrets {
            assert!(!secret.is_empty(), "an empty secret proves nothing");
            assert!(!log.contains(secret), "a key appears in the {name} log");
        }
    }
}

/// The emulator binary (`cargo xtask test` builds it and sets `APIM_EMULATOR`).
pub fn emulator_bin() -> PathBuf {
    let path = env_path("APIM_EMULATOR", || {
        repo_root().join("target/debug/apim-emulator")
    });
    assert!(
        path.is_file(),
        "{} missing: run `cargo xtask test` (it builds it)",
        path.display()
    );
    path
}

/// A running `apim-emulator`.
pub struct Emulator {
    pub base: String,
    pub log: PathBuf,
    child: Guard,
}

impl Emulator {
    /// Start in front of `backend` with the subscription `keys` and named values given
    /// through the environment (as secrets should be).
    pub fn start(backend: &str, keys: &[&str], named: &[(&str, &str)]) -> Emulator {
        Self::start_with_env(backend, keys, named, &[])
    }

    /// Start with extra environment variables (e.g. `APIM_EMULATOR_HEADER_READ_TIMEOUT`).
    pub fn start_with_env(
        backend: &str,
        keys: &[&str],
        named: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Emulator {
        Self::start_full(&repo_root(), backend, keys, named, env)
            .unwrap_or_else(|log| panic!("emulator did not start:\n{log}"))
    }

    /// Start with the declarations under `root`; `Err(output)` if it exits instead.
    pub fn start_in(
        root: &Path,
        backend: &str,
        keys: &[&str],
        named: &[(&str, &str)],
    ) -> Result<Emulator, String> {
        Self::start_full(root, backend, keys, named, &[])
    }

    fn start_full(
        root: &Path,
        backend: &str,
        keys: &[&str],
        named: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Result<Emulator, String> {
        let log = artifacts_dir().join(format!("emulator-{}-{}.log", std::process::id(), unique()));
        // The docs API's credential defaults to the api API's one, so tests that are not
        // about least privilege give one key; tests that are give `docs-backend-key`.
        let mut named = named.to_vec();
        if let Some(&(_, key)) = named.iter().find(|(n, _)| *n == "backend-key") {
            if !named.iter().any(|(n, _)| *n == "docs-backend-key") {
                named.push(("docs-backend-key", key));
            }
        }
        for _attempt in 0..3 {
            let addr = format!("127.0.0.1:{}", free_port());
            let mut cmd =
                local_stack::emulator_command(&emulator_bin(), root, &addr, backend, keys, &named);
            cmd.envs(env.iter().copied());
            log_to(&mut cmd, &log);
            match local_stack::spawn_ready(&mut cmd, &addr, READY_WITHIN) {
                Ok(child) => {
                    return Ok(Emulator {
                        base: format!("http://{addr}"),
                        log,
                        child,
                    })
                }
                Err(NotReady::Io(e)) => panic!("starting apim-emulator: {e}"),
                Err(NotReady::Exited { .. }) => {
                    let output = std::fs::read_to_string(&log).unwrap_or_default();
                    if !output.contains("binding") {
                        return Err(output);
                    }
                    // Port taken: another port.
                }
                // Too slow: stopped; another port.
                Err(NotReady::TimedOut { .. }) => {}
            }
        }
        Err(std::fs::read_to_string(&log).unwrap_or_default())
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send SIGHUP (re-read the settings file) and wait until the log says how it went
    /// (`reloaded` or `not reloaded`); returns that log line.
    pub fn hangup(&self) -> String {
        let before = self.log_text().lines().count();
        self.child
            .hang_up()
            .expect("sending SIGHUP to apim-emulator");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(line) =
                self.log_text().lines().skip(before).find(|l| {
                    l.contains("settings reloaded") || l.contains("settings not reloaded")
                })
            {
                return line.to_owned();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no reload line after SIGHUP:\n{}", self.log_text());
    }
}

/// What a [`RecordingBackend`] saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The next request head on a keep-alive connection (`METHOD TARGET VERSION` and its
/// header lines), or `None` when the client closed it. Bodies are not read: the scripted
/// backends here only see GET and HEAD.
pub fn read_request_head(reader: &mut impl std::io::BufRead) -> Option<Seen> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = header.trim_end().split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    Some(Seen { target, headers })
}

/// A real HTTP server on loopback that records every request and answers `200` with a
/// small JSON body (and `Content-Length`, `Cache-Control: public, max-age=60`), after an
/// optional delay. For observing what the gateway sends to its backend.
pub struct RecordingBackend {
    pub base: String,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl RecordingBackend {
    pub fn start(delay: Duration) -> RecordingBackend {
        use std::io::{BufReader, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let record = record.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    while let Some(seen) = read_request_head(&mut reader) {
                        let target = seen.target.clone();
                        record.lock().unwrap().push(seen);
                        std::thread::sleep(delay);
                        let body =
                            format!("{{\"echo\":{}}}", serde_json::to_string(&target).unwrap());
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: public, max-age=60\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if (&stream).write_all(response.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        RecordingBackend { base, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A TCP server on loopback that answers every connection with bytes that are not HTTP.
pub fn garbage_backend() -> String {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"SSH-2.0-not-http\r\n\x00\x01\x02garbage\r\n\r\n");
        }
    });
    base
}
