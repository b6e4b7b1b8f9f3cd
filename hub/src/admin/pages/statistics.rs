//! The statistics page `/statistics` and its CSV download `/statistics.csv`, made by
//! [`crate::admin::api::statistics::statistics_of`] and drawn by [`crate::statistics::page`].
//! Reads only.

use super::{page, page_error};
use crate::admin::AdminState;
use crate::admin::api::statistics::{csv_file, statistics_of};
use crate::admin::errors::Failure;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

/// The statistics page `/statistics`: each figure as a chart (server-rendered SVG) with its
/// table, and the CSV export links ([`crate::statistics::page`]). An error page otherwise.
pub(in crate::admin) async fn statistics_page(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let view = s.view();
    let st = match statistics_of(&view, &uri, false).await {
        Ok((st, _)) => st,
        Err(Failure(code, what)) => {
            return Ok(page_error(
                code,
                "无法统计 Cannot make the statistics",
                &what,
            ));
        }
    };
    let made = crate::local_time::for_people(&st.generated_at, view.zone);
    Ok(Html(page(
        "hub · 数据统计 Statistics",
        &crate::statistics::page::body(&st, &made),
        false,
    ))
    .into_response())
}

/// `/statistics.csv`: the page's CSV download (the session cookie is enough), as
/// `GET /api/statistics/csv`.
pub(in crate::admin) async fn statistics_csv_page(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let view = s.view();
    match statistics_of(&view, &uri, true).await {
        Ok((st, encoding)) => csv_file(&st, encoding),
        Err(Failure(code, what)) => Ok(page_error(
            code,
            "无法统计 Cannot make the statistics",
            &what,
        )),
    }
}
