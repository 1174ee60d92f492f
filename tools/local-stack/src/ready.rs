//! Knowing when a server is up: it accepts connections on its port or, given a request,
//! answers it with `200`; and telling "it exited" (a taken port, a bad configuration) apart
//! from "it did not answer in time", so a caller can retry on another port or give up.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::Guard;

/// Why a server is not ready.
#[derive(Debug)]
pub enum NotReady {
    /// It could not be started or watched.
    Io(std::io::Error),
    /// It exited before answering (its output says why).
    Exited { addr: String, status: ExitStatus },
    /// It did not answer within the limit.
    TimedOut { addr: String, limit: Duration },
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Io(e) => write!(f, "{e}"),
            NotReady::Exited { addr, status } => {
                write!(f, "server exited before answering on {addr} ({status})")
            }
            NotReady::TimedOut { addr, limit } => {
                write!(f, "no answer from {addr} within {limit:?}")
            }
        }
    }
}

impl std::error::Error for NotReady {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NotReady::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for NotReady {
    fn from(e: std::io::Error) -> NotReady {
        NotReady::Io(e)
    }
}

/// A request to send while waiting: path and headers.
pub type Probe<'a> = (&'a str, &'a [(&'a str, String)]);

/// One `GET` over a fresh connection (`Connection: close`); the raw response.
pub fn raw_get(addr: &str, path: &str, headers: &[(&str, String)]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // Bytes, not `read_to_string`: a binary body (a gzipped asset) is still an answer.
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// Poll (every millisecond: `bench` times cold starts with it) until `addr` accepts
/// connections and, given a `probe`, answers it with `200`; fail if `child` exits first or
/// `limit` passes.
pub fn wait_for_200(
    addr: &str,
    probe: Option<Probe>,
    child: &mut Child,
    limit: Duration,
) -> Result<(), NotReady> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait()? {
            return Err(NotReady::Exited {
                addr: addr.to_owned(),
                status,
            });
        }
        match probe {
            None if TcpStream::connect(addr).is_ok() => return Ok(()),
            Some((path, headers))
                if raw_get(addr, path, headers).is_ok_and(|r| r.starts_with("HTTP/1.1 200")) =>
            {
                return Ok(())
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(NotReady::TimedOut {
        addr: addr.to_owned(),
        limit,
    })
}

/// Start `cmd` and wait until `addr` accepts connections; the child is stopped again if it
/// does not.
pub fn spawn_ready(cmd: &mut Command, addr: &str, limit: Duration) -> Result<Guard, NotReady> {
    let mut child = Guard(cmd.spawn()?);
    wait_for_200(addr, None, &mut child.0, limit)?;
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn sleeper() -> Child {
        Command::new("sleep").arg("30").spawn().unwrap()
    }

    /// A server answering every connection with `status_line`.
    fn server(status_line: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut head = [0; 1024];
                let _ = stream.read(&mut head);
                let _ = write!(stream, "{status_line}\r\ncontent-length: 0\r\n\r\n");
            }
        });
        addr
    }

    #[test]
    fn ready_when_the_probe_gets_200() {
        let addr = server("HTTP/1.1 200 OK");
        let mut child = Guard(sleeper());
        let probe: Probe = ("/", &[]);
        wait_for_200(&addr, Some(probe), &mut child.0, Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn another_status_is_not_ready() {
        let addr = server("HTTP/1.1 503 Service Unavailable");
        let mut child = Guard(sleeper());
        let probe: Probe = ("/", &[]);
        let err =
            wait_for_200(&addr, Some(probe), &mut child.0, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, NotReady::TimedOut { .. }), "{err}");
    }

    #[test]
    fn a_child_that_exits_is_reported_as_exited() {
        let mut cmd = Command::new("false");
        // A port nothing listens on (bound, then released).
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let err = spawn_ready(&mut cmd, &addr, Duration::from_secs(5))
            .err()
            .unwrap();
        assert!(matches!(err, NotReady::Exited { .. }), "{err}");
        assert!(err
            .to_string()
            .starts_with("server exited before answering on"));
    }

    #[test]
    fn a_missing_program_is_an_io_error() {
        let mut cmd = Command::new("/nonexistent/program");
        let err = spawn_ready(&mut cmd, "127.0.0.1:9", Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(matches!(err, NotReady::Io(_)), "{err}");
    }
}
