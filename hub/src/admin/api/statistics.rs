//! The statistics (数据统计) as JSON and as CSV, made by [`crate::statistics`] on the runs'
//! runtime. Reads only; the statistics page renders the same figures ([`statistics_of`]).

use crate::admin::errors::{ApiError, Failure, bad_request, query_params};
use crate::admin::{AdminState, View};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The statistics of the sections `?section=` names (all when absent; an unknown name is 400
/// naming the known ones) and the CSV encoding `?encoding=` names (`utf-8` or `gb18030`, for
/// the CSV routes only; else 400), made now on the runs' runtime ([`crate::statistics`]): 409
/// when the server has no engine, 503 when a source could not be read (a referrals connector,
/// or the state store; the message masked as logs are).
pub(in crate::admin) async fn statistics_of(
    view: &View,
    uri: &axum::http::Uri,
    csv: bool,
) -> Result<
    (
        crate::statistics::Statistics,
        crate::statistics::CsvEncoding,
    ),
    Failure,
> {
    use crate::statistics::{CsvEncoding, Section, Statistician};
    let known: &[&str] = if csv {
        &["section", "encoding"]
    } else {
        &["section"]
    };
    let q = query_params(uri, known)?;
    let sections = match q.get("section") {
        Some(name) => vec![Section::parse(name).map_err(bad_request)?],
        None => Vec::new(),
    };
    let encoding = match q.get("encoding") {
        Some(name) => CsvEncoding::parse(name).map_err(bad_request)?,
        None => CsvEncoding::Utf8,
    };
    let Some(r) = view.reconciler.as_ref() else {
        return Err(Failure(
            StatusCode::CONFLICT,
            "this server makes no statistics (it has no sync engine)".into(),
        ));
    };
    let st = Statistician {
        store: r.engine.store().clone(),
        keys: r.engine.keys().clone(),
        specs: r.specs.clone(),
        plugins: Vec::new(),
        zone: view.zone,
    };
    let made = crate::daemon::runs_runtime()
        .spawn(async move { st.statistics(&sections).await })
        .await;
    match made {
        Ok(Ok(out)) => Ok((out, encoding)),
        Ok(Err(e)) => Err(Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the statistics could not be made: {}",
                crate::logging::mask_personal(&format!("{e:#}"))
            ),
        )),
        Err(e) => Err(anyhow::anyhow!("the statistics panicked: {e}").into()),
    }
}

/// Statistics (数据统计): Zhenfeng workers in Huiyang, clinicians seconded, job postings and
/// referrals, counted from the settled records in the state store (referrals read now from
/// the connectors that carry them); no personal data. `?section=` one of `workers`,
/// `secondments`, `job-postings`, `referrals`.
#[utoipa::path(get, path = "/api/statistics", tag = "statistics", params(
    ("section" = Option<crate::statistics::Section>, Query, description = "only this section: workers, secondments, job-postings or referrals (anything else is 400)")), responses(
    (status = 200, description = "the statistics", body = crate::statistics::Statistics),
    (status = 400, description = "an unknown section or query parameter (named)", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 409, description = "the server has no sync engine", body = ApiError),
    (status = 503, description = "a source could not be read (a referrals connector, the state store)", body = ApiError)))]
pub(super) async fn statistics(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Json<crate::statistics::Statistics>, Failure> {
    let view = s.view();
    Ok(Json(statistics_of(&view, &uri, false).await?.0))
}

/// The statistics as a CSV file for Excel and WPS: one figure per row (部分 section, 维度
/// dimension, 项目 item, 指标 measure, 数量 count), UTF-8 with a byte order mark, or GB 18030
/// with `?encoding=gb18030`.
#[utoipa::path(get, path = "/api/statistics/csv", tag = "statistics", params(
    ("section" = Option<crate::statistics::Section>, Query, description = "only this section: workers, secondments, job-postings or referrals (anything else is 400)"),
    ("encoding" = Option<String>, Query, description = "utf-8 (default, with a byte order mark) or gb18030")), responses(
    (status = 200, description = "the statistics as CSV", body = String, content_type = "text/csv"),
    (status = 400, description = "an unknown section, encoding or query parameter (named)", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 409, description = "the server has no sync engine", body = ApiError),
    (status = 503, description = "a source could not be read (a referrals connector, the state store)", body = ApiError)))]
pub(super) async fn statistics_csv(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let view = s.view();
    let (st, encoding) = statistics_of(&view, &uri, true).await?;
    csv_file(&st, encoding)
}

/// `st` as a CSV attachment in `encoding`.
pub(in crate::admin) fn csv_file(
    st: &crate::statistics::Statistics,
    encoding: crate::statistics::CsvEncoding,
) -> Result<Response, Failure> {
    let body = st.csv(encoding)?;
    let name = format!(
        "statistics-{}.csv",
        st.generated_at.get(..10).unwrap_or("now")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                format!("text/csv; charset={}", encoding.charset()),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
