//! A request sent: checked against the policy, answered by the tape when one is set, its
//! secrets filled, then attempt after attempt (each waiting for the rate budget and asking the
//! session's send guard) until an answer goes to the plugin or the retries are spent.

use super::retry::Attempts;
use super::{BodyStream, Head, HttpError, HttpGrant, Request, Response, RetryBudget};

impl HttpGrant {
    /// Checks and performs a request (see the module docs for retries, taken from `budget`);
    /// reads the whole body.
    pub async fn send(&self, req: Request, budget: &RetryBudget) -> Result<Response, HttpError> {
        self.send_guarded(req, budget, None).await
    }

    /// [`HttpGrant::send`], asking `guard` (when given) again after each wait for the rate
    /// budget: a refusal ends the request as `Denied` with its reason, nothing sent.
    pub async fn send_guarded(
        &self,
        req: Request,
        budget: &RetryBudget,
        guard: Option<&crate::runtime::SendGuard>,
    ) -> Result<Response, HttpError> {
        let place = req
            .url
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string();
        let (head, mut body) = self.send_streaming_guarded(req, budget, guard).await?;
        let mut all = Vec::new();
        let whole = async {
            loop {
                let chunk = body.read(1 << 20).await?;
                if chunk.is_empty() {
                    return Ok::<(), HttpError>(());
                }
                all.extend_from_slice(&chunk);
            }
        };
        tokio::time::timeout(self.timeout, whole)
            .await
            .map_err(|_| {
                HttpError::Timeout(format!(
                    "{place}: body not received within {:?}",
                    self.timeout
                ))
            })??;
        Ok(Response {
            status: head.status,
            headers: head.headers,
            body: all,
        })
    }

    /// Checks and performs a request, with retries taken from `budget`; answers when the
    /// headers arrive, the body to follow.
    pub async fn send_streaming(
        &self,
        req: Request,
        budget: &RetryBudget,
    ) -> Result<(Head, BodyStream), HttpError> {
        self.send_streaming_guarded(req, budget, None).await
    }

    /// [`HttpGrant::send_streaming`], asking `guard` (when given) again after each wait for
    /// the rate budget (a run's lease may have been lost while it waited): a refusal ends the
    /// request as `Denied` with its reason, nothing sent.
    pub async fn send_streaming_guarded(
        &self,
        req: Request,
        budget: &RetryBudget,
        guard: Option<&crate::runtime::SendGuard>,
    ) -> Result<(Head, BodyStream), HttpError> {
        let method = self.allowed(&req)?;
        if let Some(tape) = &self.tape {
            return tape.send(self, req, budget).await;
        }
        let (url, origin) = self.granted_url(&req.url)?;
        let (body, headers) = self.filled(&req)?;
        let idempotent = matches!(
            method,
            reqwest::Method::GET | reqwest::Method::PUT | reqwest::Method::DELETE
        );
        let place = format!("{origin}{}", url.path());
        let mut attempt = Attempts {
            method: &method,
            place: &place,
            idempotent,
            number: 1,
        };
        loop {
            if let Some(b) = &self.budget {
                b.acquire().await;
                if let Some(why) = guard.and_then(|g| g().err()) {
                    return Err(HttpError::Denied(why));
                }
            }
            // The timeout covers the answer's head; its body then has `timeout` between two
            // chunks (see `BodyStream::read`), and, read whole by `send`, `timeout` in all. A
            // body a plugin streams is not limited in total: a registry's export of millions
            // of rows is read a batch at a time over a whole run.
            let sent = tokio::time::timeout(
                self.timeout,
                self.client
                    .request(method.clone(), url.clone())
                    .headers(headers.clone())
                    .header(reqwest::header::ACCEPT_ENCODING, "identity")
                    .body(body.clone())
                    .send(),
            )
            .await;
            let (timed_out, failed) = match sent {
                Ok(Ok(resp)) => {
                    if let Some(wait) = self.answer_retry(&resp, &attempt, budget) {
                        self.wait_out(resp.status().as_u16(), wait).await;
                        attempt.number += 1;
                        continue;
                    }
                    return self.stream(resp);
                }
                Ok(Err(e)) => (e.is_timeout(), Some(e)),
                Err(_) => (true, None),
            };
            let wait = self.backoff(failed, timed_out, &attempt, budget)?;
            tokio::time::sleep(wait).await;
            attempt.number += 1;
        }
    }
}
