//! The frame of the OpenAPI document at `/openapi.json`: its info, tags and bearer security,
//! and the 429 answer every operation that can answer 401 also gives. The operations
//! themselves come from the handlers' annotations ([`super::api::routes`]); this module only
//! describes, it serves nothing.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "hub admin API", description = "Operate a running hub daemon: health, metrics, syncs, runs, dead letters."),
    modifiers(&BearerAuth, &Throttled),
    security(("bearer" = [])),
    tags((name = "health"), (name = "syncs"), (name = "runs"), (name = "dead letters"), (name = "conflicts"), (name = "leases"), (name = "statistics"))
)]
pub(super) struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every operation that can answer 401 can also answer 429, once its caller's address has
/// sent too many wrong tokens.
struct Throttled;

impl utoipa::Modify for Throttled {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, Type,
        };
        let response = ResponseBuilder::new()
            .description("too many wrong tokens from this address within a minute; retry after Retry-After seconds")
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("seconds until a token is checked again"))
                    .build(),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ApiError")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                if op.responses.responses.contains_key("401") {
                    op.responses
                        .responses
                        .insert("429".into(), response.clone().into());
                }
            }
        }
    }
}
