//! HTTPS for the admin API: `[admin] tls_cert` and `tls_key` ([`crate::config::AdminConfig`]).
//!
//! [`Certificate`] holds the certificate chain and private key read from the two PEM files and
//! hands the current pair to rustls for each handshake ([`ResolvesServerCert`]);
//! [`Certificate::reload`] reads the files again (on SIGHUP) and swaps the pair for the
//! connections that follow, or keeps the old pair when the new files are bad. [`TlsListener`]
//! is an [`axum::serve::Listener`] whose handshakes run in tasks of their own with a deadline,
//! so that a client that stalls its handshake holds up no one else; a failed handshake is
//! logged with the peer's address and rustls's reason and closes that connection only.
//!
//! Knows files, rustls and sockets only: no route, no token, no state store.

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

/// How long a client may take over its TLS handshake before the connection is closed. A
/// browser on a slow link needs well under a second; ten leaves room for a loaded machine.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; the listener accepts no further connection (they wait in
/// the kernel's backlog) until one ends, so a flood of stalled handshakes costs at most this
/// many tasks, each ended by [`HANDSHAKE_TIMEOUT`].
const MAX_HANDSHAKES: usize = 256;

/// The admin API's certificate files and the certificate chain and key they held when last
/// read successfully.
#[derive(Debug)]
pub struct Certificate {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificate {
    /// Reads `cert_file` (PEM certificate chain, the server's own certificate first) and
    /// `key_file` (its PEM private key). Errors name the file (by its `[admin]` key and path)
    /// and what is wrong with it.
    pub fn load(cert_file: &Path, key_file: &Path) -> anyhow::Result<Certificate> {
        Ok(Certificate {
            current: RwLock::new(Arc::new(read_pair(cert_file, key_file)?)),
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
        })
    }

    /// Reads both files again and, when they hold a usable pair, uses it for every handshake
    /// from now on (connections already open keep theirs). A bad file changes nothing: the
    /// error names it, and the pair in use stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let pair = read_pair(&self.cert_file, &self.key_file)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(pair);
        Ok(())
    }

    /// [`Certificate::reload`] for SIGHUP: the outcome is logged, and `true` when the new pair
    /// is in use.
    pub fn reload_and_log(&self) -> bool {
        match self.reload() {
            Ok(()) => {
                tracing::info!(
                    target: "hub::admin_tls", "admin API: certificate reloaded from {} and {}; new connections use it",
                    self.cert_file.display(),
                    self.key_file.display()
                );
                true
            }
            Err(e) => {
                tracing::error!(target: "hub::admin_tls", "admin API: certificate not reloaded, the one in use stays: {e:#}");
                false
            }
        }
    }

    /// The chain and key in use.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A rustls server configuration that answers every handshake with the current pair
    /// (TLS 1.2 and 1.3, no client certificates, HTTP/1.1 by ALPN).
    pub fn server_config(self: &Arc<Self>) -> rustls::ServerConfig {
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The certificate chain of `cert_file` with the private key of `key_file`, checked to belong
/// together.
fn read_pair(cert_file: &Path, key_file: &Path) -> anyhow::Result<CertifiedKey> {
    let (cert_name, key_name) = (cert_file.display(), key_file.display());
    let text = std::fs::read(cert_file)
        .map_err(|e| anyhow::anyhow!("admin.tls_cert: cannot read {cert_name}: {e}"))?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("admin.tls_cert: {cert_name} is not PEM: {e}"))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "admin.tls_cert: {cert_name} holds no certificate (PEM blocks \"-----BEGIN CERTIFICATE-----\" expected, the server's own first)"
    );
    let text = std::fs::read(key_file)
        .map_err(|e| anyhow::anyhow!("admin.tls_key: cannot read {key_name}: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        pem::Error::NoItemsFound => anyhow::anyhow!(
            "admin.tls_key: {key_name} holds no private key (a PEM block \"-----BEGIN PRIVATE KEY-----\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" expected)"
        ),
        e => anyhow::anyhow!("admin.tls_key: {key_name} is not PEM: {e}"),
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| {
        anyhow::anyhow!("admin.tls_key: {key_name} is not a key rustls can sign with: {e}")
    })?;
    let pair = CertifiedKey::new(chain, signing);
    match pair.keys_match() {
        Ok(()) => Ok(pair),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            anyhow::bail!(
                "admin.tls_key: {key_name} is not the private key of the certificate in {cert_name}"
            )
        }
        Err(e) => anyhow::bail!("admin.tls_cert: {cert_name}: {e}"),
    }
}

