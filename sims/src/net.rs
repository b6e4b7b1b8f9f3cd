//! Serving a router on a TCP listener whose connections a handler can cut: the `drop` fault
//! closes the connection without writing any HTTP response, the way a crashed proxy or a reset
//! network does.

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A connection's handle, reachable from handlers as `ConnectInfo<Conn>`.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    cut: Arc<AtomicBool>,
}

impl Conn {
    /// Makes the connection fail its next read or write, so the response being produced is
    /// never written and the socket is closed.
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

/// A TCP stream that errors once its connection is cut.
pub(crate) struct CuttableStream {
    inner: TcpStream,
    cut: Arc<AtomicBool>,
}

impl CuttableStream {
    fn check(&self) -> io::Result<()> {
        if self.cut.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection cut by the drop fault",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A TCP listener handing out [`CuttableStream`]s.
pub(crate) struct CuttableListener(TcpListener);

impl Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = Conn;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, _)) => {
                    let _ = inner.set_nodelay(true);
                    let cut = Arc::new(AtomicBool::new(false));
                    return (
                        CuttableStream {
                            inner,
                            cut: cut.clone(),
                        },
                        Conn { cut },
                    );
                }
                // Out of file descriptors and the like: wait, as axum's own listener does.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        // Only the per-connection handles are of use; the listener's own has nothing to cut.
        Ok(Conn {
            cut: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A server running in a background task.
pub(crate) struct Served {
    pub(crate) addr: SocketAddr,
    pub(crate) stop: oneshot::Sender<()>,
    pub(crate) task: JoinHandle<()>,
}

/// Binds `bind` and serves `router` until `stop` is sent.
pub(crate) async fn serve(bind: SocketAddr, router: Router) -> anyhow::Result<Served> {
    use anyhow::Context as _;
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("failed to bind {bind}"))?;
    let addr = listener
        .local_addr()
        .context("failed to read the bound address")?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router.into_make_service_with_connect_info::<Conn>();
    let task = tokio::spawn(async move {
        let server = axum::serve(CuttableListener(listener), app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = server.await {
            tracing::warn!(error = %e, "simulator server stopped with an error");
        }
    });
    Ok(Served { addr, stop, task })
}
