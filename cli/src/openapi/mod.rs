//! The OpenAPI 3.1 document of Tollgate's API, generated: each operation's request and answer
//! schemas are the wire types the handlers send (`tollgate::http::api`, described by utoipa),
//! and the table of operations (`operations`) says per route who may call it and which error
//! codes it answers with which status. `cli/tests/openapi.rs` checks the table against every
//! function's route table and the committed `openapi.json` against this output.

mod operations;

use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{Object, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
    ResponseBuilder, Schema,
};

pub use operations::OPERATIONS;

/// Schemas collected while the document is built: (name, schema).
pub type Schemas = Vec<(String, RefOr<Schema>)>;
/// A wire type: adds its schema (and those it refers to) and gives its name.
pub type Wire = fn(&mut Schemas) -> String;

/// `Wire` for a type.
pub fn wire<T: ToSchema>(all: &mut Schemas) -> String {
    all.push((T::name().into_owned(), T::schema()));
    T::schemas(all);
    T::name().into_owned()
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Public,
    /// A Bearer token: Tollgate's, NextAuth's or a configured OpenID provider's.
    Bearer,
    /// With a Bearer token the purchase is the account's; without, the body names an email.
    OptionalBearer,
    /// A Bearer token of an administrator.
    Admin,
    /// Open in development; an administrator's Bearer token in production.
    DevOpenElseAdmin,
    /// Stripe's `Stripe-Signature` header over the raw body.
    StripeSignature,
}

/// A query parameter.
pub struct Query {
    pub name: &'static str,
    pub integer: bool,
    pub required: bool,
    pub about: &'static str,
}

pub const fn query(name: &'static str, about: &'static str) -> Query {
    Query { name, integer: false, required: false, about }
}

pub const fn required_query(name: &'static str, about: &'static str) -> Query {
    Query { name, integer: false, required: true, about }
}

pub const fn integer_query(name: &'static str, about: &'static str) -> Query {
    Query { name, integer: true, required: false, about }
}

/// One operation: a route of some function's table, documented.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub query: &'static [Query],
    /// The JSON body it reads; `body_optional` when it may be absent.
    pub body: Option<Wire>,
    pub body_optional: bool,
    /// The success status and what it answers.
    pub ok: (u16, Wire),
    /// Its own error codes by status (the ones every route of its kind shares are added).
    pub errors: &'static [(u16, &'static [&'static str])],
}

/// The codes every operation of a kind may answer, by status.
fn shared_errors(op: &Operation) -> Vec<(u16, Vec<&'static str>)> {
    let mut errors = Vec::new();
    if op.auth == Auth::StripeSignature {
        errors.push((413, vec!["payload_too_large"]));
    } else if op.body.is_some() {
        let mut codes = vec!["unsupported_content_type", "invalid_json", "missing_field", "invalid_field"];
        if !op.body_optional {
            codes.insert(0, "missing_body");
        }
        errors.push((400, codes));
        errors.push((413, vec!["payload_too_large"]));
    }
    let tokens = vec!["missing_token", "invalid_token", "token_expired", "token_revoked"];
    match op.auth {
        Auth::Bearer => errors.push((401, tokens)),
        Auth::OptionalBearer => errors.push((401, vec!["invalid_token", "token_expired", "token_revoked"])),
        Auth::Admin | Auth::DevOpenElseAdmin => {
            errors.push((401, tokens));
            errors.push((403, vec!["not_an_admin"]));
        }
        Auth::Public | Auth::StripeSignature => {}
    }
    if !matches!(op.auth, Auth::StripeSignature) && op.path != "/healthz" {
        errors.push((429, vec!["rate_limited"]));
    }
    errors
}

fn described(codes: &[&str]) -> String {
    let listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    format!("The error envelope; `error.code` one of {}.", listed.join(", "))
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn json_content(name: &str) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(reference(name))).build()
}

fn method(name: &str) -> HttpMethod {
    match name {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        other => unreachable!("the operations table names a method routes use, not {other}"),
    }
}