/// A TCP listener that hands axum connections whose TLS handshake has completed, each with
/// its peer's address. Handshakes run in tasks of their own (at most [`MAX_HANDSHAKES`] at
/// once, each ended after [`HANDSHAKE_TIMEOUT`]); the accepting task ends with the listener.
pub struct TlsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS with `config` on `tcp`.
    pub fn new(tcp: TcpListener, config: rustls::ServerConfig) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let accepting = tokio::spawn(accept(tcp, acceptor, tx));
        Ok(TlsListener {
            local,
            ready,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task ended (it does not, but for an abort): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn accept(
    tcp: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    ready: tokio::sync::mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) => {
                // As axum's own TCP listener does: a connection that failed before it was
                // accepted is that client's problem; anything else (out of file descriptors)
                // is waited out.
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                ) {
                    tracing::error!(target: "hub::admin_tls", "admin API: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(e)) => handshake_failed(peer, &e),
                Err(_) => tracing::debug!(
                    target: "hub::admin_tls", %peer,
                    "admin API: TLS handshake with {peer} took over {} s; connection closed",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            }
        });
    }
}

/// Logs a failed handshake: at warn with rustls's reason when TLS itself failed (the client
/// does not trust the certificate, speaks plain HTTP to this port, offers nothing in common),
/// at debug when the connection closed before the handshake ended (port scanners, health
/// checks that only connect).
fn handshake_failed(peer: SocketAddr, e: &std::io::Error) {
    match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        Some(reason) => {
            let hint = match reason {
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                    " (not TLS: plain HTTP to the HTTPS port?)"
                }
                rustls::Error::AlertReceived(_) => {
                    " (the client refused the handshake: does it trust the certificate and its name?)"
                }
                _ => "",
            };
            tracing::warn!(target: "hub::admin_tls", %peer, "admin API: TLS handshake with {peer} failed: {reason}{hint}");
        }
        None => tracing::debug!(
            target: "hub::admin_tls", %peer,
            "admin API: TLS handshake with {peer} failed: {e}"
        ),
    }
}

/// Reads the certificate files again on every SIGHUP, as long as the task runs (the daemon's
/// own SIGHUP handler reloads the rest of the configuration; `[admin]` itself is read once,
/// at start).
pub async fn reload_on_sighup(certificate: Arc<Certificate>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(
                    target: "hub::admin_tls", "admin API: cannot listen for SIGHUP ({e}); the certificate is reloaded only by a restart"
                );
                return;
            }
        };
        while hangups.recv().await.is_some() {
            certificate.reload_and_log();
        }
    }
    #[cfg(not(unix))]
    {
        let _ = certificate;
        std::future::pending::<()>().await;
    }
}

/// Throwaway certificates for tests of HTTPS (the `openssl` command, in a directory of the
/// test's own): a CA and certificates for `localhost` it signed (the `test-support` feature).
#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::unwrap_used)] // test support: a failure here is the calling test failing
pub mod testing {
    /// Runs `openssl ARGS` in `dir`; panics with its standard error when it fails.
    fn openssl(dir: &std::path::Path, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("the openssl command");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A throwaway certificate authority in `dir` (EC P-256, two days): `ca.pem`, `ca.key`.
    pub fn test_ca(dir: &std::path::Path) {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=hub test CA",
                "-days",
                "2",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }

    /// A certificate for `localhost` signed by [`test_ca`]'s, with a key made by `newkey`
    /// (`openssl req -newkey`): `{name}.pem`, `{name}.key` and the certificate's DER in
    /// `{name}.der`.
    pub fn localhost_cert(
        dir: &std::path::Path,
        name: &str,
        serial: &str,
        newkey: &[&str],
    ) -> Vec<u8> {
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let (key, csr, pem, der) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.der"),
        );
        let subject = format!("/CN=localhost {name}");
        let mut req = vec!["req", "-newkey"];
        req.extend_from_slice(newkey);
        req.extend_from_slice(&["-nodes", "-keyout", &key, "-out", &csr, "-subj", &subject]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                serial,
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                &pem,
            ],
        );
        openssl(dir, &["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
        std::fs::read(dir.join(der)).unwrap()
    }

    /// `GET url` on a new connection from a client that trusts only `ca` (PEM) and follows no
    /// redirect: the answer and the certificate the server presented (DER).
    pub async fn over_https(ca: &[u8], url: &str) -> (reqwest::Response, Vec<u8>) {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca).unwrap()])
            .tls_info(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = client.get(url).send().await.unwrap();
        let cert = r
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .unwrap()
            .to_vec();
        (r, cert)
    }

    /// [`test_ca`] in `dir` and two certificates for `localhost` it signed: `first.pem` /
    /// `first.key` (EC P-256, serial 1) and `second.pem` / `second.key` (RSA 2048, serial 2);
    /// the two certificates' DER.
    pub fn throwaway_certificates(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
        test_ca(dir);
        let first = localhost_cert(
            dir,
            "first",
            "1",
            &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        let second = localhost_cert(dir, "second", "2", &["rsa:2048"]);
        (first, second)
    }
}
