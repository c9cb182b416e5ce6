//! Test support (feature `test-support`): run a [tansu](https://github.com/tansu-io/tansu)
//! broker process on a free loopback port, storing into SQLite in a temporary directory.
//!
//! ```no_run
//! # fn main() -> Result<(), sluice_kafka::KafkaError> {
//! use sluice_kafka::tansu::TansuBroker;
//! let Some(broker) = TansuBroker::start_from_env()? else {
//!     return Ok(()); // SLUICE_TANSU_BIN unset: skip (the reason was printed)
//! };
//! let config = broker.kafka_config();
//! # Ok(()) }
//! ```
//!
//! Tansu supports CreateTopics/DeleteTopics, consumer groups and idempotent producers; it does
//! not support transactions.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;

use crate::config::KafkaConfig;
use crate::error::KafkaError;

/// Environment variable naming the tansu binary.
pub const TANSU_BIN_ENV: &str = "SLUICE_TANSU_BIN";

/// How long to wait for a fresh broker to answer metadata requests.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running tansu broker; killed (and its storage removed) on drop.
pub struct TansuBroker {
    child: Child,
    port: u16,
    bootstrap: String,
    log_path: PathBuf,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for TansuBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TansuBroker")
            .field("pid", &self.child.id())
            .field("bootstrap", &self.bootstrap)
            .field("dir", &self.dir.path())
            .finish()
    }
}

/// The tansu binary from `SLUICE_TANSU_BIN`, or why there is none.
pub fn binary_from_env() -> Result<PathBuf, String> {
    match std::env::var_os(TANSU_BIN_ENV) {
        None => Err(format!("{TANSU_BIN_ENV} is not set")),
        Some(p) if p.is_empty() => Err(format!("{TANSU_BIN_ENV} is empty")),
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_file() {
                Ok(p)
            } else {
                Err(format!(
                    "{TANSU_BIN_ENV}={} is not a file",
                    p.to_string_lossy()
                ))
            }
        }
    }
}

fn free_port() -> Result<u16, KafkaError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| KafkaError::Io {
        context: "finding a free port".into(),
        source: e,
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| KafkaError::Io {
            context: "finding a free port".into(),
            source: e,
        })
}

fn log_tail(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let start = s.len().saturating_sub(2000);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    s[start..].to_string()
}

/// Spawns `command` from a process-lifetime thread with `PR_SET_PDEATHSIG` (Linux), so the
/// broker dies with the test process even when that crashes without running destructors. (The
/// death signal follows the *thread* that forked, hence the dedicated thread.)
fn spawn_tied_to_process(mut command: Command) -> std::io::Result<Child> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        use std::sync::mpsc;
        use std::sync::{Mutex, OnceLock};

        type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
        static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();

        // SAFETY: prctl is async-signal-safe; this runs in the child between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let spawner = SPAWNER.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Request>();
            std::thread::Builder::new()
                .name("sluice-tansu-spawner".into())
                .spawn(move || {
                    for (mut command, reply) in rx {
                        let _ = reply.send(command.spawn());
                    }
                })
                .expect("spawn the tansu spawner thread");
            Mutex::new(tx)
        });
        let (reply, answer) = mpsc::channel();
        spawner
            .lock()
            .map_err(|_| std::io::Error::other("tansu spawner lock poisoned"))?
            .send((command, reply))
            .map_err(|_| std::io::Error::other("tansu spawner thread is gone"))?;
        answer
            .recv()
            .map_err(|_| std::io::Error::other("tansu spawner thread is gone"))?
    }
    #[cfg(not(target_os = "linux"))]
    {
        command.spawn()
    }
}

impl TansuBroker {
    /// Starts tansu from `SLUICE_TANSU_BIN`; `Ok(None)` (after printing why to stderr, so the
    /// skipped test says so) when the variable is unset or wrong.
    pub fn start_from_env() -> Result<Option<Self>, KafkaError> {
        match binary_from_env() {
            Ok(bin) => Self::start(&bin).map(Some),
            Err(reason) => {
                eprintln!("skipping tansu test: {reason}");
                Ok(None)
            }
        }
    }

    /// Starts `bin broker` on a free port and waits until it answers metadata requests.
    /// Retries with another port if the process dies during start-up (port race).
    pub fn start(bin: &Path) -> Result<Self, KafkaError> {
        let mut last_err = None;
        for _ in 0..3 {
            match Self::start_once(bin) {
                Ok(b) => return Ok(b),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.expect("at least one attempt"))
    }

    fn start_once(bin: &Path) -> Result<Self, KafkaError> {
        let dir = tempfile::Builder::new()
            .prefix("sluice-tansu-")
            .tempdir()
            .map_err(|e| KafkaError::Io {
                context: "creating tansu temp dir".into(),
                source: e,
            })?;
        let port = free_port()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let log_path = dir.path().join("tansu.log");
        let log = File::create(&log_path).map_err(|e| KafkaError::Io {
            context: "creating tansu log file".into(),
            source: e,
        })?;
        let log2 = log.try_clone().map_err(|e| KafkaError::Io {
            context: "cloning tansu log file".into(),
            source: e,
        })?;
        let mut command = Command::new(bin);
        command
            .current_dir(dir.path())
            .arg("broker")
            .arg("--listener-url")
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .arg("--storage-engine")
            .arg("sqlite://tansu.db")
            .env_remove("CLUSTER_ID")
            .env_remove("STORAGE_ENGINE")
            .env_remove("LISTENER_URL")
            .env_remove("ADVERTISED_LISTENER_URL")
            .env_remove("SCHEMA_REGISTRY")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        let child = spawn_tied_to_process(command).map_err(|e| KafkaError::Io {
            context: format!("spawning {}", bin.display()),
            source: e,
        })?;
        let mut broker = TansuBroker {
            child,
            port,
            bootstrap: format!("127.0.0.1:{port}"),
            log_path,
            dir,
        };
        broker.wait_ready()?;
        tracing::info!(bootstrap = %broker.bootstrap, dir = %broker.dir.path().display(), "tansu broker started");
        Ok(broker)
    }

    fn wait_ready(&mut self) -> Result<(), KafkaError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap)
            .set("client.id", "sluice-tansu-probe")
            .set("allow.auto.create.topics", "false")
            .set("reconnect.backoff.max.ms", "200")
            .set_log_level(rdkafka::config::RDKafkaLogLevel::Emerg);
        let probe: AdminClient<DefaultClientContext> =
            cfg.create().map_err(|source| KafkaError::ClientCreation {
                role: "tansu probe",
                source,
            })?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(KafkaError::Embedded(format!(
                    "tansu exited during start-up ({status}); log tail:\n{}",
                    log_tail(&self.log_path)
                )));
            }
            if let Ok(md) = probe
                .inner()
                .fetch_metadata(None, Duration::from_millis(500))
            {
                if !md.brokers().is_empty() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(KafkaError::Timeout {
                    what: format!(
                        "tansu at {} to answer metadata; log tail:\n{}",
                        self.bootstrap,
                        log_tail(&self.log_path)
                    ),
                    timeout: READY_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's working directory (holds `tansu.db` and `tansu.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The broker's combined stdout/stderr so far (last 2000 bytes), for test diagnostics.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path)
    }

    /// A [`KafkaConfig`] for this broker.
    pub fn kafka_config(&self) -> KafkaConfig {
        KafkaConfig::new(self.bootstrap.clone()).with_client_id_prefix("sluice-test")
    }

    /// Kills the broker now (also done on drop).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for TansuBroker {
    fn drop(&mut self) {
        self.kill();
    }
}