/// `op` as the document describes it; `envelope` names the error envelope's schema.
fn operation(op: &Operation, envelope: &str, all: &mut Schemas) -> utoipa::openapi::path::Operation {
    let mut built = OperationBuilder::new().operation_id(Some(op.id)).tag(op.tag).summary(Some(op.summary));
    for segment in op.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
        built = built.parameter(
            ParameterBuilder::new()
                .name(segment)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(Object::with_type(Type::String))),
        );
    }
    for q in op.query {
        let kind = if q.integer { Type::Integer } else { Type::String };
        built = built.parameter(
            ParameterBuilder::new()
                .name(q.name)
                .parameter_in(ParameterIn::Query)
                .required(if q.required { Required::True } else { Required::False })
                .description(Some(q.about))
                .schema(Some(Object::with_type(kind))),
        );
    }
    if let Some(body) = op.body {
        let name = body(all);
        let required = if op.body_optional { Required::False } else { Required::True };
        built = built.request_body(Some(
            RequestBodyBuilder::new().required(Some(required)).content("application/json", json_content(&name)).build(),
        ));
    }
    let (status, answer) = op.ok;
    let answer = answer(all);
    built = built.response(
        status.to_string(),
        ResponseBuilder::new().description("Success.").content("application/json", json_content(&answer)),
    );
    let mut errors = shared_errors(op);
    for (status, codes) in op.errors {
        match errors.iter_mut().find(|(s, _)| s == status) {
            Some((_, known)) => known.extend(codes.iter().filter(|c| !known.contains(c)).collect::<Vec<_>>()),
            None => errors.push((*status, codes.to_vec())),
        }
    }
    errors.sort_by_key(|(s, _)| *s);
    for (status, codes) in errors {
        let response =
            ResponseBuilder::new().description(described(&codes)).content("application/json", json_content(envelope));
        built = built.response(status.to_string(), response);
    }
    let other = "Any other failure (405 for another method, 500 `internal_error`, 503 `store_unavailable`), in the error envelope.";
    built = built.response(
        "default",
        ResponseBuilder::new().description(other).content("application/json", json_content(envelope)),
    );
    built = match op.auth {
        Auth::Public => built,
        Auth::Bearer | Auth::Admin => built.security(SecurityRequirement::new("bearer", Vec::<String>::new())),
        Auth::OptionalBearer | Auth::DevOpenElseAdmin => built
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .security(SecurityRequirement::default()),
        Auth::StripeSignature => built.security(SecurityRequirement::new("stripe_signature", Vec::<String>::new())),
    };
    built.build()
}

/// The document.
pub fn document() -> OpenApi {
    let mut all = Schemas::new();
    let envelope = wire::<tollgate::http::api::ErrorEnvelope>(&mut all);
    let mut paths = PathsBuilder::new();
    for op in OPERATIONS {
        let built = operation(op, &envelope, &mut all);
        paths = paths.path(op.path, PathItem::new(method(op.method), built));
    }
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /api/auth/verify-code` (or NextAuth's, or a configured OpenID provider's)."))
                    .build(),
            ),
        )
        .security_scheme(
            "stripe_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Stripe-Signature",
                "Stripe's signature of the raw body with the endpoint's signing secret.",
            ))),
        );
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.dedup_by(|a, b| a.0 == b.0);
    for (name, schema) in all {
        components = components.schema(name, schema);
    }
    let info = InfoBuilder::new()
        .title("Tollgate")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Sign-in with emailed codes, Stripe Checkout and the customer portal, the Stripe webhook, \
             and entitlements (flags, capped records, quotas, credits) from `catalog.toml`. Every error \
             is `{\"error\":{\"code\",\"message\",...}}`.",
        ))
        .build();
    OpenApiBuilder::new().info(info).paths(paths.build()).components(Some(components.build())).build()
}

/// The document as committed (`openapi.json`): pretty JSON with a final newline.
pub fn json() -> Result<String, serde_json::Error> {
    Ok(document().to_pretty_json()? + "\n")
}
