//! Contract 0.2 (`wit/connector/v0.2.0`), the host's own line: the bindings whose types the
//! hub speaks, and the host interface (`log`, `send`, `send-streaming`, `body`) implemented on
//! [`HostState`].

use super::super::{HostState, http};
use std::time::Instant;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/connector/v0.2.0",
    imports: {
        "hub:connector/host.send": async,
        "hub:connector/host.send-streaming": async,
        "hub:connector/host.[method]body.read": async,
    },
    exports: { default: async },
    with: { "hub:connector/host.body": crate::runtime::http::BodyStream },
});

// `self::`: the generated module `hub` and this crate's own name would be ambiguous in an import.
use self::hub::connector::{host, types};

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: types::Level, message: String) {
        use types::Level;
        const MAX: usize = 4096;
        let message = if message.len() > MAX {
            let cut = (0..=MAX)
                .rev()
                .find(|i| message.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{}… ({} bytes cut)", &message[..cut], message.len() - cut)
        } else {
            message
        };
        // A line break or terminal escape in the message must not start a line of the
        // plugin's making in the log.
        let message = crate::control_chars::escape(&message);
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }

    async fn send(&mut self, req: host::Request) -> Result<host::Response, host::HttpError> {
        if let Some(refused) = self.guard.as_ref().and_then(|g| g().err()) {
            return Err(self.http_error(http::HttpError::Denied(refused)));
        }
        let grant = self.http.clone();
        let t = Instant::now();
        let r = grant
            .send_guarded(
                http::Request {
                    method: req.method,
                    url: req.url,
                    headers: req.headers,
                    body: req.body,
                },
                &self.retries,
                self.guard.as_ref(),
            )
            .await;
        self.cpu.in_host(t.elapsed());
        match r {
            Ok(r) => Ok(host::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(self.http_error(e)),
        }
    }

    async fn send_streaming(
        &mut self,
        req: host::Request,
    ) -> Result<host::StreamingResponse, host::HttpError> {
        if let Some(refused) = self.guard.as_ref().and_then(|g| g().err()) {
            return Err(self.http_error(http::HttpError::Denied(refused)));
        }
        // Each body held open keeps a connection, hence a file descriptor of the daemon.
        if self.open_bodies >= self.max_open_bodies {
            let why = format!(
                "{} response bodies are open, the most one instance may hold (limits.max_open_bodies): drop one before sending another",
                self.open_bodies
            );
            tracing::warn!(plugin = %self.plugin, "request refused: {why}");
            return Err(host::HttpError::Invalid(why));
        }
        let grant = self.http.clone();
        let req = http::Request {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
        };
        let t = Instant::now();
        let r = grant
            .send_streaming_guarded(req, &self.retries, self.guard.as_ref())
            .await;
        self.cpu.in_host(t.elapsed());
        let (head, body) = r.map_err(|e| self.http_error(e))?;
        let body = self
            .table
            .push(body)
            .map_err(|e| host::HttpError::Invalid(format!("too many open bodies: {e}")))?;
        self.open_bodies += 1;
        Ok(host::StreamingResponse {
            status: head.status,
            headers: head.headers,
            body,
        })
    }
}

impl host::HostBody for HostState {
    async fn read(
        &mut self,
        body: wasmtime::component::Resource<http::BodyStream>,
        max: u32,
    ) -> Result<Vec<u8>, host::HttpError> {
        let stream = self
            .table
            .get_mut(&body)
            .map_err(|e| host::HttpError::Invalid(format!("body: {e}")))?;
        let t = Instant::now();
        let r = stream.read(max as usize).await;
        self.cpu.in_host(t.elapsed());
        r.map_err(|e| self.http_error(e))
    }

    fn drop(
        &mut self,
        body: wasmtime::component::Resource<http::BodyStream>,
    ) -> wasmtime::Result<()> {
        self.table.delete(body)?;
        self.open_bodies = self.open_bodies.saturating_sub(1);
        Ok(())
    }
}
