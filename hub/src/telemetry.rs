//! OpenTelemetry traces for the operators' tools: sync runs, their read and write batches and
//! every plugin call, exported as spans over OTLP/HTTP with JSON bodies (OpenTelemetry
//! Protocol 1.x, `POST {otlp_endpoint}/v1/traces`) when `[telemetry] otlp_endpoint` is set;
//! off by default.
//!
//! The spans are the daemon's own `tracing` spans (`run`, `batch`, `plugin_call`), bridged by
//! `tracing-opentelemetry`. Only spans go out, never log events (a log line's text can hold a
//! value masked only when the line is written, [`crate::logging`]), and only the `hub` crate's
//! spans, whose attributes are names and counts: the sync, the run id, the trigger, the side,
//! the number of records, the plugin and the call, the run's status. No record key or value is
//! an attribute of any of them.
//!
//! Spans are batched and sent from the SDK's own thread; the HTTP request itself runs on the
//! daemon's tokio runtime (reqwest, the hub's HTTP client). A collector that is down costs a
//! warning from the SDK and the spans of that batch, never a run.

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long one export request may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The OTLP/HTTP traces URL of a collector's base URL: `{base}/v1/traces` (OTLP
/// specification, "OTLP/HTTP Request": the default path of the traces signal); a URL already
/// ending in `/v1/traces` is taken as it is.
pub fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

/// Says that an export failed, at most once a minute (a collector that is down would otherwise
/// fill the log): the spans of that batch are lost, the runs go on.
fn warn_export_failed(endpoint: &str, why: &str) {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(i64::MIN);
    let now = chrono::Utc::now().timestamp();
    let last = LAST.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            endpoint,
            "telemetry: spans could not be sent to the collector, they are dropped (said at most once a minute): {why}"
        );
    }
}

/// The exporter's HTTP client: reqwest on the daemon's runtime, reached from the SDK's batch
/// thread (which polls the export future outside any runtime) through a spawned task.
#[derive(Debug)]
struct RuntimeClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl opentelemetry_http::HttpClient for RuntimeClient {
    fn send_bytes<'s, 'f>(
        &'s self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'f>>
    where
        's: 'f,
        Self: 'f,
    {
        let client = self.client.clone();
        let task = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let sent = client
                .request(parts.method, &url)
                .headers(parts.headers)
                .body(body)
                .timeout(EXPORT_TIMEOUT)
                .send()
                .await
                .map_err(|e| {
                    let e = anyhow::Error::new(e);
                    warn_export_failed(&url, &crate::report::error_chain(&e));
                    HttpError::from(e)
                })?;
            let status = sent.status();
            if !status.is_success() {
                warn_export_failed(&url, &format!("the collector answered HTTP {status}"));
            }
            let headers = sent.headers().clone();
            let body = sent.bytes().await?;
            let mut response = Response::builder().status(status).body(body)?;
            *response.headers_mut() = headers;
            Ok::<_, HttpError>(response)
        });
        Box::pin(async move { task.await.map_err(|e| Box::new(e) as HttpError)? })
    }
}

/// Exporting spans: keep it for the daemon's life, and [`Telemetry::shutdown`] it at the end so
/// that the last spans go out.
pub struct Telemetry {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

impl Telemetry {
    /// Starts exporting the hub's spans to the collector at `endpoint` (a base URL,
    /// `http://HOST:4318`) as service `service_name`. Call inside the tokio runtime, after
    /// [`crate::logging::init`]. Errors: the exporter cannot be built, or spans are already
    /// being exported.
    pub fn start(endpoint: &str, service_name: &str) -> anyhow::Result<Telemetry> {
        let client = RuntimeClient {
            client: reqwest::Client::builder()
                .build()
                .context("cannot build the OTLP exporter's HTTP client")?,
            runtime: tokio::runtime::Handle::try_current()
                .context("telemetry starts inside the tokio runtime")?,
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(traces_url(endpoint))
            .with_http_client(client)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .with_context(|| {
                format!("telemetry.otlp_endpoint {endpoint}: cannot build the exporter")
            })?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(service_name.to_string())
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("hub"));
        crate::logging::export_spans(Box::new(layer))?;
        tracing::info!(
            endpoint = %traces_url(endpoint),
            "exporting run, batch and plugin-call spans over OTLP/HTTP"
        );
        Ok(Telemetry { provider })
    }

    /// Sends the spans still buffered and stops (waits up to the export timeout; a blocking
    /// wait, so it runs on a blocking thread).
    pub async fn shutdown(self) {
        let provider = self.provider;
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            tracing::warn!("telemetry: the last spans may not have been sent: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://127.0.0.1:4318/"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector/otlp/v1/traces"),
            "http://collector/otlp/v1/traces"
        );
    }
}
