//! `apim-emulator`: a local stand-in for Azure API Management, scoped to what name-api's
//! gateway does, driven by the same API declarations and policy XML files that `infra/`
//! deploys (see `declarations` and `policy`).
//!
//! ```text
//! apim-emulator --listen 127.0.0.1:8080 --backend http://127.0.0.1:3000 \
//!   --subscription-key KEY [--subscription-key KEY2] \
//!   --named-value backend-key=SECRET --named-value docs-backend-key=SECRET2 [...]
//! apim-emulator --subscription-key KEY --settings-file settings.json
//! ```
//!
//! Every flag can come from the environment instead: `APIM_EMULATOR_LISTEN`,
//! `APIM_EMULATOR_BACKEND`, `APIM_EMULATOR_SUBSCRIPTION_KEYS` (comma-separated),
//! `APIM_EMULATOR_NAMED_VALUES` (comma-separated `NAME=VALUE`), `APIM_EMULATOR_ROOT`,
//! `APIM_EMULATOR_SETTINGS_FILE`. Prefer the environment or the settings file for
//! secrets: command lines are visible to other local users.
//!
//! The settings file (see `settings`) overrides `--backend` and `--named-value` and is
//! re-read on SIGHUP; a file that does not load is logged and the running settings kept.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use apim_emulator::declarations;
use apim_emulator::gateway::{Config, Gateway, Subscription};
use apim_emulator::settings::Source;

#[derive(Parser, Debug)]
#[command(
    name = "apim-emulator",
    version,
    about = "Local Azure API Management emulator for name-api"
)]
struct Cli {
    /// Address to listen on (loopback recommended).
    #[arg(long, env = "APIM_EMULATOR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Base URL of the backend (the component), e.g. http://127.0.0.1:3000 (required
    /// unless the settings file gives it).
    #[arg(long, env = "APIM_EMULATOR_BACKEND")]
    backend: Option<String>,
    /// A key of the local subscription (give one or two: primary, secondary).
    #[arg(
        long = "subscription-key",
        env = "APIM_EMULATOR_SUBSCRIPTION_KEYS",
        value_delimiter = ',',
        required = true
    )]
    subscription_keys: Vec<String>,
    /// A named value, NAME=VALUE (secret ones such as backend-key must be given).
    #[arg(
        long = "named-value",
        env = "APIM_EMULATOR_NAMED_VALUES",
        value_delimiter = ','
    )]
    named_values: Vec<String>,
    /// JSON settings `{"backend": URL, "namedValues": {NAME: VALUE}}` overriding
    /// --backend and --named-value; re-read on SIGHUP.
    #[arg(long, env = "APIM_EMULATOR_SETTINGS_FILE")]
    settings_file: Option<PathBuf>,
    /// Repository root holding infra/apim/ and static-docs/ (default: this checkout).
    #[arg(long, env = "APIM_EMULATOR_ROOT")]
    root: Option<PathBuf>,
    /// Seconds a client has to send its request head (slow-client guard).
    #[arg(long, env = "APIM_EMULATOR_HEADER_READ_TIMEOUT", default_value_t = 10)]
    header_read_timeout: u64,
    /// Runtime threads: 1 runs everything on one thread (lowest latency; plenty for local
    /// load), more uses a multi-threaded runtime.
    #[arg(long, env = "APIM_EMULATOR_THREADS", default_value_t = 1)]
    threads: usize,
    /// Parse and check the declarations and policies, then exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = build(&cli).and_then(|(gateway, source)| {
        if cli.check {
            println!("apim-emulator: declarations and policies are valid");
            return Ok(());
        }
        let runtime = if cli.threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cli.threads)
                .enable_all()
                .build()?
        };
        runtime.block_on(serve(
            cli.listen,
            Arc::new(gateway),
            source,
            Duration::from_secs(cli.header_read_timeout),
        ))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, the whole cause chain, no backtrace: this is the user's message.
            eprintln!("apim-emulator: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn build(cli: &Cli) -> Result<(Gateway, Source)> {
    if cli.subscription_keys.len() > 2 {
        bail!("a subscription has two keys at most");
    }
    if cli
        .subscription_keys
        .iter()
        .any(|k| k.trim().is_empty() || k.trim() != k)
    {
        bail!("subscription keys must be non-empty and have no surrounding spaces");
    }
    let mut named_values = BTreeMap::new();
    for pair in cli.named_values.iter().filter(|p| !p.trim().is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .context("--named-value must be NAME=VALUE")?;
        named_values.insert(name.trim().to_owned(), value.to_owned());
    }
    let source = Source {
        root: cli.root.clone().unwrap_or_else(declarations::default_root),
        backend: cli.backend.clone(),
        named_values,
        settings_file: cli.settings_file.clone(),
    };
    let config = source.load()?;
    describe(&config);
    let gateway = Gateway::new(
        config,
        Subscription {
            keys: cli.subscription_keys.clone(),
        },
    );
    Ok((gateway, source))
}

/// One line per API: what is served, and how.
fn describe(config: &Config) {
    for api in &config.declarations.apis {
        let operations: Vec<String> = api
            .operations
            .iter()
            .map(|op| format!("{} {}", op.method, op.template.as_str()))
            .collect();
        println!(
            "apim-emulator: API {} ({}) at /{}, subscription {}, policy {}, backend {}: {}",
            api.name,
            api.display_name,
            api.path,
            if api.subscription_required {
                "required"
            } else {
                "not required"
            },
            api.policy.file.display(),
            api.backend_id.as_deref().unwrap_or("-"),
            operations.join(", ")
        );
    }
    println!("apim-emulator: backend URL {}", config.backend_base);
}

/// Re-read the settings (SIGHUP): swap them in, or keep the running ones and say why.
fn reload(gateway: &Gateway, source: &Source) {
    match source.load() {
        Ok(config) => {
            println!("apim-emulator: settings reloaded");
            describe(&config);
            gateway.replace(config);
        }
        Err(error) => {
            eprintln!("apim-emulator: settings not reloaded, the running ones are kept: {error:#}")
        }
    }
}

async fn serve(
    listen: SocketAddr,
    gateway: Arc<Gateway>,
    source: Source,
    header_read_timeout: Duration,
) -> Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    println!("apim-emulator: listening on http://{listen}");
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    let mut hangup = Hangup::new()?;
    loop {
        let (stream, peer) = tokio::select! {
            _ = hangup.recv() => {
                reload(&gateway, &source);
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("apim-emulator: accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => {
                println!("apim-emulator: stopping");
                return Ok(());
            }
        };
        let _ = stream.set_nodelay(true);
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(gateway.handle(request, peer).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                // Slow clients: the request head must arrive within this time.
                .header_read_timeout(header_read_timeout)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                if !error.is_incomplete_message() {
                    eprintln!("apim-emulator: connection from {peer}: {error}");
                }
            }
        });
    }
}

/// SIGHUP (Unix); elsewhere never fires.
struct Hangup {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangup {
    fn new() -> Result<Hangup> {
        Ok(Hangup {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .context("listening for SIGHUP")?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}
